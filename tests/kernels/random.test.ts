// Philox streams (WGSL vs CPU) and the distributions built on them. The u32 stream and the
// uniforms must match bit for bit. Normals: |gpu - cpu| <= 1e-6·(1 + |z|) (f32 log and sin of
// the same uniforms). Multinomial: the same index on every row except where u·total lies within
// 1e-4·total of a bucket edge (f32 against float64 running sums). Statistics are checked on
// the CPU streams to within 5 standard errors.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  multinomialCpu, multinomialGpu, philox4x32, philoxCpu, randomBitsGpu, randomNormalCpu, randomNormalGpu, randomUniformCpu,
  randomUniformGpu,
} from '../../kernels/random.js';
import { download, downloadI32, nanBuffer, testGpu, upload } from '../helpers/gpu.js';

const seeds = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.maxSafeNat());
/** Offsets, some of which wrap the u32 counter within the stream. */
const offsets = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 2 ** 32 - 3000, max: 2 ** 32 - 1 }));
const lengths = fc.oneof(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 3000 }));

describe('philox', () => {
  it('reproduces the Random123 known-answer vectors', () => {
    expect(philox4x32([0, 0, 0, 0], [0, 0])).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    expect(philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])).toEqual([
      0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd,
    ]);
    expect(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])).toEqual([
      0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1,
    ]);
    expect(philoxCpu(0, 0)).toEqual(philox4x32([0, 0, 0, 0], [0, 0]));
    expect(philoxCpu(2 ** 32 + 5, 2 ** 32 + 7)).toEqual(philox4x32([7, 0, 0, 0], [5, 1]));
  });

  it('gives the same u32 stream and the same uniforms on GPU and CPU, in one binding or in windows', async () => {
    const gpu = await testGpu();
    // 1 KiB bindings force the windows that outputs past one storage binding take
    await fc.assert(
      fc.asyncProperty(lengths, seeds, offsets, fc.option(fc.constant(1024)), async (n, seed, offset, bytes) => {
        const [bits, uniforms] = [nanBuffer(gpu, 4 * n), nanBuffer(gpu, n)];
        randomBitsGpu(gpu, bits, n, seed, offset, bytes ?? undefined);
        randomUniformGpu(gpu, uniforms, n, seed, offset, bytes ?? undefined);
        const words = new Uint32Array(await gpu.read(bits, 0, 16 * n));
        const expectedWords = Array.from({ length: n }, (_, i) => philoxCpu(seed, offset + i)).flat();
        expect(Array.from(words)).toEqual(expectedWords);
        const expected = new Float64Array(n);
        randomUniformCpu(expected, n, seed, offset);
        const got = await download(gpu, uniforms, n);
        expect(Array.from(got)).toEqual(Array.from(expected));
        expect(got.every((u) => u > 0 && u < 1)).toBe(true);
        gpu.pool.release(bits);
        gpu.pool.release(uniforms);
      }),
      { numRuns: 20 },
    );
  });
});

describe('normal', () => {
  it('matches the CPU reference', async () => {
    const gpu = await testGpu();
    const params = fc.tuple(fc.float({ min: -5, max: 5, noNaN: true }), fc.float({ min: Math.fround(0.01), max: 10, noNaN: true }));
    await fc.assert(
      fc.asyncProperty(lengths, seeds, offsets, params, async (n, seed, offset, [mean, std]) => {
        const out = nanBuffer(gpu, n);
        randomNormalGpu(gpu, out, n, seed, offset, mean, std);
        const got = await download(gpu, out, n);
        const z = new Float64Array(n);
        randomNormalCpu(z, n, seed, offset, 0, 1);
        for (let i = 0; i < n; i++) {
          const expected = mean + std * z[i];
          // the draw's own error, scaled by std, plus f32 rounding of the result
          const bound = std * 1e-6 * (1 + Math.abs(z[i])) + 1e-7 * (Math.abs(mean) + std * Math.abs(z[i]));
          if (!(Math.abs(got[i] - expected) <= bound)) expect.fail(`normal [${i}] of n=${n} seed=${seed}: ${got[i]} vs ${expected}`);
        }
        gpu.pool.release(out);
      }),
      { numRuns: 20 },
    );
  });

  it('has the right mean and variance, and uniforms the right mean (CPU streams)', () => {
    const n = 200_000;
    const z = new Float64Array(n);
    randomNormalCpu(z, n, 1234, 99, 2, 3);
    const mean = z.reduce((s, v) => s + v, 0) / n;
    const variance = z.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
    expect(Math.abs(mean - 2)).toBeLessThan((5 * 3) / Math.sqrt(n));
    expect(Math.abs(variance / 9 - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    const u = new Float64Array(n);
    randomUniformCpu(u, n, 77, 0);
    const uMean = u.reduce((s, v) => s + v, 0) / n;
    expect(Math.abs(uMean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
  });
});

describe('multinomial', () => {
  it('draws buckets in proportion to their weights and never a zero weight (CPU)', () => {
    const weights = [1, 0, 3, 6, 0.5];
    const total = weights.reduce((s, w) => s + w, 0);
    const rows = 40_000;
    const tiled = Float64Array.from({ length: rows * weights.length }, (_, k) => weights[k % weights.length]);
    const picks = new Int32Array(rows);
    multinomialCpu(tiled, picks, rows, weights.length, 5, 1000);
    const counts = weights.map((_, j) => picks.filter((p) => p === j).length);
    expect(counts[1]).toBe(0);
    // chi-square over the positive buckets (3 degrees of freedom): 30 is beyond p = 1e-5
    const chi2 = weights.reduce((s, w, j) => (w > 0 ? s + (counts[j] - (rows * w) / total) ** 2 / ((rows * w) / total) : s), 0);
    expect(chi2).toBeLessThan(30);
  });

  it('picks the same index on GPU and CPU except within rounding of a bucket edge', async () => {
    const gpu = await testGpu();
    const shapes = fc.record({
      rows: fc.integer({ min: 1, max: 40 }),
      n: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1000, max: 5000 })),
      zeros: fc.double({ min: 0, max: 0.9, noNaN: true }),
    });
    await fc.assert(
      fc.asyncProperty(shapes, seeds, offsets, async ({ rows, n, zeros }, seed, offset) => {
        const raw = new Float64Array(rows * n);
        randomUniformCpu(raw, rows * n, seed + 1, 0);
        // f32 weights, a share of them zero; some rows entirely zero
        const weights = Float32Array.from(raw, (u, k) => (u < zeros || Math.floor(k / n) % 7 === 6 ? 0 : u ** 4));
        const [wb, out] = [upload(gpu, weights), nanBuffer(gpu, rows)];
        multinomialGpu(gpu, wb, out, rows, n, seed, offset);
        const got = await downloadI32(gpu, out, rows);
        const expected = new Int32Array(rows);
        multinomialCpu(Float64Array.from(weights), expected, rows, n, seed, offset);
        for (let r = 0; r < rows; r++) {
          if (got[r] === expected[r]) continue;
          const row = Array.from(weights.subarray(r * n, (r + 1) * n));
          const total = row.reduce((s, w) => s + w, 0);
          const target = randomUniformCpuAt(seed, offset + r) * total;
          const edge = row.slice(0, Math.max(got[r], expected[r])).reduce((s, w) => s + w, 0);
          expect(got[r] >= 0 && row[got[r]] > 0, `row ${r}: picked a zero weight`).toBe(true);
          expect(Math.abs(target - edge), `row ${r}: ${got[r]} vs ${expected[r]}`).toBeLessThan(1e-4 * total);
        }
        gpu.pool.release(wb);
        gpu.pool.release(out);
      }),
      { numRuns: 25 },
    );
  });

  it('handles a vocabulary-sized row', async () => {
    const gpu = await testGpu();
    const n = 128_256;
    const weights = new Float32Array(2 * n);
    [5, 70_000, 128_255].forEach((j) => (weights[j] = 1));
    weights[n + 12_345] = 2;
    const [wb, out] = [upload(gpu, weights), nanBuffer(gpu, 2)];
    for (let offset = 0; offset < 8; offset++) {
      multinomialGpu(gpu, wb, out, 2, n, 3, offset);
      const expected = new Int32Array(2);
      multinomialCpu(Float64Array.from(weights), expected, 2, n, 3, offset);
      expect(Array.from(await downloadI32(gpu, out, 2))).toEqual(Array.from(expected));
    }
    gpu.pool.release(wb);
    gpu.pool.release(out);
  });
});

function randomUniformCpuAt(seed: number, counter: number): number {
  const u = new Float64Array(1);
  randomUniformCpu(u, 1, seed, counter);
  return u[0];
}
