// The autotuner: times each kernel family's candidate variants on the adapter at hand, once per
// shape class, and keeps the winners in the runtime's TuningCache, keyed by adapter name. In
// Node that is a JSON file (autotune_file.ts); elsewhere (a page) winners stay in memory for the
// runtime's life, and until something tunes, every launch takes its family's default rule.
// Families: matmul (tile shapes), and the lavapipe- or GPU-shaped variants of cross-entropy and
// attention (variants.ts).

import { attentionBackwardGpu, attentionGpu, type AttentionShape } from './attention.js';
import { crossEntropyGpu } from './cross_entropy.js';
import type { Gpu } from './gpu.js';
import {
  matmulCandidates, matmulWithVariant, parseVariantKey, variantKey,
  type MatmulShape, type MatmulVariant,
} from './matmul.js';
import { KERNEL_VARIANTS, type KernelFamily, type VariantOf } from './variants.js';

/** family → shape class → variant key */
export type Winners = Record<string, Record<string, string>>;

/** Where tuned winners live. */
export interface TuningCache {
  /** the adapter's winners ({} when none); read at every launch, so it must be cheap */
  winners(adapter: string): Winners;
  /** records one family's winners for the adapter; returns where they went, for the log */
  save(adapter: string, family: string, winners: Record<string, string>): string;
}

/** Winners kept for the runtime's life only. */
export class MemoryTuningCache implements TuningCache {
  private readonly byAdapter = new Map<string, Winners>();

  winners(adapter: string): Winners {
    return this.byAdapter.get(adapter) ?? {};
  }

  save(adapter: string, family: string, winners: Record<string, string>): string {
    this.byAdapter.set(adapter, { ...this.winners(adapter), [family]: winners });
    return 'memory (no cache file here)';
  }
}

/** Merges a family's winners into this adapter's entry of the cache file. */
function saveWinners(gpu: Gpu, family: string, winners: Record<string, string>, log: (line: string) => void): void {
  log(`wrote ${gpu.tuning.save(gpu.adapterName, family, winners)}`);
}

/** Rows (or query rows per key/value head) bucketed: 1-8 (decode), 9-64, 65-512, larger. */
function bucket(x: number): string {
  return x <= 8 ? 'xs' : x <= 64 ? 's' : x <= 512 ? 'm' : 'l';
}

/** Warm-up (which also compiles), then the best of 3 wall times of each variant's `run`, per run. */
async function timeVariants<V>(gpu: Gpu, variants: readonly V[], run: (v: V) => void, reps = 1): Promise<{ variant: V; ms: number }[]> {
  const results: { variant: V; ms: number }[] = [];
  for (const variant of variants) {
    const runAll = () => {
      for (let r = 0; r < reps; r++) run(variant);
    };
    runAll();
    await gpu.sync();
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      runAll();
      await gpu.sync();
      best = Math.min(best, (performance.now() - t0) / reps);
    }
    results.push({ variant, ms: best });
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// matmul

/** Shapes bucketed by M, N and K. */
export function matmulShapeClass(s: MatmulShape): string {
  return `${bucket(s.M)}.${bucket(s.N)}.${bucket(s.K)}`;
}

/** The cached winner for this adapter and shape class, or null. */
export function tunedMatmulVariant(gpu: Gpu, s: MatmulShape): MatmulVariant | null {
  const key = gpu.tuning.winners(gpu.adapterName).matmul?.[matmulShapeClass(s)];
  return key ? parseVariantKey(key) : null;
}

/** [M, K, N]: one shape per class the engine meets: the bench set, decode rows, small heads. */
export const TUNE_SHAPES: [number, number, number][] = [
  [1024, 1024, 1024], [256, 256, 256], [2048, 96, 288], [2048, 96, 100],
  [512, 2048, 8192], [64, 64, 64], [1, 2048, 2048], [8, 512, 512], [2048, 512, 32], [128, 1024, 96],
];

/** Times every candidate for each tuning shape and saves the fastest per shape class in gpu.tuning; returns the winners. */
export async function tuneMatmul(gpu: Gpu, log: (line: string) => void = () => {}, shapes = TUNE_SHAPES): Promise<Record<string, string>> {
  const winners: Record<string, string> = {};
  for (const [M, K, N] of shapes) {
    const s: MatmulShape = { batch: 1, M, N, K, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
    const results = await timeMatmulVariants(gpu, s, matmulCandidates(gpu, s));
    results.sort((x, y) => x.ms - y.ms);
    const best = results[0];
    winners[matmulShapeClass(s)] = variantKey(best.variant);
    const gflops = (v: { ms: number }) => ((2 * M * N * K) / v.ms / 1e6).toFixed(1);
    log(`matmul ${M}x${K}x${N} [${matmulShapeClass(s)}]: ${variantKey(best.variant)} ${gflops(best)} GFLOP/s` +
      ` (of ${results.map((r) => `${variantKey(r.variant)} ${gflops(r)}`).join(', ')})`);
  }
  saveWinners(gpu, 'matmul', winners, log);
  return winners;
}

/** Best-of-3 wall time of each variant on one shape (after a warm-up that also compiles it). */
export async function timeMatmulVariants(gpu: Gpu, s: MatmulShape, variants: MatmulVariant[]): Promise<{ variant: MatmulVariant; ms: number }[]> {
  const [a, b, c] = filledBuffers(gpu, [s.batch * s.M * s.K, s.batch * s.K * s.N, s.batch * s.M * s.N]);
  // repeat small shapes so each timing covers a few milliseconds of work
  const reps = Math.max(1, Math.min(64, Math.ceil(5e7 / (s.batch * s.M * s.N * s.K))));
  const results = await timeVariants(gpu, variants, (v) => matmulWithVariant(gpu, v, a, b, c, s), reps);
  for (const buf of [a, b, c]) gpu.pool.release(buf);
  return results;
}

/** Pool buffers of the given float counts, each filled with 0.5. */
function filledBuffers(gpu: Gpu, counts: number[]): GPUBuffer[] {
  return counts.map((n) => {
    const buf = gpu.pool.acquire(Math.max(4, n * 4));
    gpu.write(buf, new Float32Array(n).fill(0.5));
    return buf;
  });
}

// ---------------------------------------------------------------------------------------------
// Variant families: cross-entropy and attention

/** The cached winner of a variant family for this adapter and shape class, or null. */
export function tunedVariant<F extends KernelFamily>(gpu: Gpu, family: F, shapeClass: string): VariantOf<F> | null {
  const key = gpu.tuning.winners(gpu.adapterName)[family]?.[shapeClass];
  const variants: readonly string[] = KERNEL_VARIANTS[family];
  return key && variants.includes(key) ? (key as VariantOf<F>) : null;
}

/** Cross-entropy of [N, V] logits, by rows and by a vocabulary of a language model's size or not. */
export function crossEntropyShapeClass(N: number, V: number): string {
  return `${bucket(N)}.${V > 4096 ? 'vocab' : 'narrow'}`;
}

/** Attention by query rows per key/value head (T × group size). */
export function attentionShapeClass(s: AttentionShape): string {
  return bucket(s.T * (s.H / s.Hkv));
}

/** [N, V] per cross-entropy class the engine meets: a 128k vocabulary (Llama-3), and the tiny presets' few classes. */
export const CROSS_ENTROPY_TUNE_SHAPES: [number, number][] = [
  [4, 128256], [48, 128256], [256, 128256], [1024, 128256], [64, 128], [2048, 128],
];

/** Attention per class: decode against a cache, and training shapes (GQA 4:1, D 64, causal). */
export const ATTENTION_TUNE_SHAPES: AttentionShape[] = [
  { B: 4, T: 1, S: 1024, H: 8, Hkv: 2, D: 64, scale: 1 / 8, causal: true },
  { B: 4, T: 16, S: 16, H: 8, Hkv: 2, D: 64, scale: 1 / 8, causal: true },
  { B: 4, T: 128, S: 128, H: 8, Hkv: 2, D: 64, scale: 1 / 8, causal: true },
  { B: 4, T: 256, S: 256, H: 8, Hkv: 2, D: 64, scale: 1 / 8, causal: true },
];

/**
 * Times both variants of cross-entropy (forward) and attention (forward, and backward where
 * T > 1: training runs both) per shape class and caches the faster; returns the winners.
 */
export async function tuneVariants(
  gpu: Gpu, log: (line: string) => void = () => {}, ceShapes = CROSS_ENTROPY_TUNE_SHAPES, attentionShapes = ATTENTION_TUNE_SHAPES,
): Promise<{ 'cross-entropy': Record<string, string>; attention: Record<string, string> }> {
  const report = (family: string, shape: string, shapeClass: string, results: { variant: string; ms: number }[]) => {
    results.sort((x, y) => x.ms - y.ms);
    log(`${family} ${shape} [${shapeClass}]: ${results[0].variant} (of ${results.map((r) => `${r.variant} ${r.ms.toFixed(3)} ms`).join(', ')})`);
    return results[0].variant;
  };
  const ce: Record<string, string> = {};
  for (const [N, V] of ceShapes) {
    const [logits, targets, loss, lse] = filledBuffers(gpu, [N * V, N, N, N]);
    gpu.write(targets, new Int32Array(N));
    const results = await timeVariants(gpu, KERNEL_VARIANTS['cross-entropy'], (v) => crossEntropyGpu(gpu, logits, targets, loss, lse, N, V, -100, undefined, v));
    ce[crossEntropyShapeClass(N, V)] = report('cross-entropy', `${N}x${V}`, crossEntropyShapeClass(N, V), results);
    for (const buf of [logits, targets, loss, lse]) gpu.pool.release(buf);
  }
  saveWinners(gpu, 'cross-entropy', ce, log);
  const attention: Record<string, string> = {};
  for (const s of attentionShapes) {
    const [nq, nkv] = [s.B * s.T * s.H * s.D, s.B * s.S * s.Hkv * s.D];
    const bufs = filledBuffers(gpu, [nq, nkv, nkv, nq, s.B * s.H * s.T, nq, nq, nkv, nkv]);
    const [q, k, v, out, lse, gOut, gq, gk, gv] = bufs;
    const results = await timeVariants(gpu, KERNEL_VARIANTS.attention, (variant) => {
      attentionGpu(gpu, q, k, v, null, out, lse, s, variant);
      if (s.T > 1) attentionBackwardGpu(gpu, q, k, v, null, out, lse, gOut, gq, gk, gv, s, undefined, variant);
    });
    const shape = `B${s.B} T${s.T} S${s.S} H${s.H}/${s.Hkv} D${s.D}`;
    attention[attentionShapeClass(s)] = report('attention', shape, attentionShapeClass(s), results);
    for (const buf of bufs) gpu.pool.release(buf);
  }
  saveWinners(gpu, 'attention', attention, log);
  return { 'cross-entropy': ce, attention };
}
