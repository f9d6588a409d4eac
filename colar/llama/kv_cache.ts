// Keys and values of the positions decoded so far, one [B, capacity, Hkv, D] pair per layer,
// so each new token attends to the past without recomputing it.

import * as E from '../../engine/index.js';

export class KvCache {
  length = 0;
  private readonly keys: E.Tensor[];
  private readonly values: E.Tensor[];

  constructor(
    engine: E.Engine,
    layers: number,
    readonly batch: number,
    readonly capacity: number,
    kvHeads: number,
    headDim: number,
  ) {
    const make = () => E.keep(engine.zeros([batch, capacity, kvHeads, headDim]));
    this.keys = Array.from({ length: layers }, make);
    this.values = Array.from({ length: layers }, make);
  }

  /** Writes the new rows k, v [B, T, Hkv, D] after the current length; returns the whole cache. */
  append(layer: number, k: E.Tensor, v: E.Tensor): [E.Tensor, E.Tensor] {
    const T = k.shape[1];
    if (this.length + T > this.capacity) throw new Error(`kv cache: ${this.length} + ${T} positions exceed its capacity ${this.capacity}`);
    const inner = k.shape[2] * k.shape[3];
    for (const [src, dst] of [[k, this.keys[layer]], [v, this.values[layer]]] as const) {
      src.backend.copyRange(src, dst.storage, this.batch, T, this.capacity, inner, 0, this.length, T);
    }
    return [this.keys[layer], this.values[layer]];
  }

  /** Called once per forward, after every layer has appended. */
  advance(T: number): void {
    this.length += T;
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t.dispose();
  }
}
