// Fused attention (kernels/attention.ts) on the adapter at hand: forward, forward+backward and
// one-query decode against a KV cache, beside the composed version (QKᵀ matmul, softmax, PV
// matmul, and their backward) built from kernels/matmul.ts and kernels/softmax.ts.
// GFLOP/s use the standard count 4·B·H·T·S·D for the forward (halved when causal) and 3.5 times
// that for forward+backward (the backward's five products against the forward's two). The
// composed version computes every score, so it is timed without the causal mask.
import { attentionBackwardGpu, attentionGpu, type AttentionShape } from '../kernels/attention.js';
import type { Gpu } from '../kernels/gpu.js';
import { matmulGpu } from '../kernels/matmul.js';
import { softmaxBackwardGpu, softmaxGpu } from '../kernels/softmax.js';
import { medianMs, type BenchRecord } from './record.js';

const T = 256;
const D = 64;

export async function benchAttention(gpu: Gpu): Promise<BenchRecord[]> {
  const records: BenchRecord[] = [];
  for (const B of [1, 4]) {
    for (const H of [4, 8]) {
      for (const causal of [false, true]) {
        const s: AttentionShape = { B, T, S: T, H, Hkv: H, D, scale: 1 / Math.sqrt(D), causal };
        records.push(...(await benchFused(gpu, s)));
      }
      records.push(...(await benchComposed(gpu, { B, T, S: T, H, Hkv: H, D, scale: 1 / Math.sqrt(D), causal: false })));
    }
  }
  for (const B of [1, 4]) {
    for (const S of [256, 2048]) {
      records.push(await benchDecode(gpu, { B, T: 1, S, H: 8, Hkv: 2, D, scale: 1 / Math.sqrt(D), causal: true, kvCapacity: 4096 }));
    }
  }
  return records;
}

function forwardFlops(s: AttentionShape): number {
  return (4 * s.B * s.H * s.T * s.S * s.D) / (s.causal ? 2 : 1);
}

function label(s: AttentionShape): string {
  const cache = s.kvCapacity ? ` cap${s.kvCapacity}` : '';
  return `B${s.B} T${s.T} S${s.S} H${s.H}/${s.Hkv} D${s.D}${cache}${s.causal ? ' causal' : ''}`;
}

function record(gpu: Gpu, name: string, s: AttentionShape, ms: number, flops: number): BenchRecord {
  return { name, shape: label(s), backend: 'webgpu', adapter: gpu.adapterName, ms_median: ms, gflops: flops / (ms * 1e6) };
}

/** Buffers of the given float counts, filled with small varied values (read as i32, zeros: valid targets). */
export function buffers(gpu: Gpu, counts: number[]): GPUBuffer[] {
  return counts.map((n) => {
    const b = gpu.pool.acquire(Math.max(4, n) * 4);
    gpu.write(b, Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 0.5));
    return b;
  });
}

export function release(gpu: Gpu, list: GPUBuffer[]): void {
  for (const b of list) gpu.pool.release(b);
}

async function benchFused(gpu: Gpu, s: AttentionShape): Promise<BenchRecord[]> {
  const nq = s.B * s.T * s.H * s.D;
  const nkv = s.B * s.S * s.Hkv * s.D;
  const all = buffers(gpu, [nq, nkv, nkv, nq, s.B * s.H * s.T, nq, nq, nkv, nkv]);
  const [q, k, v, out, lse, gOut, gq, gk, gv] = all;
  const forward = () => attentionGpu(gpu, q, k, v, null, out, lse, s);
  const fwdMs = await medianMs(forward, () => gpu.sync());
  const bothMs = await medianMs(() => {
    forward();
    attentionBackwardGpu(gpu, q, k, v, null, out, lse, gOut, gq, gk, gv, s);
  }, () => gpu.sync());
  release(gpu, all);
  return [
    record(gpu, 'attention fwd', s, fwdMs, forwardFlops(s)),
    record(gpu, 'attention fwd+bwd', s, bothMs, 3.5 * forwardFlops(s)),
  ];
}

async function benchDecode(gpu: Gpu, s: AttentionShape): Promise<BenchRecord> {
  const cap = s.kvCapacity ?? s.S;
  const nq = s.B * s.T * s.H * s.D;
  const all = buffers(gpu, [nq, s.B * cap * s.Hkv * s.D, s.B * cap * s.Hkv * s.D, nq, s.B * s.H * s.T]);
  const [q, k, v, out, lse] = all;
  const ms = await medianMs(() => attentionGpu(gpu, q, k, v, null, out, lse, s), () => gpu.sync(), { repeats: 9 });
  release(gpu, all);
  return record(gpu, 'attention decode', s, ms, forwardFlops({ ...s, causal: false }));
}

/** QKᵀ → softmax → PV per head, on head-major [B·H, T, D] operands (the layout the products need). */
async function benchComposed(gpu: Gpu, s: AttentionShape): Promise<BenchRecord[]> {
  const heads = s.B * s.H;
  const [nq, nkv, ns] = [heads * s.T * s.D, heads * s.S * s.D, heads * s.T * s.S];
  const all = buffers(gpu, [nq, nkv, nkv, ns, ns, nq, nq, ns, ns, nq, nkv, nkv]);
  const [q, k, v, scores, probs, out, gOut, gProbs, gScores, gq, gk, gv] = all;
  const product = (M: number, N: number, K: number, a: number, b: number, transA: boolean, transB: boolean, alpha = 1) => ({
    batch: heads, M, N, K, transA, transB, aBatchStride: a, bBatchStride: b, alpha,
  });
  const [TD, SD, TS] = [s.T * s.D, s.S * s.D, s.T * s.S];
  const forward = () => {
    matmulGpu(gpu, q, k, scores, product(s.T, s.S, s.D, TD, SD, false, true, s.scale));
    softmaxGpu(gpu, scores, probs, heads * s.T, s.S, false);
    matmulGpu(gpu, probs, v, out, product(s.T, s.D, s.S, TS, SD, false, false));
  };
  const backward = () => {
    matmulGpu(gpu, gOut, v, gProbs, product(s.T, s.S, s.D, TD, SD, false, true));
    softmaxBackwardGpu(gpu, probs, gProbs, gScores, heads * s.T, s.S, false);
    matmulGpu(gpu, gScores, k, gq, product(s.T, s.D, s.S, TS, SD, false, false, s.scale));
    matmulGpu(gpu, gScores, q, gk, product(s.S, s.D, s.T, TS, TD, true, false, s.scale));
    matmulGpu(gpu, probs, gOut, gv, product(s.S, s.D, s.T, TS, TD, true, false));
  };
  const fwdMs = await medianMs(forward, () => gpu.sync());
  const bothMs = await medianMs(() => {
    forward();
    backward();
  }, () => gpu.sync());
  release(gpu, all);
  return [
    record(gpu, 'attention composed fwd', s, fwdMs, forwardFlops(s)),
    record(gpu, 'attention composed fwd+bwd', s, bothMs, 3.5 * forwardFlops(s)),
  ];
}
