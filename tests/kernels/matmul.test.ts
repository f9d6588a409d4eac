// matmul (WGSL, every kept variant) against its float64 CPU reference on random shapes: batch
// 1-3, M/N/K from 1 to ~70 (odd sizes included), all transpose flags, shared operands (batch
// stride 0), alpha and accumulate; plus forced tiling (tiny binding/texture caps).
// Tolerance: |gpu - cpu| <= 1e-6·√K · (|alpha|·Σ_k |a||b| + |c0|) per element, i.e. a relative
// error of 1e-6·√K against the magnitude the float32 sum works with (measured worst: 1.6e-7 of
// Σ|a||b|, flat in K up to 2000, for both kernel families).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Gpu } from '../../kernels/gpu.js';
import {
  defaultMatmulVariant, linearShape, loraProjectionGpu, matmulCandidates, matmulCpu, matmulGpu, matmulWithVariant, parseVariantKey, variantKey,
  type MatmulShape, type MatmulVariant, type TilingCaps,
} from '../../kernels/matmul.js';
import { expectClose } from '../helpers/compare.js';
import { bf16BitsToF32, toBf16Bits } from '../../engine/bf16.js';
import { download, testGpu, upload, uploadBf16 } from '../helpers/gpu.js';

/** Every variant the tuner may pick, plus the no-subgroup fallback. */
const VARIANTS: MatmulVariant[] = [
  { kind: 'direct', tm: 4, tn: 2, wg: 8, bcast: true },
  { kind: 'direct', tm: 8, tn: 1, wg: 8, bcast: true },
  { kind: 'direct', tm: 2, tn: 4, wg: 16, bcast: true },
  { kind: 'direct', tm: 3, tn: 2, wg: 8, bcast: false },
  { kind: 'packed', tm: 8, tn4: 1, wg: 8 },
  { kind: 'packed', tm: 16, tn4: 1, wg: 8 },
  { kind: 'packed', tm: 16, tn4: 1, wg: 32 },
  { kind: 'packed', tm: 16, tn4: 2, wg: 8 },
];

function randomFloats(n: number, seed: number): Float64Array {
  let state = seed >>> 0;
  return Float64Array.from({ length: n }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return Math.fround(2 * (state / 2 ** 32) - 1);
  });
}

interface Case extends MatmulShape {
  seed: number;
}

/** An operand as the kernel gets it: f32 values, or (bf16) their bf16 roundings packed in words; the exact values the CPU reference multiplies. */
function operand(gpu: Gpu, values: Float64Array, bf16: boolean): { buffer: GPUBuffer; exact: Float64Array } {
  if (!bf16) return { buffer: upload(gpu, values), exact: values };
  const bits = toBf16Bits(values);
  return { buffer: uploadBf16(gpu, bits), exact: Float64Array.from(bf16BitsToF32(bits)) };
}

async function checkMatmul(gpu: Gpu, v: MatmulVariant | null, s: Case, caps: TilingCaps = {}) {
  const { batch, M, N, K } = s;
  const aLen = Math.max(1, s.aBatchStride ? batch * M * K : M * K);
  const bLen = Math.max(1, s.bBatchStride ? batch * K * N : K * N);
  const a = randomFloats(aLen, s.seed);
  const { buffer: bb, exact: b } = operand(gpu, randomFloats(bLen, s.seed + 1), s.bBf16 ?? false);
  const c0 = randomFloats(batch * M * N, s.seed + 2);
  const expected = Float64Array.from(c0);
  matmulCpu(a, b, expected, s);
  // the per-element scale the float32 sum is held to: |alpha|·Σ|a||b| (+ |c0|)
  const scale = new Float64Array(batch * M * N);
  matmulCpu(a.map(Math.abs), b.map(Math.abs), scale, { ...s, alpha: Math.abs(s.alpha ?? 1), accumulate: false });
  const [ab, cb] = [a, c0].map((x) => upload(gpu, x));
  if (v) matmulWithVariant(gpu, v, ab, bb, cb, s, caps);
  else matmulGpu(gpu, ab, bb, cb, s);
  const got = await download(gpu, cb, batch * M * N);
  const bound = 1e-6 * Math.sqrt(Math.max(1, K));
  const norm = (x: ArrayLike<number>) => Float64Array.from(x, (y, i) => y / (scale[i] + (s.accumulate ? Math.abs(c0[i]) : 0) || 1));
  const label = `${v ? variantKey(v) : 'default'} ${JSON.stringify(s)}`;
  expectClose(norm(got), norm(expected), { rtol: 0, atol: bound }, label);
  for (const x of [ab, bb, cb]) gpu.pool.release(x);
}

const shapes = fc
  .record({
    batch: fc.integer({ min: 1, max: 3 }),
    M: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 10, max: 70 })),
    N: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 10, max: 70 })),
    K: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 10, max: 70 })),
    transA: fc.boolean(),
    transB: fc.boolean(),
    shareA: fc.boolean(),
    shareB: fc.boolean(),
    alpha: fc.constantFrom(1, -0.5, 2.25),
    accumulate: fc.boolean(),
    bBf16: fc.boolean(),
    seed: fc.integer(),
  })
  .map(({ shareA, shareB, ...s }): Case => ({
    ...s,
    aBatchStride: shareA ? 0 : s.M * s.K,
    bBatchStride: shareB ? 0 : s.K * s.N,
  }));

const plain = (M: number, N: number, K: number, extra: Partial<Case> = {}): Case => ({
  batch: 1, M, N, K, transA: false, transB: false, aBatchStride: M * K, bBatchStride: K * N, seed: 5, ...extra,
});

/** loraProjectionGpu's y = x·Wᵀ and u = x·Aᵀ against the CPU; returns whether one fused product ran. */
async function checkLoraProjection(gpu: Gpu, v: MatmulVariant | undefined, M: number, K: number, N: number, r: number, seed: number, wBf16 = false): Promise<boolean> {
  const [x, a] = [M * K, r * K].map((n, i) => randomFloats(n, seed + 2 * i));
  const { buffer: wb, exact: w } = operand(gpu, randomFloats(N * K, seed + 1), wBf16);
  const expect64 = (b: Float64Array, rows: number, abs = false) => {
    const out = new Float64Array(M * rows);
    matmulCpu(abs ? x.map(Math.abs) : x, abs ? b.map(Math.abs) : b, out, linearShape(M, K, rows));
    return out;
  };
  const [xb, ab] = [x, a].map((v) => upload(gpu, v));
  const [yb, ub] = [M * N, M * r].map((n) => gpu.pool.acquire(n * 4));
  const pipeline = gpu.pipeline.bind(gpu);
  let fused = false;
  gpu.pipeline = (name, source) => {
    fused ||= name.endsWith('-split');
    return pipeline(name, source);
  };
  try {
    loraProjectionGpu(gpu, xb, wb, ab, yb, ub, M, K, N, r, wBf16, v);
  } finally {
    gpu.pipeline = pipeline;
  }
  const bound = 1e-6 * Math.sqrt(K);
  for (const [buf, b, rows, name] of [[yb, w, N, 'y'], [ub, a, r, 'u']] as const) {
    const scale = expect64(b, rows, true);
    const norm = (v: ArrayLike<number>) => Float64Array.from(v, (z, i) => z / (scale[i] || 1));
    expectClose(norm(await download(gpu, buf, M * rows)), norm(expect64(b, rows)), { rtol: 0, atol: bound }, `${name} M=${M} K=${K} N=${N} r=${r}`);
  }
  for (const b of [xb, wb, ab, yb, ub]) gpu.pool.release(b);
  return fused;
}

describe('matmul', () => {
  for (const v of VARIANTS) {
    it(`${variantKey(v)} matches the CPU reference on random shapes`, async () => {
      const gpu = await testGpu();
      if (v.kind === 'packed' || v.bcast) expect(gpu.features.has('subgroups'), 'lavapipe offers subgroups').toBe(true);
      await checkMatmul(gpu, v, plain(17, 33, 5));
      await fc.assert(fc.asyncProperty(shapes, (s) => checkMatmul(gpu, v, s)), { numRuns: 12 });
    });
  }

  it('tiles over batches, M, N and K when bindings or textures are capped', async () => {
    const gpu = await testGpu();
    const caps = { maxElems: 4096, maxDim: 64, maxTexels: 1024 };
    for (const v of [VARIANTS[0], VARIANTS[6]]) {
      await checkMatmul(gpu, v, plain(90, 75, 150, { batch: 2, accumulate: true, alpha: 0.5 }), caps);
      await checkMatmul(gpu, v, plain(70, 130, 67, { transA: true, transB: true, batch: 3, bBatchStride: 0 }), caps);
      await checkMatmul(gpu, v, plain(33, 200, 40, { transB: true }), caps);
      // bf16 ranges start at an even element, whatever the tile's offset
      await checkMatmul(gpu, v, plain(33, 201, 41, { transB: true, bBf16: true }), caps);
      await checkMatmul(gpu, v, plain(70, 131, 67, { batch: 3, bBf16: true }), caps);
    }
  });

  it('writes alpha·0 (or keeps C) when K = 0, and nothing when M, N or batch is 0', async () => {
    const gpu = await testGpu();
    for (const v of [VARIANTS[0], VARIANTS[6]]) {
      await checkMatmul(gpu, v, plain(5, 7, 0));
      await checkMatmul(gpu, v, plain(5, 7, 0, { accumulate: true }));
      const untouched = upload(gpu, [1, 2, 3]);
      matmulWithVariant(gpu, v, untouched, untouched, untouched, plain(0, 3, 1));
      matmulWithVariant(gpu, v, untouched, untouched, untouched, plain(1, 3, 1, { batch: 0 }));
      expect(Array.from(await download(gpu, untouched, 3))).toEqual([1, 2, 3]);
      gpu.pool.release(untouched);
    }
  });

  it('matmulGpu picks a working variant for decode rows, small heads and large products', async () => {
    const gpu = await testGpu();
    for (const s of [plain(1, 300, 64), plain(8, 100, 96, { transB: true }), plain(64, 100, 96), plain(128, 96, 64, { transA: true })]) {
      await checkMatmul(gpu, null, s);
    }
    expect(defaultMatmulVariant(gpu, plain(1024, 1024, 1024)).kind).toBe('packed');
    expect(defaultMatmulVariant(gpu, plain(1, 2048, 2048)).kind).toBe('direct');
  });

  it('names variants by keys that parse back, and the tuner times only those', async () => {
    const gpu = await testGpu();
    for (const v of [...VARIANTS, ...matmulCandidates(gpu, plain(512, 512, 512))]) {
      expect(parseVariantKey(variantKey(v))).toEqual(v);
    }
    for (const bad of ['', 'packed-6-1-8', 'direct-0-1-8-b', 'tiled-4-4', 'packed-a-b-c']) expect(parseVariantKey(bad)).toBeNull();
  });

  it('LoRA projection: y = x·Wᵀ and u = x·Aᵀ from one packing of x match the CPU (fused when N % 4 = 0)', async () => {
    const gpu = await testGpu();
    const lora = fc.record({
      M: fc.integer({ min: 1, max: 70 }),
      K: fc.integer({ min: 1, max: 70 }),
      N: fc.oneof(fc.integer({ min: 1, max: 18 }).map((q) => 4 * q), fc.integer({ min: 1, max: 70 })),
      r: fc.integer({ min: 1, max: 20 }),
      seed: fc.integer(),
      wBf16: fc.boolean(),
    });
    for (const v of VARIANTS.filter((x) => x.kind === 'packed')) {
      expect(await checkLoraProjection(gpu, v, 17, 33, 20, 5, 1), `${variantKey(v)} fused at 17×33, N 20, r 5`).toBe(true);
      expect(await checkLoraProjection(gpu, v, 17, 33, 21, 5, 2), `${variantKey(v)}: two products when N % 4 ≠ 0`).toBe(false);
      expect(await checkLoraProjection(gpu, v, 17, 33, 20, 5, 5, true), `${variantKey(v)} fused with a bf16 W`).toBe(true);
      await fc.assert(fc.asyncProperty(lora, async ({ M, K, N, r, seed, wBf16 }) => void (await checkLoraProjection(gpu, v, M, K, N, r, seed, wBf16))), { numRuns: 8 });
    }
    expect(await checkLoraProjection(gpu, undefined, 3, 8, 8, 2, 6, true)).toBe(false);
    // the default choice: fused at a LoRA layer's shape, two products below the packing threshold
    expect(await checkLoraProjection(gpu, undefined, 96, 64, 64, 16, 3)).toBe(true);
    expect(await checkLoraProjection(gpu, undefined, 3, 8, 8, 2, 4)).toBe(false);
  });
});
