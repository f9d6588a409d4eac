// RoPE kernel against the float64 CPU reference on random [B, T, H, D] shapes and positions up
// to 32767, and ropeInvFreq's llama3 scaling against values worked out from the formula.
// Tolerance, f32 kernel vs float64 reference (same f32 inputs and f32-rounded inv_freq):
//   rtol 1e-5, atol 1e-6 for |x| <= 1 (the kernel keeps the angle exact to ~3e-7 rad)
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ropeCpu, ropeGpu, ropeInvFreq, type RopeScaling } from '../../kernels/rope.js';
import { expectClose } from '../helpers/compare.js';
import { download, nanBuffer, testGpu, upload } from '../helpers/gpu.js';

/** f32-representable uniform values in [-1, 1] from a 32-bit LCG (Numerical Recipes constants). */
function values(seed: number, count: number): Float64Array {
  let s = seed >>> 0;
  return Float64Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround((s / 2 ** 32) * 2 - 1);
  });
}

const LLAMA_3_2: RopeScaling = { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 };
const TOLERANCE = { rtol: 1e-5, atol: 1e-6 };

describe('ropeInvFreq', () => {
  it('applies the llama3 scaling of Llama-3.2-1B (D 64, theta 500000)', () => {
    const freq = ropeInvFreq(64, 500000, LLAMA_3_2);
    const plain = (i: number) => 500000 ** (-i / 32);
    const wavelength = (i: number) => (2 * Math.PI) / plain(i);
    // wavelengths below 8192/4 = 2048 are kept: i = 0 (2π) up to i = 14 (≈1955)
    expect(freq[0]).toBe(1);
    expect(wavelength(14)).toBeLessThan(2048);
    expect(freq[14]).toBeCloseTo(plain(14), 15);
    // i = 16: wavelength 2π·√500000 ≈ 4442.9 lies in [2048, 8192], so it is interpolated
    expect(wavelength(16)).toBeGreaterThan(2048);
    expect(wavelength(16)).toBeLessThan(8192);
    const f16 = 1 / Math.sqrt(500000);
    const smooth = (8192 / ((2 * Math.PI) / f16) - 1) / (4 - 1); // ≈ 0.2813
    expect(smooth).toBeCloseTo(0.28128, 4);
    expect(freq[16]).toBeCloseTo((1 - smooth) * (f16 / 32) + smooth * f16, 15);
    // i = 18 (≈10079) up to the last, i = 31, exceed 8192 and are divided by 32
    expect(wavelength(18)).toBeGreaterThan(8192);
    expect(freq[18]).toBeCloseTo(plain(18) / 32, 15);
    expect(freq[31]).toBeCloseTo(500000 ** (-62 / 64) / 32, 15);
    expect(freq.length).toBe(32);
  });

  it('is theta^(-2i/D) without scaling', () => {
    const freq = ropeInvFreq(8, 10000);
    expect(Array.from(freq)).toEqual([1, 0.1, 0.01, 0.001].map((f, i) => expect.closeTo(f, 15 - i)));
  });
});

describe('rope kernel', () => {
  const shapes = fc.record({
    B: fc.integer({ min: 1, max: 3 }),
    T: fc.integer({ min: 1, max: 9 }),
    H: fc.integer({ min: 1, max: 5 }),
    D: fc.integer({ min: 1, max: 65 }).map((k) => 2 * k),
    theta: fc.constantFrom(10000, 500000),
    scaled: fc.boolean(),
    maxPosition: fc.constantFrom(16, 8192, 32767),
    inverse: fc.boolean(),
    seed: fc.integer(),
    // small bindings force the runs of tokens that tensors past one storage binding take
    bindingBytes: fc.option(fc.constantFrom(4096, 8192)),
  });

  it('matches the CPU reference on random shapes and positions, in one binding or in runs', async () => {
    const gpu = await testGpu();
    await fc.assert(
      fc.asyncProperty(shapes, async ({ B, T, H, D, theta, scaled, maxPosition, inverse, seed, bindingBytes }) => {
        const n = B * T * H * D;
        const x = values(seed, n);
        const positions = Int32Array.from(values(seed + 1, B * T), (u) => Math.floor(Math.abs(u) * maxPosition));
        const invFreq = ropeInvFreq(D, theta, scaled ? LLAMA_3_2 : undefined).map(Math.fround);
        const expected = new Float64Array(n);
        ropeCpu(x, positions, invFreq, expected, B, T, H, D, inverse);
        const inputs = [upload(gpu, x), upload(gpu, positions), upload(gpu, invFreq)];
        const out = nanBuffer(gpu, n);
        ropeGpu(gpu, inputs[0], inputs[1], inputs[2], out, B, T, H, D, inverse, bindingBytes ?? undefined);
        expectClose(await download(gpu, out, n), expected, TOLERANCE, `rope [${B}, ${T}, ${H}, ${D}] positions < ${maxPosition} binding ${bindingBytes ?? 'whole'}`);
        for (const b of [...inputs, out]) gpu.pool.release(b);
      }),
      { numRuns: 40 },
    );
  });

  it('undoes itself with inverse (the backward pass)', async () => {
    const gpu = await testGpu();
    const [B, T, H, D] = [2, 5, 3, 64];
    const n = B * T * H * D;
    const x = values(5, n);
    const positions = Int32Array.from({ length: B * T }, (_, k) => k * 811);
    const [xB, posB, freqB] = [upload(gpu, x), upload(gpu, positions), upload(gpu, ropeInvFreq(D, 500000, LLAMA_3_2))];
    const [rotated, back] = [nanBuffer(gpu, n), nanBuffer(gpu, n)];
    ropeGpu(gpu, xB, posB, freqB, rotated, B, T, H, D, false);
    ropeGpu(gpu, rotated, posB, freqB, back, B, T, H, D, true);
    expectClose(await download(gpu, back, n), x, { rtol: 0, atol: 1e-6 }, 'rope round trip');
    for (const b of [xB, posB, freqB, rotated, back]) gpu.pool.release(b);
  });
});
