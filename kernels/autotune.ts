// The autotuner: times each kernel family's candidate variants on the adapter at hand, once per
// shape class, and keeps the winners in the runtime's TuningCache, keyed by adapter name. In
// Node that is a JSON file (autotune_file.ts); elsewhere (a page) winners stay in memory for the
// runtime's life, and until something tunes, every launch takes its family's default rule.

import type { Gpu } from './gpu.js';
import {
  matmulCandidates, matmulWithVariant, parseVariantKey, variantKey,
  type MatmulShape, type MatmulVariant,
} from './matmul.js';

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

// ---------------------------------------------------------------------------------------------
// matmul

/** Shapes bucketed by M, N and K: 1-8 (decode), 9-64, 65-512, larger. */
export function matmulShapeClass(s: MatmulShape): string {
  const bucket = (x: number) => (x <= 8 ? 'xs' : x <= 64 ? 's' : x <= 512 ? 'm' : 'l');
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
  log(`wrote ${gpu.tuning.save(gpu.adapterName, 'matmul', winners)}`);
  return winners;
}

/** Best-of-3 wall time of each variant on one shape (after a warm-up that also compiles it). */
export async function timeMatmulVariants(gpu: Gpu, s: MatmulShape, variants: MatmulVariant[]): Promise<{ variant: MatmulVariant; ms: number }[]> {
  const elems = [s.batch * s.M * s.K, s.batch * s.K * s.N, s.batch * s.M * s.N];
  const [a, b, c] = elems.map((n) => {
    const buf = gpu.pool.acquire(Math.max(4, n * 4));
    gpu.write(buf, new Float32Array(n).fill(0.5));
    return buf;
  });
  const results: { variant: MatmulVariant; ms: number }[] = [];
  // repeat small shapes so each timing covers a few milliseconds of work
  const reps = Math.max(1, Math.min(64, Math.ceil(5e7 / (s.batch * s.M * s.N * s.K))));
  for (const variant of variants) {
    const run = () => {
      for (let r = 0; r < reps; r++) matmulWithVariant(gpu, variant, a, b, c, s);
    };
    run();
    await gpu.sync();
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      run();
      await gpu.sync();
      best = Math.min(best, (performance.now() - t0) / reps);
    }
    results.push({ variant, ms: best });
  }
  for (const buf of [a, b, c]) gpu.pool.release(buf);
  return results;
}
