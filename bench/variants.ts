// Each kernel family written twice (kernels/variants.ts), both variants on the same shapes on
// the adapter at hand: cross-entropy over Llama-3's vocabulary with few and many rows (GB/s of
// logits read), and attention forward and forward+backward at the bench's training shapes
// (GFLOP/s counted as in bench/attention.ts). The records name the variant the adapter's rule
// picks ("default").
import { attentionBackwardGpu, attentionGpu, attentionVariant, type AttentionShape, type AttentionVariant } from '../kernels/attention.js';
import { crossEntropyGpu, crossEntropyVariant, type CrossEntropyVariant } from '../kernels/cross_entropy.js';
import type { Gpu } from '../kernels/gpu.js';
import { KERNEL_VARIANTS } from '../kernels/variants.js';
import { buffers, release } from './attention.js';
import { medianMs, type BenchRecord } from './record.js';

const VOCAB = 128_256;

export async function benchVariants(gpu: Gpu): Promise<BenchRecord[]> {
  const records: BenchRecord[] = [];
  for (const N of [1, 4, 16, 128]) {
    for (const variant of KERNEL_VARIANTS['cross-entropy']) records.push(await benchCrossEntropy(gpu, N, variant));
  }
  for (const B of [1, 4]) {
    for (const causal of [false, true]) {
      const s: AttentionShape = { B, T: 256, S: 256, H: 8, Hkv: 2, D: 64, scale: 1 / 8, causal };
      for (const variant of KERNEL_VARIANTS.attention) records.push(...(await benchAttention(gpu, s, variant)));
    }
  }
  return records;
}

async function benchCrossEntropy(gpu: Gpu, N: number, variant: CrossEntropyVariant): Promise<BenchRecord> {
  const all = buffers(gpu, [N * VOCAB, N, N, N]);
  const [logits, loss, lse] = [all[0], all[2], all[3]];
  const targets = gpu.pool.acquire(N * 4);
  gpu.write(targets, new Int32Array(N));
  const ms = await medianMs(() => crossEntropyGpu(gpu, logits, targets, loss, lse, N, VOCAB, -100, undefined, variant), () => gpu.sync());
  release(gpu, [...all, targets]);
  const name = `cross_entropy fwd ${variant}${variant === crossEntropyVariant(gpu, N, VOCAB) ? ' (default)' : ''}`;
  return { name, shape: `${N}x${VOCAB}`, backend: 'webgpu', adapter: gpu.adapterName, ms_median: ms, gbps: (N * VOCAB * 4) / (ms * 1e6) };
}

async function benchAttention(gpu: Gpu, s: AttentionShape, variant: AttentionVariant): Promise<BenchRecord[]> {
  const nq = s.B * s.T * s.H * s.D;
  const nkv = s.B * s.S * s.Hkv * s.D;
  const all = buffers(gpu, [nq, nkv, nkv, nq, s.B * s.H * s.T, nq, nq, nkv, nkv]);
  const [q, k, v, out, lse, gOut, gq, gk, gv] = all;
  const forward = () => attentionGpu(gpu, q, k, v, null, out, lse, s, variant);
  const fwdMs = await medianMs(forward, () => gpu.sync());
  const bothMs = await medianMs(() => {
    forward();
    attentionBackwardGpu(gpu, q, k, v, null, out, lse, gOut, gq, gk, gv, s, undefined, variant);
  }, () => gpu.sync());
  release(gpu, all);
  const flops = (4 * s.B * s.H * s.T * s.S * s.D) / (s.causal ? 2 : 1);
  const suffix = `${variant}${variant === attentionVariant(gpu, s) ? ' (default)' : ''}`;
  const shape = `B${s.B} T${s.T} S${s.S} H${s.H}/${s.Hkv} D${s.D}${s.causal ? ' causal' : ''}`;
  const record = (name: string, ms: number, f: number): BenchRecord => ({ name, shape, backend: 'webgpu', adapter: gpu.adapterName, ms_median: ms, gflops: f / (ms * 1e6) });
  return [record(`attention fwd ${suffix}`, fwdMs, flops), record(`attention fwd+bwd ${suffix}`, bothMs, 3.5 * flops)];
}
