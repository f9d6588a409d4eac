// matmul GFLOP/s over square sizes, the model's shapes ([B·T, d]×[d, 3d], a tiny vocabulary head,
// an MLP projection, a decode row) and the transposed forms the backward pass uses. Shapes read
// MxKxN ([M, K]×[K, N]); a suffix names the transposed operands (nt: Bᵀ, tn: Aᵀ, tt: both).
import type { Gpu } from '../kernels/gpu.js';
import { linearShape, loraProjectionGpu, matmulGpu, type MatmulShape } from '../kernels/matmul.js';
import { medianMs, type BenchRecord } from './record.js';

interface MatmulCase {
  M: number;
  K: number;
  N: number;
  flags?: 'nt' | 'tn' | 'tt';
}

export const MATMUL_CASES: MatmulCase[] = [
  { M: 256, K: 256, N: 256 },
  { M: 512, K: 512, N: 512 },
  { M: 1024, K: 1024, N: 1024 },
  { M: 1024, K: 1024, N: 1024, flags: 'nt' },
  { M: 1024, K: 1024, N: 1024, flags: 'tn' },
  { M: 1024, K: 1024, N: 1024, flags: 'tt' },
  { M: 2048, K: 2048, N: 2048 },
  { M: 2048, K: 96, N: 288 },
  { M: 2048, K: 96, N: 288, flags: 'nt' },
  { M: 2048, K: 96, N: 100 },
  { M: 512, K: 2048, N: 8192 },
  { M: 1, K: 2048, N: 2048, flags: 'nt' },
];

export async function benchMatmul(gpu: Gpu, cases = MATMUL_CASES): Promise<BenchRecord[]> {
  const records: BenchRecord[] = [];
  for (const { M, K, N, flags } of cases) {
    const s: MatmulShape = {
      batch: 1, M, N, K, transA: flags?.[0] === 't', transB: flags?.[1] === 't', aBatchStride: 0, bBatchStride: 0,
    };
    const buffers = [M * K, K * N, M * N].map((n) => {
      const b = gpu.pool.acquire(n * 4);
      gpu.write(b, new Float32Array(n).fill(0.5));
      return b;
    });
    const [a, b, c] = buffers;
    const flops = 2 * M * N * K;
    // small products repeat inside one timing so dispatch latency does not dominate
    const reps = Math.max(1, Math.min(32, Math.round(2e8 / flops)));
    const ms = (await medianMs(() => {
      for (let r = 0; r < reps; r++) matmulGpu(gpu, a, b, c, s);
    }, () => gpu.sync(), { warmup: 1, repeats: 3 })) / reps;
    for (const buf of buffers) gpu.pool.release(buf);
    records.push({
      name: 'matmul',
      shape: `${M}x${K}x${N}${flags ? ` ${flags}` : ''}`,
      backend: 'webgpu',
      adapter: gpu.adapterName,
      ms_median: ms,
      gflops: flops / (ms * 1e6),
    });
  }
  return records;
}

/**
 * A LoRA projection y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ at rank r as the model runs it (x·Wᵀ and x·Aᵀ from
 * one packing of x, then s·(x·Aᵀ)·Bᵀ accumulated into y), the same as three separate products,
 * and the base product alone.
 */
export async function benchLora(gpu: Gpu, tokens = 512, d = 2048, rank = 128): Promise<BenchRecord[]> {
  const shape = (M: number, K: number, N: number, accumulate = false, alpha = 1): MatmulShape => ({ ...linearShape(M, K, N, alpha), accumulate });
  const [x, w, a, b, xa, y] = [tokens * d, d * d, rank * d, d * rank, tokens * rank, tokens * d].map((n) => {
    const buffer = gpu.pool.acquire(n * 4);
    gpu.write(buffer, new Float32Array(n).fill(0.01));
    return buffer;
  });
  const base = () => matmulGpu(gpu, x, w, y, shape(tokens, d, d));
  const adapterUp = () => matmulGpu(gpu, xa, b, y, shape(tokens, rank, d, true, 0.25));
  const timing = { warmup: 1, repeats: 3 };
  const sync = () => gpu.sync();
  const plainMs = await medianMs(base, sync, timing);
  const fusedMs = await medianMs(() => {
    loraProjectionGpu(gpu, x, w, a, y, xa, tokens, d, d, rank);
    adapterUp();
  }, sync, timing);
  const composedMs = await medianMs(() => {
    base();
    matmulGpu(gpu, x, a, xa, shape(tokens, d, rank));
    adapterUp();
  }, sync, timing);
  for (const buffer of [x, w, a, b, xa, y]) gpu.pool.release(buffer);
  const flops = 2 * tokens * d * d;
  const record = (name: string, ms: number): BenchRecord => ({
    name, shape: `${tokens}x${d}x${d} rank ${rank}`, backend: 'webgpu', adapter: gpu.adapterName, ms_median: ms, gflops: flops / (ms * 1e6),
  });
  // gflops counts the base product's FLOPs in all three: their ratios are the adapter's cost
  return [record('linear', plainMs), record('linear+lora', fusedMs), record('linear+lora composed', composedMs)];
}
