// The CPU backend: the kernels' CPU references over float64 memory. It is the reference every
// WGSL kernel is tested against, the place gradients are checked by finite differences, and
// the fallback when no WebGPU adapter exists.

import { adamwCpu, clipScaleCpu, type AdamWHyper } from '../kernels/adamw.js';
import { attentionBackwardCpu, attentionCpu, type AttentionShape } from '../kernels/attention.js';
import { crossEntropyBackwardCpu, crossEntropyCpu } from '../kernels/cross_entropy.js';
import { binaryCpu, unaryCpu, whereCpu, type BinaryOp, type UnaryOp } from '../kernels/elementwise.js';
import { gatherRowsCpu, scatterAddRowsCpu } from '../kernels/gather.js';
import { copyRangeCpu, permuteCpu } from '../kernels/layout.js';
import { linearShape, matmulCpu, type MatmulShape } from '../kernels/matmul.js';
import { layerNormBackwardCpu, layerNormCpu, rmsNormBackwardCpu, rmsNormCpu } from '../kernels/norm.js';
import { multinomialCpu, randomNormalCpu, randomUniformCpu } from '../kernels/random.js';
import { argmaxCpu, reduceCpu, type ReduceOp } from '../kernels/reduce.js';
import { ropeCpu } from '../kernels/rope.js';
import { softmaxBackwardCpu, softmaxCpu } from '../kernels/softmax.js';
import type { Backend, DType, HostData, TensorRef } from './backend.js';
import { bf16BitsToF32 } from './bf16.js';
import { Storage } from './storage.js';

/** bf16 tensors keep their bit patterns (Uint16Array), widened per op where a kernel reads them. */
type CpuArray = Float64Array | Int32Array | Uint16Array;

class CpuStorage extends Storage {
  constructor(public data: CpuArray | null) {
    super();
  }
  protected free(): void {
    this.data = null;
  }
}

function alloc(size: number, dtype: DType): CpuStorage {
  return new CpuStorage(dtype === 'i32' ? new Int32Array(size) : dtype === 'bf16' ? new Uint16Array(size) : new Float64Array(size));
}

function f(t: TensorRef): Float64Array {
  return (t.storage as CpuStorage).data as Float64Array;
}

/** A weight operand's values: f32 as stored, bf16 widened for the op (exact). */
function weight(t: TensorRef): Float64Array {
  if (t.dtype !== 'bf16') return f(t);
  return Float64Array.from(bf16BitsToF32((t.storage as CpuStorage).data!.subarray(0, t.size)));
}

function i(t: TensorRef): Int32Array {
  return (t.storage as CpuStorage).data as Int32Array;
}

function out(s: Storage): Float64Array {
  return (s as CpuStorage).data as Float64Array;
}

export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;
  readonly deviceName = 'cpu (float64 reference)';

  fromData(data: ArrayLike<number>, dtype: DType): Storage {
    const s = alloc(data.length, dtype);
    (s.data as CpuArray).set(data);
    return s;
  }

  empty(size: number, dtype: DType): Storage {
    return alloc(size, dtype);
  }

  filled(size: number, dtype: DType, value: number): Storage {
    if (dtype === 'bf16') throw new Error('filled: bf16 tensors hold loaded weights only');
    const s = alloc(size, dtype);
    s.data!.fill(value);
    return s;
  }

  async read(t: TensorRef): Promise<HostData> {
    return this.readSync(t);
  }

  /** The CPU backend never has pending work, so it can read without waiting. */
  readSync(t: TensorRef): HostData {
    if (t.dtype === 'bf16') return weight(t);
    return ((t.storage as CpuStorage).data as Float64Array | Int32Array).slice(0, t.size);
  }

  async sync(): Promise<void> {}

  unary(op: UnaryOp, x: TensorRef, alpha: number): Storage {
    const s = alloc(x.size, 'f32');
    unaryCpu(op, f(x), out(s), x.size, alpha);
    return s;
  }

  binary(op: BinaryOp, a: TensorRef, b: TensorRef, outShape: readonly number[]): Storage {
    const s = alloc(size(outShape), 'f32');
    binaryCpu(op, f(a), [...a.shape], f(b), [...b.shape], out(s), [...outShape]);
    return s;
  }

  where(cond: TensorRef, a: TensorRef, b: TensorRef, outShape: readonly number[]): Storage {
    const s = alloc(size(outShape), 'f32');
    whereCpu(f(cond), [...cond.shape], f(a), [...a.shape], f(b), [...b.shape], out(s), [...outShape]);
    return s;
  }

  cast(x: TensorRef, to: DType): Storage {
    const s = alloc(x.size, to);
    if (x.dtype === 'bf16' || to === 'bf16') {
      if (to !== 'f32') throw new Error(`cast: ${x.dtype} to ${to} is not supported (bf16 only widens to f32)`);
      s.data!.set(weight(x));
      return s;
    }
    const src = (x.storage as CpuStorage).data!;
    if (to === 'i32') for (let k = 0; k < x.size; k++) s.data![k] = Math.trunc(src[k]);
    else s.data!.set(src.subarray(0, x.size));
    return s;
  }

  reduce(op: ReduceOp, x: TensorRef, outer: number, n: number, inner: number): Storage {
    const s = alloc(outer * inner, 'f32');
    reduceCpu(op, f(x), out(s), outer, n, inner);
    return s;
  }

  argmax(x: TensorRef, rows: number, n: number): Storage {
    const s = alloc(rows, 'i32');
    argmaxCpu(f(x), s.data as Int32Array, rows, n);
    return s;
  }

  permute(x: TensorRef, perm: readonly number[]): Storage {
    const s = alloc(x.size, x.dtype);
    permuteCpu((x.storage as CpuStorage).data!, [...x.shape], [...perm], s.data!);
    return s;
  }

  copyRange(src: TensorRef, dst: Storage, outer: number, srcN: number, dstN: number, inner: number, srcStart: number, dstStart: number, len: number): void {
    copyRangeCpu((src.storage as CpuStorage).data!, (dst as CpuStorage).data!, outer, srcN, dstN, inner, srcStart, dstStart, len);
  }

  gatherRows(table: TensorRef, ids: TensorRef): Storage {
    const [nRows, rowLen] = table.shape;
    const s = alloc(ids.size * rowLen, 'f32');
    gatherRowsCpu(weight(table), i(ids), out(s), ids.size, rowLen, nRows);
    return s;
  }

  scatterAddRows(grad: TensorRef, ids: TensorRef, dTable: Storage, nRows: number): void {
    scatterAddRowsCpu(f(grad), i(ids), out(dTable), ids.size, grad.size / Math.max(1, ids.size), nRows);
  }

  matmul(a: TensorRef, b: TensorRef, s: MatmulShape, into?: Storage): Storage {
    const c = into ?? alloc(s.batch * s.M * s.N, 'f32');
    matmulCpu(f(a), weight(b), out(c), { ...s, accumulate: into !== undefined });
    return c;
  }

  loraProjection(x: TensorRef, w: TensorRef, a: TensorRef, M: number, K: number, N: number, r: number): { y: Storage; u: Storage } {
    const [y, u] = [alloc(M * N, 'f32'), alloc(M * r, 'f32')];
    for (const [b, c, n] of [[w, y, N], [a, u, r]] as const) {
      matmulCpu(f(x), weight(b), out(c), linearShape(M, K, n));
    }
    return { y, u };
  }

  softmax(x: TensorRef, rows: number, n: number, log: boolean): Storage {
    const s = alloc(x.size, 'f32');
    softmaxCpu(f(x), out(s), rows, n, log);
    return s;
  }

  softmaxBackward(y: TensorRef, gy: TensorRef, rows: number, n: number, log: boolean): Storage {
    const s = alloc(y.size, 'f32');
    softmaxBackwardCpu(f(y), f(gy), out(s), rows, n, log);
    return s;
  }

  rmsNorm(x: TensorRef, weight: TensorRef, rows: number, dim: number, eps: number) {
    const o = alloc(x.size, 'f32');
    const rstd = alloc(rows, 'f32');
    rmsNormCpu(f(x), f(weight), out(o), out(rstd), rows, dim, eps);
    return { out: o as Storage, rstd: rstd as Storage };
  }

  rmsNormBackward(x: TensorRef, weight: TensorRef, rstd: TensorRef, gy: TensorRef, rows: number, dim: number, weightGrad: boolean) {
    const gx = alloc(x.size, 'f32');
    const gw = weightGrad ? alloc(dim, 'f32') : null;
    rmsNormBackwardCpu(f(x), f(weight), f(rstd), f(gy), out(gx), gw ? out(gw) : null, rows, dim);
    return { gx: gx as Storage, gw: gw as Storage | null };
  }

  layerNorm(x: TensorRef, weight: TensorRef, bias: TensorRef, rows: number, dim: number, eps: number) {
    const o = alloc(x.size, 'f32');
    const mean = alloc(rows, 'f32');
    const rstd = alloc(rows, 'f32');
    layerNormCpu(f(x), f(weight), f(bias), out(o), out(mean), out(rstd), rows, dim, eps);
    return { out: o as Storage, mean: mean as Storage, rstd: rstd as Storage };
  }

  layerNormBackward(x: TensorRef, weight: TensorRef, mean: TensorRef, rstd: TensorRef, gy: TensorRef, rows: number, dim: number, paramGrads: boolean) {
    const gx = alloc(x.size, 'f32');
    const gw = paramGrads ? alloc(dim, 'f32') : null;
    const gb = paramGrads ? alloc(dim, 'f32') : null;
    layerNormBackwardCpu(f(x), f(weight), f(mean), f(rstd), f(gy), out(gx), gw ? out(gw) : null, gb ? out(gb) : null, rows, dim);
    return { gx: gx as Storage, gw: gw as Storage | null, gb: gb as Storage | null };
  }

  rope(x: TensorRef, positions: TensorRef, invFreq: TensorRef, B: number, T: number, H: number, D: number, inverse: boolean): Storage {
    const s = alloc(x.size, 'f32');
    ropeCpu(f(x), i(positions), f(invFreq), out(s), B, T, H, D, inverse);
    return s;
  }

  attention(q: TensorRef, k: TensorRef, v: TensorRef, keyMask: TensorRef | null, s: AttentionShape) {
    const o = alloc(q.size, 'f32');
    const lse = alloc(s.B * s.H * s.T, 'f32');
    attentionCpu(f(q), f(k), f(v), keyMask ? f(keyMask) : null, out(o), out(lse), s);
    return { out: o as Storage, lse: lse as Storage };
  }

  attentionBackward(q: TensorRef, k: TensorRef, v: TensorRef, keyMask: TensorRef | null, o: TensorRef, lse: TensorRef, gOut: TensorRef, s: AttentionShape) {
    const gq = alloc(q.size, 'f32');
    const gk = alloc(k.size, 'f32');
    const gv = alloc(v.size, 'f32');
    attentionBackwardCpu(f(q), f(k), f(v), keyMask ? f(keyMask) : null, f(o), f(lse), f(gOut), out(gq), out(gk), out(gv), s);
    return { gq: gq as Storage, gk: gk as Storage, gv: gv as Storage };
  }

  crossEntropy(logits: TensorRef, targets: TensorRef, N: number, V: number, ignoreIndex: number) {
    const loss = alloc(N, 'f32');
    const lse = alloc(N, 'f32');
    crossEntropyCpu(f(logits), i(targets), out(loss), out(lse), N, V, ignoreIndex);
    return { loss: loss as Storage, lse: lse as Storage };
  }

  crossEntropyBackward(logits: TensorRef, targets: TensorRef, lse: TensorRef, gLoss: TensorRef, N: number, V: number, ignoreIndex: number): Storage {
    const g = alloc(N * V, 'f32');
    crossEntropyBackwardCpu(f(logits), i(targets), f(lse), f(gLoss), out(g), N, V, ignoreIndex);
    return g;
  }

  adamw(param: TensorRef, grad: TensorRef, m: TensorRef, v: TensorRef, h: AdamWHyper, gradScale: TensorRef | null): void {
    adamwCpu(f(param), f(grad), f(m), f(v), param.size, h, gradScale ? f(gradScale)[0] : 1);
  }

  clipScale(sumSquares: TensorRef, maxNorm: number): Storage {
    const ss = f(sumSquares)[0];
    return this.fromData([clipScaleCpu(ss, maxNorm), Math.sqrt(ss)], 'f32');
  }

  randomUniform(n: number, seed: number, offset: number): Storage {
    const s = alloc(n, 'f32');
    randomUniformCpu(out(s), n, seed, offset);
    return s;
  }

  randomNormal(n: number, seed: number, offset: number, mean: number, std: number): Storage {
    const s = alloc(n, 'f32');
    randomNormalCpu(out(s), n, seed, offset, mean, std);
    return s;
  }

  multinomial(weights: TensorRef, rows: number, n: number, seed: number, offset: number): Storage {
    const s = alloc(rows, 'i32');
    multinomialCpu(f(weights), s.data as Int32Array, rows, n, seed, offset);
    return s;
  }
}

function size(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}
