// The autotuner's cache in Node: one JSON file keyed by adapter name ($COLAR_CACHE_DIR, default
// ~/.cache/colar-wgpu/autotune.json). An unreadable or corrupt cache is ignored with a one-line
// warning, and the family's default rule applies wherever the cache has no entry.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { temporaryPath } from '../io/files.js';
import type { TuningCache, Winners } from './autotune.js';

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

/** Forgets what was read, so the next launch rereads the cache (after tuning, or in tests). */
export function forgetLoadedCache(): void {
  loaded.clear();
}

/** The file cache every Dawn runtime uses. */
export const fileTuningCache: TuningCache = {
  winners(adapter: string): Winners {
    const key = `${cachePath()}\n${adapter}`;
    let w = loaded.get(key);
    if (!w) loaded.set(key, (w = readCache().adapters[adapter] ?? {}));
    return w;
  },
  save(adapter: string, family: string, winners: Record<string, string>): string {
    const cache = readCache();
    cache.adapters[adapter] = { ...cache.adapters[adapter], [family]: winners };
    writeCache(cache);
    forgetLoadedCache();
    return cachePath();
  },
};
