// What a backend provides: memory, and the primitive kernels the ops are built from. Both
// backends implement it over the same kernel families (kernels/*): `cpu` with the CPU
// references (float64), `webgpu` with the WGSL kernels. Ops validate shapes before calling in.

import type { AdamWHyper } from '../kernels/adamw.js';
import type { AttentionShape } from '../kernels/attention.js';
import type { BinaryOp, UnaryOp } from '../kernels/elementwise.js';
import type { MatmulShape } from '../kernels/matmul.js';
import type { ReduceOp } from '../kernels/reduce.js';
import type { Storage } from './storage.js';

/**
 * 'bf16' holds a frozen 16-bit weight, never widened in memory: fromData takes its bit patterns,
 * read() returns its (exact) f32 values, and only the ops that read weights accept it (matmul's
 * B operand, loraLinear's W, embedding's table, linearCrossEntropy's W; cast widens it).
 */
export type DType = 'f32' | 'i32' | 'bf16';
export type BackendName = 'cpu' | 'webgpu';
export type HostData = Float32Array | Float64Array | Int32Array;

/** A tensor as a backend sees it: memory, shape, dtype. */
export interface TensorRef {
  readonly storage: Storage;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly size: number;
}

export interface Backend {
  readonly name: BackendName;
  /** The device that runs the kernels, in one line. */
  readonly deviceName: string;

  fromData(data: ArrayLike<number>, dtype: DType): Storage;
  /** Uninitialised memory for `size` elements. */
  empty(size: number, dtype: DType): Storage;
  filled(size: number, dtype: DType, value: number): Storage;
  read(t: TensorRef): Promise<HostData>;
  /** Waits for all recorded work (the CPU backend has none pending). */
  sync(): Promise<void>;

  unary(op: UnaryOp, x: TensorRef, alpha: number): Storage;
  binary(op: BinaryOp, a: TensorRef, b: TensorRef, outShape: readonly number[]): Storage;
  where(cond: TensorRef, a: TensorRef, b: TensorRef, outShape: readonly number[]): Storage;
  cast(x: TensorRef, to: DType): Storage;

  reduce(op: ReduceOp, x: TensorRef, outer: number, n: number, inner: number): Storage;
  argmax(x: TensorRef, rows: number, n: number): Storage;

  permute(x: TensorRef, perm: readonly number[]): Storage;
  /** dst[o, dstStart+j, i] = src[o, srcStart+j, i]; dst is [outer, dstN, inner]. */
  copyRange(src: TensorRef, dst: Storage, outer: number, srcN: number, dstN: number, inner: number, srcStart: number, dstStart: number, len: number): void;

  gatherRows(table: TensorRef, ids: TensorRef): Storage;
  scatterAddRows(grad: TensorRef, ids: TensorRef, dTable: Storage, nRows: number): void;

  /** C = alpha·op(A)·op(B), or C += that into `into`. */
  matmul(a: TensorRef, b: TensorRef, s: MatmulShape, into?: Storage): Storage;
  /** A LoRA layer's products of x [M, K]: y = x·Wᵀ (W [N, K]) and u = x·Aᵀ (A [r, K]). */
  loraProjection(x: TensorRef, w: TensorRef, a: TensorRef, M: number, K: number, N: number, r: number): { y: Storage; u: Storage };

  softmax(x: TensorRef, rows: number, n: number, log: boolean): Storage;
  softmaxBackward(y: TensorRef, gy: TensorRef, rows: number, n: number, log: boolean): Storage;

  rmsNorm(x: TensorRef, weight: TensorRef, rows: number, dim: number, eps: number): { out: Storage; rstd: Storage };
  rmsNormBackward(x: TensorRef, weight: TensorRef, rstd: TensorRef, gy: TensorRef, rows: number, dim: number, weightGrad: boolean): { gx: Storage; gw: Storage | null };
  layerNorm(x: TensorRef, weight: TensorRef, bias: TensorRef, rows: number, dim: number, eps: number): { out: Storage; mean: Storage; rstd: Storage };
  layerNormBackward(x: TensorRef, weight: TensorRef, mean: TensorRef, rstd: TensorRef, gy: TensorRef, rows: number, dim: number, paramGrads: boolean): { gx: Storage; gw: Storage | null; gb: Storage | null };

  rope(x: TensorRef, positions: TensorRef, invFreq: TensorRef, B: number, T: number, H: number, D: number, inverse: boolean): Storage;

  attention(q: TensorRef, k: TensorRef, v: TensorRef, keyMask: TensorRef | null, s: AttentionShape): { out: Storage; lse: Storage };
  attentionBackward(q: TensorRef, k: TensorRef, v: TensorRef, keyMask: TensorRef | null, out: TensorRef, lse: TensorRef, gOut: TensorRef, s: AttentionShape): { gq: Storage; gk: Storage; gv: Storage };

  crossEntropy(logits: TensorRef, targets: TensorRef, N: number, V: number, ignoreIndex: number): { loss: Storage; lse: Storage };
  crossEntropyBackward(logits: TensorRef, targets: TensorRef, lse: TensorRef, gLoss: TensorRef, N: number, V: number, ignoreIndex: number): Storage;

  /** Updates param, m, v in place. `gradScale` holds one multiplier for the gradient (clipping). */
  adamw(param: TensorRef, grad: TensorRef, m: TensorRef, v: TensorRef, h: AdamWHyper, gradScale: TensorRef | null): void;
  /** [scale, norm] from a sum of squares: scale = min(1, maxNorm / (norm + 1e-6)). */
  clipScale(sumSquares: TensorRef, maxNorm: number): Storage;

  randomUniform(n: number, seed: number, offset: number): Storage;
  randomNormal(n: number, seed: number, offset: number, mean: number, std: number): Storage;
  multinomial(weights: TensorRef, rows: number, n: number, seed: number, offset: number): Storage;
}
