// A tensor: a shape and dtype over reference-counted backend memory, contiguous row-major.
// Values are computed asynchronously; data() and item() are where the host waits.

import type { Backend, DType, HostData, TensorRef } from './backend.js';
import type { GradNode } from './autograd.js';
import type { Storage } from './storage.js';
import { toBf16Bits } from './bf16.js';
import { track } from './scope.js';

export type Shape = readonly number[];

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

let nextId = 1;

export class Tensor implements TensorRef {
  readonly id = nextId++;
  readonly size: number;
  private trains = false;
  grad: Tensor | null = null;
  /** The op that made this tensor, when a gradient must flow through it. */
  node: GradNode | null = null;
  private storageRef: Storage | null;

  constructor(
    readonly backend: Backend,
    storage: Storage,
    readonly shape: Shape,
    readonly dtype: DType,
    options: { tracked?: boolean } = {},
  ) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`tensor: invalid shape ${formatShape(shape)}`);
    }
    this.size = shapeSize(shape);
    this.storageRef = storage;
    if (options.tracked !== false) track(this);
  }

  /** Set on parameters that train; their gradient accumulates in `grad`. */
  get requiresGrad(): boolean {
    return this.trains;
  }

  set requiresGrad(value: boolean) {
    if (value && this.dtype !== 'f32') throw new Error(`a ${this.dtype} tensor ${formatShape(this.shape)} cannot require grad: only f32 tensors train (16-bit weights are loaded frozen)`);
    this.trains = value;
  }

  get storage(): Storage {
    if (!this.storageRef) throw new Error(`tensor #${this.id} ${formatShape(this.shape)} used after dispose()`);
    return this.storageRef;
  }

  get disposed(): boolean {
    return this.storageRef === null;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Another tensor over the same memory (the memory lives until both are disposed). */
  alias(shape: Shape = this.shape, options: { tracked?: boolean } = {}): Tensor {
    if (shapeSize(shape) !== this.size) throw new Error(`alias: ${formatShape(shape)} does not match ${formatShape(this.shape)}`);
    return new Tensor(this.backend, this.storage.retain(), shape, this.dtype, options);
  }

  /** The values, copied to the host (float32 from WebGPU, float64 from the CPU backend). */
  async data(): Promise<HostData> {
    return this.backend.read(this);
  }

  /** The values as float32 (what safetensors files and the WebGPU backend hold). */
  async float32(): Promise<Float32Array> {
    const d = await this.data();
    return d instanceof Float32Array ? d : Float32Array.from(d);
  }

  async array(): Promise<number[]> {
    return Array.from(await this.data());
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item(): tensor has ${this.size} elements, shape ${formatShape(this.shape)}`);
    return (await this.data())[0];
  }

  /**
   * Replaces the values in place, so every holder of this tensor (or an alias) sees them. A bf16
   * tensor takes them rounded to bf16 (nearest even).
   */
  assign(data: ArrayLike<number>): void {
    if (data.length !== this.size) throw new Error(`assign: ${data.length} values for tensor ${formatShape(this.shape)}`);
    const values = this.dtype === 'bf16' ? toBf16Bits(data) : data;
    const src = new Tensor(this.backend, this.backend.fromData(values, this.dtype), this.shape, this.dtype, { tracked: false });
    this.backend.copyRange(src, this.storage, 1, this.size, this.size, 1, 0, 0, this.size);
    src.dispose();
  }

  dispose(): void {
    if (!this.storageRef) return;
    this.storageRef.release();
    this.storageRef = null;
    this.node?.unref();
    this.node = null;
    this.grad?.dispose();
    this.grad = null;
  }

  toString(): string {
    return `Tensor(${formatShape(this.shape)}, ${this.dtype}, ${this.backend.name})`;
  }
}
