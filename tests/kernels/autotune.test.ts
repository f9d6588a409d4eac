// The autotune cache: winners survive a write/read roundtrip and steer matmulGpu; a corrupt or
// foreign cache is ignored with one warning; tuneMatmul writes a winner per shape class.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { matmulShapeClass, tuneMatmul, tunedMatmulVariant } from '../../kernels/autotune.js';
import { cachePath, forgetLoadedCache, readCache, writeCache } from '../../kernels/autotune_file.js';
import { matmulCpu, matmulGpu, type MatmulShape } from '../../kernels/matmul.js';
import { expectClose } from '../helpers/compare.js';
import { download, testGpu, upload } from '../helpers/gpu.js';

const shape = (M: number, N: number, K: number): MatmulShape => ({
  batch: 1, M, N, K, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0,
});

let dir = '';
const saved = process.env.COLAR_CACHE_DIR;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'colar-tune-'));
  process.env.COLAR_CACHE_DIR = dir;
  forgetLoadedCache();
});

afterEach(() => {
  if (saved === undefined) delete process.env.COLAR_CACHE_DIR;
  else process.env.COLAR_CACHE_DIR = saved;
  rmSync(dir, { recursive: true, force: true });
  forgetLoadedCache();
  vi.restoreAllMocks();
});

/** matmulGpu on small random operands, checked against the CPU reference. */
async function checkMatmulGpu(s: MatmulShape) {
  const gpu = await testGpu();
  const a = Float64Array.from({ length: s.M * s.K }, (_, i) => Math.fround(Math.sin(i)));
  const b = Float64Array.from({ length: s.K * s.N }, (_, i) => Math.fround(Math.cos(i)));
  const expected = new Float64Array(s.M * s.N);
  matmulCpu(a, b, expected, s);
  const [ab, bb, cb] = [a, b, new Float64Array(s.M * s.N)].map((x) => upload(gpu, x));
  matmulGpu(gpu, ab, bb, cb, s);
  expectClose(await download(gpu, cb, s.M * s.N), expected, { rtol: 1e-5, atol: 1e-4 }, 'matmulGpu');
  for (const x of [ab, bb, cb]) gpu.pool.release(x);
}

describe('autotune cache', () => {
  it('lives under COLAR_CACHE_DIR and roundtrips winners that matmulGpu then uses', async () => {
    const gpu = await testGpu();
    expect(cachePath()).toBe(join(dir, 'autotune.json'));
    const s = shape(40, 24, 33);
    writeCache({ version: 1, adapters: { [gpu.adapterName]: { matmul: { [matmulShapeClass(s)]: 'direct-3-2-8-l' } } } });
    expect(readCache().adapters[gpu.adapterName].matmul[matmulShapeClass(s)]).toBe('direct-3-2-8-l');
    expect(tunedMatmulVariant(gpu, s)).toEqual({ kind: 'direct', tm: 3, tn: 2, wg: 8, bcast: false });
    expect(tunedMatmulVariant(gpu, shape(1, 24, 33))).toBeNull(); // another class: the default rule
    await checkMatmulGpu(s);
  });

  it('ignores a corrupt, foreign-format or nonsensical cache with one warning, and matmul still runs', async () => {
    const gpu = await testGpu();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    for (const text of ['{"version": 1, "adap', '{"version": 99, "adapters": {}}', '[1, 2]']) {
      writeFileSync(cachePath(), text);
      forgetLoadedCache();
      expect(tunedMatmulVariant(gpu, shape(40, 24, 33))).toBeNull();
      await checkMatmulGpu(shape(40, 24, 33));
    }
    expect(warn).toHaveBeenCalledTimes(3);
    expect(warn.mock.calls.every(([line]) => typeof line === 'string' && !line.includes('\n'))).toBe(true);
    // an entry that is not a variant key falls back to the default as well
    writeCache({ version: 1, adapters: { [gpu.adapterName]: { matmul: { [matmulShapeClass(shape(40, 24, 33))]: 'nonsense' } } } });
    forgetLoadedCache();
    expect(tunedMatmulVariant(gpu, shape(40, 24, 33))).toBeNull();
  });

  it('tuneMatmul times the candidates and caches a winner per shape class', async () => {
    const gpu = await testGpu();
    const lines: string[] = [];
    await tuneMatmul(gpu, (l) => lines.push(l), [[48, 40, 36], [1, 64, 40]]);
    const written = JSON.parse(readFileSync(cachePath(), 'utf8'));
    const winners = written.adapters[gpu.adapterName].matmul;
    expect(Object.keys(winners).sort()).toEqual([matmulShapeClass(shape(1, 40, 64)), matmulShapeClass(shape(48, 36, 40))].sort());
    expect(tunedMatmulVariant(gpu, shape(48, 36, 40))).not.toBeNull();
    expect(lines.some((l) => l.startsWith('matmul 48x40x36'))).toBe(true);
    await checkMatmulGpu(shape(48, 36, 40));
  });
});
