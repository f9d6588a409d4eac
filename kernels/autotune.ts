// The autotuner: times each kernel family's candidate variants on the adapter at hand, once per
// shape class, and keeps the winners in a JSON cache keyed by adapter name
// ($COLAR_CACHE_DIR, default ~/.cache/colar-wgpu/autotune.json). Launches read the cache; an
// unreadable or corrupt cache is ignored with a one-line warning, and the family's default
// rule applies wherever the cache has no entry.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { temporaryPath } from '../io/files.js';
import type { Gpu } from './gpu.js';
import {
  matmulCandidates, matmulWithVariant, parseVariantKey, variantKey,
  type MatmulShape, type MatmulVariant,
} from './matmul.js';

/** family → shape class → variant key */
type Winners = Record<string, Record<string, string>>;

interface CacheFile {
  version: 1;
  adapters: Record<string, Winners>;
}

const CACHE_VERSION = 1;

export function cachePath(): string {
  return join(process.env.COLAR_CACHE_DIR ?? join(homedir(), '.cache', 'colar-wgpu'), 'autotune.json');
}

/** The cache file's contents, or an empty cache when it is missing, unreadable or corrupt. */
export function readCache(path = cachePath()): CacheFile {
  const empty: CacheFile = { version: CACHE_VERSION, adapters: {} };
  if (!existsSync(path)) return empty;
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as CacheFile;
    if (parsed?.version !== CACHE_VERSION || typeof parsed.adapters !== 'object' || parsed.adapters === null) {
      throw new Error('unexpected format');
    }
    return parsed;
  } catch (e) {
    console.warn(`colar-wgpu: ignoring autotune cache ${path} (${(e as Error).message})`);
    return empty;
  }
}

/** Writes atomically (temp file + rename), so a reader never sees half a file. */
export function writeCache(cache: CacheFile, path = cachePath()): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = temporaryPath(path);
  writeFileSync(tmp, `${JSON.stringify(cache, null, 2)}\n`);
  renameSync(tmp, path);
}

// Winners are read once per (cache file, adapter) per process: launches must not touch the disk.
const loaded = new Map<string, Winners>();

function winnersFor(gpu: Gpu): Winners {
  const key = `${cachePath()}\n${gpu.adapterName}`;
  let w = loaded.get(key);
  if (!w) loaded.set(key, (w = readCache().adapters[gpu.adapterName] ?? {}));
  return w;
}

/** Forgets what was read, so the next launch rereads the cache (after tuning, or in tests). */
export function forgetLoadedCache(): void {
  loaded.clear();
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
  const key = winnersFor(gpu).matmul?.[matmulShapeClass(s)];
  return key ? parseVariantKey(key) : null;
}

/** [M, K, N]: one shape per class the engine meets: the bench set, decode rows, small heads. */
export const TUNE_SHAPES: [number, number, number][] = [
  [1024, 1024, 1024], [256, 256, 256], [2048, 96, 288], [2048, 96, 100],
  [512, 2048, 8192], [64, 64, 64], [1, 2048, 2048], [8, 512, 512], [2048, 512, 32], [128, 1024, 96],
];

/** Times every candidate for each tuning shape and caches the fastest per shape class; returns the winners. */
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
  const cache = readCache();
  cache.adapters[gpu.adapterName] = { ...cache.adapters[gpu.adapterName], matmul: winners };
  writeCache(cache);
  forgetLoadedCache();
  log(`wrote ${cachePath()}`);
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
