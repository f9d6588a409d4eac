// Incremental decoding state for a batch: the KV cache, the key mask of every cached position
// (left padding and finished rows are 0), and each row's next position id. One step feeds
// token ids or input embeddings for some positions and returns the last position's logits
// (on the host) and hidden state (on the device).

import * as E from '../../engine/index.js';
import { KvCache } from './kv_cache.js';
import type { Llama } from './model.js';

export interface DecodeStep {
  /** [B, V] logits of the last fed position, on the host */
  logits: Float32Array | Float64Array;
  /** [B, 1, d] final normed hidden state of the last fed position (caller disposes) */
  hidden: E.Tensor;
}

export class Decoder {
  private readonly mask: Float32Array;
  private readonly nextPos: number[];
  private readonly cache: KvCache;

  constructor(
    readonly model: Llama,
    readonly batch: number,
    readonly capacity: number,
  ) {
    const c = model.config;
    this.mask = new Float32Array(batch * capacity);
    this.nextPos = new Array<number>(batch).fill(0);
    this.cache = new KvCache(model.engine, c.numHiddenLayers, batch, capacity, c.numKeyValueHeads, c.headDim);
  }

  get length(): number {
    return this.cache.length;
  }

  /** Feeds left-padded prompts (all rows the same length). */
  async prompt(prompts: number[][], padId: number, wantLogits = true): Promise<DecodeStep> {
    const L = Math.max(...prompts.map((p) => p.length));
    const ids = prompts.flatMap((p) => [...new Array<number>(L - p.length).fill(padId), ...p]);
    const real = prompts.map((p) => Array.from({ length: L }, (_, t) => t >= L - p.length));
    return this.feed({ ids }, L, real, wantLogits);
  }

  /** Feeds one token per row; rows with active[b] false are masked out and keep their position. */
  async tokens(ids: number[], active: boolean[], wantLogits = true): Promise<DecodeStep> {
    return this.feed({ ids }, 1, active.map((a) => [a]), wantLogits);
  }

  /** Feeds one input embedding [B, 1, d] per row, masked like tokens(). */
  async embeds(embeds: E.Tensor, active: boolean[], wantLogits = true): Promise<DecodeStep> {
    return this.feed({ embeds }, 1, active.map((a) => [a]), wantLogits);
  }

  private async feed(input: { ids?: number[]; embeds?: E.Tensor }, T: number, real: boolean[][], wantLogits: boolean): Promise<DecodeStep> {
    const B = this.batch;
    const start = this.cache.length;
    if (start + T > this.capacity) throw new Error(`decoder: ${start} + ${T} positions exceed the capacity ${this.capacity}`);
    const positions: number[] = [];
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        this.mask[b * this.capacity + start + t] = real[b][t] ? 1 : 0;
        // masked positions do not advance the position counter (the method's cumsum rule)
        positions.push(real[b][t] ? this.nextPos[b]++ : Math.max(0, this.nextPos[b] - 1));
      }
    }
    const S = start + T;
    const e = this.model.engine;
    const { logits, hidden } = E.noGrad(() =>
      e.scope(() => {
        const out = this.model.forward({
          ids: input.ids ? e.tensor(input.ids, [B, T], 'i32') : undefined,
          embeds: input.embeds,
          positions: e.tensor(positions, [B, T], 'i32'),
          keyMask: e.tensor(firstColumns(this.mask, B, this.capacity, S), [B, S]),
          cache: this.cache,
          logitsFor: wantLogits ? 'last' : 'none',
        });
        return { logits: out.logits, hidden: E.slice(out.hidden, 1, T - 1, T) };
      }),
    );
    const host = logits ? await logits.data() : new Float32Array(0);
    logits?.dispose();
    return { logits: host as Float32Array | Float64Array, hidden };
  }

  dispose(): void {
    this.cache.dispose();
  }
}

/** The first `cols` columns of a [rows, stride] matrix. */
function firstColumns(m: Float32Array, rows: number, stride: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) out.set(m.subarray(r * stride, r * stride + cols), r * cols);
  return out;
}
