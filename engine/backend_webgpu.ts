// The WebGPU backend: the WGSL kernels, launched into the runtime's batched command stream.
// Nothing here waits except read() and sync().

import { adamwGpu, clipScaleGpu, type AdamWHyper } from '../kernels/adamw.js';
import { attentionBackwardGpu, attentionGpu, type AttentionShape } from '../kernels/attention.js';
import { crossEntropyBackwardGpu, crossEntropyGpu } from '../kernels/cross_entropy.js';
import { binaryGpu, castGpu, fillGpu, unaryGpu, whereGpu, widenBf16Gpu, type BinaryOp, type UnaryOp } from '../kernels/elementwise.js';
import { bf16BitsToF32 } from './bf16.js';
import { gatherRowsGpu, scatterAddRowsGpu } from '../kernels/gather.js';
import type { Gpu } from '../kernels/gpu.js';
import { copyRangeGpu, permuteGpu } from '../kernels/layout.js';
import { loraProjectionGpu, matmulGpu, type MatmulShape } from '../kernels/matmul.js';
import { layerNormBackwardGpu, layerNormGpu, rmsNormBackwardGpu, rmsNormGpu } from '../kernels/norm.js';
import { multinomialGpu, randomNormalGpu, randomUniformGpu } from '../kernels/random.js';
import { argmaxGpu, reduceGpu, type ReduceOp } from '../kernels/reduce.js';
import { ropeGpu } from '../kernels/rope.js';
import { softmaxBackwardGpu, softmaxGpu } from '../kernels/softmax.js';
import type { Backend, DType, HostData, TensorRef } from './backend.js';
import { Storage } from './storage.js';

class GpuStorage extends Storage {
  constructor(
    private readonly gpu: Gpu,
    readonly buffer: GPUBuffer,
  ) {
    super();
  }
  protected free(): void {
    this.gpu.pool.release(this.buffer);
  }
}

function buf(t: TensorRef | Storage): GPUBuffer {
  return ('storage' in t ? (t.storage as GpuStorage) : (t as GpuStorage)).buffer;
}

export class WebGpuBackend implements Backend {
  readonly name = 'webgpu' as const;

  constructor(readonly gpu: Gpu) {}

  get deviceName(): string {
    return this.gpu.adapterName;
  }

  /** bf16 packs two elements per 4-byte word. */
  private alloc(size: number, dtype: DType = 'f32'): GpuStorage {
    return new GpuStorage(this.gpu, this.gpu.pool.acquire(Math.max(1, words(size, dtype)) * 4));
  }

  fromData(data: ArrayLike<number>, dtype: DType): Storage {
    const s = this.alloc(data.length, dtype);
    if (dtype === 'bf16') {
      // whole words: bit patterns of even length go as they are, without a copy
      const bits = data instanceof Uint16Array && data.length % 2 === 0 ? data : new Uint16Array(2 * words(data.length, dtype));
      if (bits !== data) bits.set(data);
      if (data.length) this.gpu.write(s.buffer, bits);
      return s;
    }
    const typed = dtype === 'i32' ? Int32Array.from(data) : Float32Array.from(data);
    if (typed.length) this.gpu.write(s.buffer, typed);
    return s;
  }

  empty(size: number, dtype: DType): Storage {
    return this.alloc(size, dtype);
  }

  filled(size: number, dtype: DType, value: number): Storage {
    if (dtype === 'bf16') throw new Error('filled: bf16 tensors hold loaded weights only');
    const s = this.alloc(size);
    fillGpu(this.gpu, s.buffer, size, value, dtype);
    return s;
  }

  async read(t: TensorRef): Promise<HostData> {
    if (t.size === 0) return t.dtype === 'i32' ? new Int32Array(0) : new Float32Array(0);
    const bytes = await this.gpu.read(buf(t), 0, words(t.size, t.dtype) * 4);
    if (t.dtype === 'bf16') return bf16BitsToF32(new Uint16Array(bytes, 0, t.size));
    return t.dtype === 'i32' ? new Int32Array(bytes) : new Float32Array(bytes);
  }

  sync(): Promise<void> {
    return this.gpu.sync();
  }

  unary(op: UnaryOp, x: TensorRef, alpha: number): Storage {
    const s = this.alloc(x.size);
    unaryGpu(this.gpu, op, buf(x), s.buffer, x.size, alpha);
    return s;
  }

  binary(op: BinaryOp, a: TensorRef, b: TensorRef, outShape: readonly number[]): Storage {
    const s = this.alloc(size(outShape));
    binaryGpu(this.gpu, op, buf(a), [...a.shape], buf(b), [...b.shape], s.buffer, [...outShape]);
    return s;
  }

  where(cond: TensorRef, a: TensorRef, b: TensorRef, outShape: readonly number[]): Storage {
    const s = this.alloc(size(outShape));
    whereGpu(this.gpu, buf(cond), [...cond.shape], buf(a), [...a.shape], buf(b), [...b.shape], s.buffer, [...outShape]);
    return s;
  }

  cast(x: TensorRef, to: DType): Storage {
    const s = this.alloc(x.size, to);
    if (x.dtype === 'bf16' && to === 'f32') widenBf16Gpu(this.gpu, buf(x), s.buffer, x.size);
    else if (x.dtype === 'bf16' || to === 'bf16') throw new Error(`cast: ${x.dtype} to ${to} is not supported (bf16 only widens to f32)`);
    else castGpu(this.gpu, buf(x), s.buffer, x.size, to);
    return s;
  }

  reduce(op: ReduceOp, x: TensorRef, outer: number, n: number, inner: number): Storage {
    const s = this.alloc(outer * inner);
    reduceGpu(this.gpu, op, buf(x), s.buffer, outer, n, inner);
    return s;
  }

  argmax(x: TensorRef, rows: number, n: number): Storage {
    const s = this.alloc(rows);
    argmaxGpu(this.gpu, buf(x), s.buffer, rows, n);
    return s;
  }

  permute(x: TensorRef, perm: readonly number[]): Storage {
    if (x.dtype === 'bf16') throw new Error("permute: a bf16 weight is not rearranged (matmul reads it either way round); widen it with cast(t, 'f32')");
    const s = this.alloc(x.size);
    permuteGpu(this.gpu, buf(x), [...x.shape], [...perm], s.buffer);
    return s;
  }

  copyRange(src: TensorRef, dst: Storage, outer: number, srcN: number, dstN: number, inner: number, srcStart: number, dstStart: number, len: number): void {
    if (src.dtype === 'bf16') {
      // a whole bf16 tensor (assign): its words; parts of one would split words
      if (outer * srcN * inner !== src.size || srcN !== dstN || srcStart !== 0 || dstStart !== 0 || len !== srcN) throw new Error('copyRange: only whole bf16 tensors are copied');
      this.gpu.copy(buf(src), 0, (dst as GpuStorage).buffer, 0, words(src.size, 'bf16') * 4);
      return;
    }
    copyRangeGpu(this.gpu, buf(src), buf(dst), outer, srcN, dstN, inner, srcStart, dstStart, len);
  }

  gatherRows(table: TensorRef, ids: TensorRef): Storage {
    const [nRows, rowLen] = table.shape;
    const s = this.alloc(ids.size * rowLen);
    gatherRowsGpu(this.gpu, buf(table), buf(ids), s.buffer, ids.size, rowLen, nRows, table.dtype === 'bf16');
    return s;
  }

  scatterAddRows(grad: TensorRef, ids: TensorRef, dTable: Storage, nRows: number): void {
    scatterAddRowsGpu(this.gpu, buf(grad), buf(ids), buf(dTable), ids.size, grad.size / Math.max(1, ids.size), nRows);
  }

  matmul(a: TensorRef, b: TensorRef, s: MatmulShape, into?: Storage): Storage {
    const c = (into as GpuStorage | undefined) ?? this.alloc(s.batch * s.M * s.N);
    matmulGpu(this.gpu, buf(a), buf(b), c.buffer, { ...s, accumulate: into !== undefined, bBf16: b.dtype === 'bf16' });
    return c;
  }

  loraProjection(x: TensorRef, w: TensorRef, a: TensorRef, M: number, K: number, N: number, r: number): { y: Storage; u: Storage } {
    const [y, u] = [this.alloc(M * N), this.alloc(M * r)];
    loraProjectionGpu(this.gpu, buf(x), buf(w), buf(a), y.buffer, u.buffer, M, K, N, r, w.dtype === 'bf16');
    return { y, u };
  }

  softmax(x: TensorRef, rows: number, n: number, log: boolean): Storage {
    const s = this.alloc(x.size);
    softmaxGpu(this.gpu, buf(x), s.buffer, rows, n, log);
    return s;
  }

  softmaxBackward(y: TensorRef, gy: TensorRef, rows: number, n: number, log: boolean): Storage {
    const s = this.alloc(y.size);
    softmaxBackwardGpu(this.gpu, buf(y), buf(gy), s.buffer, rows, n, log);
    return s;
  }

  rmsNorm(x: TensorRef, weight: TensorRef, rows: number, dim: number, eps: number) {
    const out = this.alloc(x.size);
    const rstd = this.alloc(rows);
    rmsNormGpu(this.gpu, buf(x), buf(weight), out.buffer, rstd.buffer, rows, dim, eps);
    return { out: out as Storage, rstd: rstd as Storage };
  }

  rmsNormBackward(x: TensorRef, weight: TensorRef, rstd: TensorRef, gy: TensorRef, rows: number, dim: number, weightGrad: boolean) {
    const gx = this.alloc(x.size);
    const gw = weightGrad ? this.alloc(dim) : null;
    rmsNormBackwardGpu(this.gpu, buf(x), buf(weight), buf(rstd), buf(gy), gx.buffer, gw?.buffer ?? null, rows, dim);
    return { gx: gx as Storage, gw: gw as Storage | null };
  }

  layerNorm(x: TensorRef, weight: TensorRef, bias: TensorRef, rows: number, dim: number, eps: number) {
    const out = this.alloc(x.size);
    const mean = this.alloc(rows);
    const rstd = this.alloc(rows);
    layerNormGpu(this.gpu, buf(x), buf(weight), buf(bias), out.buffer, mean.buffer, rstd.buffer, rows, dim, eps);
    return { out: out as Storage, mean: mean as Storage, rstd: rstd as Storage };
  }

  layerNormBackward(x: TensorRef, weight: TensorRef, mean: TensorRef, rstd: TensorRef, gy: TensorRef, rows: number, dim: number, paramGrads: boolean) {
    const gx = this.alloc(x.size);
    const gw = paramGrads ? this.alloc(dim) : null;
    const gb = paramGrads ? this.alloc(dim) : null;
    layerNormBackwardGpu(this.gpu, buf(x), buf(weight), buf(mean), buf(rstd), buf(gy), gx.buffer, gw?.buffer ?? null, gb?.buffer ?? null, rows, dim);
    return { gx: gx as Storage, gw: gw as Storage | null, gb: gb as Storage | null };
  }

  rope(x: TensorRef, positions: TensorRef, invFreq: TensorRef, B: number, T: number, H: number, D: number, inverse: boolean): Storage {
    const s = this.alloc(x.size);
    ropeGpu(this.gpu, buf(x), buf(positions), buf(invFreq), s.buffer, B, T, H, D, inverse);
    return s;
  }

  attention(q: TensorRef, k: TensorRef, v: TensorRef, keyMask: TensorRef | null, s: AttentionShape) {
    const out = this.alloc(q.size);
    const lse = this.alloc(s.B * s.H * s.T);
    attentionGpu(this.gpu, buf(q), buf(k), buf(v), keyMask ? buf(keyMask) : null, out.buffer, lse.buffer, s);
    return { out: out as Storage, lse: lse as Storage };
  }

  attentionBackward(q: TensorRef, k: TensorRef, v: TensorRef, keyMask: TensorRef | null, o: TensorRef, lse: TensorRef, gOut: TensorRef, s: AttentionShape) {
    const gq = this.alloc(q.size);
    const gk = this.alloc(k.size);
    const gv = this.alloc(v.size);
    attentionBackwardGpu(this.gpu, buf(q), buf(k), buf(v), keyMask ? buf(keyMask) : null, buf(o), buf(lse), buf(gOut), gq.buffer, gk.buffer, gv.buffer, s);
    return { gq: gq as Storage, gk: gk as Storage, gv: gv as Storage };
  }

  crossEntropy(logits: TensorRef, targets: TensorRef, N: number, V: number, ignoreIndex: number) {
    const loss = this.alloc(N);
    const lse = this.alloc(N);
    crossEntropyGpu(this.gpu, buf(logits), buf(targets), loss.buffer, lse.buffer, N, V, ignoreIndex);
    return { loss: loss as Storage, lse: lse as Storage };
  }

  crossEntropyBackward(logits: TensorRef, targets: TensorRef, lse: TensorRef, gLoss: TensorRef, N: number, V: number, ignoreIndex: number): Storage {
    const s = this.alloc(N * V);
    crossEntropyBackwardGpu(this.gpu, buf(logits), buf(targets), buf(lse), buf(gLoss), s.buffer, N, V, ignoreIndex);
    return s;
  }

  adamw(param: TensorRef, grad: TensorRef, m: TensorRef, v: TensorRef, h: AdamWHyper, gradScale: TensorRef | null): void {
    adamwGpu(this.gpu, buf(param), buf(grad), buf(m), buf(v), param.size, h, gradScale ? buf(gradScale) : null);
  }

  clipScale(sumSquares: TensorRef, maxNorm: number): Storage {
    const s = this.alloc(2);
    clipScaleGpu(this.gpu, buf(sumSquares), s.buffer, maxNorm);
    return s;
  }

  randomUniform(n: number, seed: number, offset: number): Storage {
    const s = this.alloc(n);
    randomUniformGpu(this.gpu, s.buffer, n, seed, offset);
    return s;
  }

  randomNormal(n: number, seed: number, offset: number, mean: number, std: number): Storage {
    const s = this.alloc(n);
    randomNormalGpu(this.gpu, s.buffer, n, seed, offset, mean, std);
    return s;
  }

  multinomial(weights: TensorRef, rows: number, n: number, seed: number, offset: number): Storage {
    const s = this.alloc(rows);
    multinomialGpu(this.gpu, buf(weights), s.buffer, rows, n, seed, offset);
    return s;
  }
}

/** 4-byte words holding `size` elements. */
function words(size: number, dtype: DType): number {
  return dtype === 'bf16' ? Math.ceil(size / 2) : size;
}

function size(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}
