// Choosing a kernel variant: each family's rule on lavapipe, COLAR_KERNELS forcing a variant
// into launches that name none, and a malformed setting refused in one line that names it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attentionGpu, attentionVariant, type AttentionShape } from '../../kernels/attention.js';
import { forgetLoadedCache } from '../../kernels/autotune_file.js';
import { crossEntropyCpu, crossEntropyGpu, crossEntropyVariant } from '../../kernels/cross_entropy.js';
import { KERNELS_ENV, forcedVariant } from '../../kernels/variants.js';
import { expectClose } from '../helpers/compare.js';
import { download, nanBuffer, testGpu, upload } from '../helpers/gpu.js';

const saved = { kernels: process.env[KERNELS_ENV], cache: process.env.COLAR_CACHE_DIR };
let cacheDir = '';

beforeEach(() => {
  // no autotune cache, so that the rules decide where nothing is forced
  cacheDir = mkdtempSync(join(tmpdir(), 'colar-variants-'));
  process.env.COLAR_CACHE_DIR = cacheDir;
  forgetLoadedCache();
});

afterEach(() => {
  for (const [name, value] of [[KERNELS_ENV, saved.kernels], ['COLAR_CACHE_DIR', saved.cache]] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  rmSync(cacheDir, { recursive: true, force: true });
  forgetLoadedCache();
});

const prefill: AttentionShape = { B: 1, T: 128, S: 128, H: 8, Hkv: 2, D: 64, scale: 0.125, causal: true };

describe('kernel variants', () => {
  it('keep the lavapipe-shaped kernels on lavapipe unless forced', async () => {
    const gpu = await testGpu();
    delete process.env[KERNELS_ENV];
    expect(gpu.isSoftware).toBe(true);
    expect(crossEntropyVariant(gpu, 16, 128256)).toBe('row');
    expect(attentionVariant(gpu, prefill)).toBe('subgroup');
    process.env[KERNELS_ENV] = ' attention = tile , cross-entropy=split';
    expect(crossEntropyVariant(gpu, 16, 128256)).toBe('split');
    expect(attentionVariant(gpu, prefill)).toBe('tile');
    process.env[KERNELS_ENV] = 'attention=tile';
    expect(crossEntropyVariant(gpu, 16, 128256)).toBe('row');
  });

  it('refuse a malformed COLAR_KERNELS in one line naming it', () => {
    for (const [spec, message] of [
      ['matmul=packed', /^COLAR_KERNELS: "matmul=packed" is not family=variant with a family among cross-entropy, attention$/],
      ['attention', /^COLAR_KERNELS: attention has no variant "" \(subgroup, tile\)$/],
      ['cross-entropy=tile', /^COLAR_KERNELS: cross-entropy has no variant "tile" \(row, split\)$/],
      ['attention=tile=2', /^COLAR_KERNELS: "attention=tile=2" is not family=variant/],
    ] as const) {
      process.env[KERNELS_ENV] = spec;
      expect(() => forcedVariant('attention'), spec).toThrow(message);
    }
  });

  it('reach launches that name no variant (split cross-entropy is two dispatches, the row kernel one)', async () => {
    const gpu = await testGpu();
    const [N, V] = [2, 9000];
    const logits = Float64Array.from({ length: N * V }, (_, i) => Math.fround(Math.sin(i * 0.7) * 8));
    const targets = new Int32Array([5, 8999]);
    const [loss, lse] = [new Float64Array(N), new Float64Array(N)];
    crossEntropyCpu(logits, targets, loss, lse, N, V, -100);
    const [logitsB, targetsB] = [upload(gpu, logits), upload(gpu, targets)];
    for (const [spec, dispatches] of [['cross-entropy=row', 1], ['cross-entropy=split', 2]] as const) {
      process.env[KERNELS_ENV] = spec;
      const [lossB, lseB] = [nanBuffer(gpu, N), nanBuffer(gpu, N)];
      const before = gpu.dispatchCount;
      crossEntropyGpu(gpu, logitsB, targetsB, lossB, lseB, N, V, -100);
      expect(gpu.dispatchCount - before, spec).toBe(dispatches);
      expectClose(await download(gpu, lossB, N), loss, { rtol: 1e-5, atol: 1e-5 }, `${spec} loss`);
      expectClose(await download(gpu, lseB, N), lse, { rtol: 1e-5, atol: 1e-5 }, `${spec} lse`);
      for (const b of [lossB, lseB]) gpu.pool.release(b);
    }
  });

  it('reach attention launches that name no variant (tiles make one dispatch where the subgroup kernel splits the keys)', async () => {
    const gpu = await testGpu();
    // decode with a long cache: the subgroup kernel splits the keys (two dispatches), tiles do not
    const s: AttentionShape = { B: 1, T: 1, S: 1024, H: 4, Hkv: 2, D: 8, scale: 0.3, causal: true };
    const [q, k, v] = [s.T * s.H * s.D, s.S * s.Hkv * s.D, s.S * s.Hkv * s.D].map((n) => upload(gpu, Float32Array.from({ length: n }, (_, i) => Math.cos(i))));
    const [out, lse] = [nanBuffer(gpu, s.T * s.H * s.D), nanBuffer(gpu, s.H)];
    for (const [spec, dispatches] of [['attention=subgroup', 2], ['attention=tile', 1]] as const) {
      process.env[KERNELS_ENV] = spec;
      const before = gpu.dispatchCount;
      attentionGpu(gpu, q, k, v, null, out, lse, s);
      expect(gpu.dispatchCount - before, spec).toBe(dispatches);
    }
    await gpu.sync();
    for (const b of [q, k, v, out, lse]) gpu.pool.release(b);
  });
});
