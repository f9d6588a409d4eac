// RMSNorm and LayerNorm kernels against the float64 CPU reference, on random shapes (odd dims
// take the scalar path, multiples of 4 the vec4 path). Both sides read the same f32 inputs.
// Tolerances, f32 kernel vs float64 reference:
//   forward outputs, rstd, mean .... rtol 1e-5, atol 1e-6
//   LayerNorm out .................. rtol 1e-5, atol 2e-6   (outputs are O(3); x̂·w + bias cancels)
//   gx ............................. rtol 1e-5, atol 1e-5   (gy·w - x̂·Σ(g·x̂)/dim cancels)
//   gw, gb (sums over rows) ........ |error| <= 1e-5·|sum| + 1e-6·Σ_rows|term| per column;
//                                    and <= 1e-6 relative for a 4096-row sum of positive terms
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  layerNormBackwardCpu, layerNormBackwardGpu, layerNormCpu, layerNormGpu,
  rmsNormBackwardCpu, rmsNormBackwardGpu, rmsNormCpu, rmsNormGpu,
} from '../../kernels/norm.js';
import type { Gpu } from '../../kernels/gpu.js';
import { expectClose } from '../helpers/compare.js';
import { download, nanBuffer, testGpu, upload } from '../helpers/gpu.js';

/** f32-representable uniform values in [lo, hi] from a 32-bit LCG (Numerical Recipes constants). */
function values(seed: number, count: number, lo = -1, hi = 1): Float64Array {
  let s = seed >>> 0;
  return Float64Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround(lo + (s / 2 ** 32) * (hi - lo));
  });
}

const FORWARD = { rtol: 1e-5, atol: 1e-6 };
const LAYER_NORM_OUT = { rtol: 1e-5, atol: 2e-6 };
const GX = { rtol: 1e-5, atol: 1e-5 };
const EPS = 1e-5;

/** Column sums are judged against Σ|term|, the scale their rounding error follows. */
function expectColumnSums(actual: Float32Array, expected: Float64Array, absSums: Float64Array, label: string): void {
  const scale = (v: ArrayLike<number>) => Float64Array.from(absSums, (s, j) => (s === 0 ? v[j] : v[j] / s));
  expectClose(scale(actual), scale(expected), { rtol: 1e-5, atol: 1e-6 }, label);
}

function absColumnSums(rows: number, dim: number, term: (r: number, j: number) => number): Float64Array {
  const sums = new Float64Array(dim);
  for (let r = 0; r < rows; r++) for (let j = 0; j < dim; j++) sums[j] += Math.abs(term(r, j));
  return sums;
}

async function checkRmsNorm(gpu: Gpu, rows: number, dim: number, seed: number, weightGrad: boolean, bindingBytes?: number): Promise<void> {
  const x = values(seed, rows * dim, -3, 3);
  const weight = values(seed + 1, dim, 0.5, 1.5);
  const gy = values(seed + 2, rows * dim);
  const out = new Float64Array(rows * dim);
  const rstd = new Float64Array(rows);
  rmsNormCpu(x, weight, out, rstd, rows, dim, EPS);
  const rstd32 = rstd.map(Math.fround);
  const gx = new Float64Array(rows * dim);
  const gw = new Float64Array(dim);
  rmsNormBackwardCpu(x, weight, rstd32, gy, gx, gw, rows, dim);

  const [xB, wB, gyB, rstdIn] = [upload(gpu, x), upload(gpu, weight), upload(gpu, gy), upload(gpu, rstd32)];
  const [outB, rstdB, gxB, gwB] = [nanBuffer(gpu, rows * dim), nanBuffer(gpu, rows), nanBuffer(gpu, rows * dim), nanBuffer(gpu, dim)];
  rmsNormGpu(gpu, xB, wB, outB, rstdB, rows, dim, EPS, bindingBytes);
  rmsNormBackwardGpu(gpu, xB, wB, rstdIn, gyB, gxB, weightGrad ? gwB : null, rows, dim, bindingBytes);
  const label = `rms norm [${rows}, ${dim}] binding ${bindingBytes ?? 'whole'}`;
  expectClose(await download(gpu, outB, rows * dim), out, FORWARD, `${label} out`);
  expectClose(await download(gpu, rstdB, rows), rstd, FORWARD, `${label} rstd`);
  expectClose(await download(gpu, gxB, rows * dim), gx, GX, `${label} gx`);
  const gwOut = await download(gpu, gwB, dim);
  if (weightGrad) {
    expectColumnSums(gwOut, gw, absColumnSums(rows, dim, (r, j) => gy[r * dim + j] * x[r * dim + j] * rstd32[r]), `${label} gw`);
  } else {
    expect(gwOut.every(Number.isNaN), `${label}: frozen weight, gw untouched`).toBe(true);
  }
  for (const b of [xB, wB, gyB, rstdIn, outB, rstdB, gxB, gwB]) gpu.pool.release(b);
}

async function checkLayerNorm(gpu: Gpu, rows: number, dim: number, seed: number, grads: { weight: boolean; bias: boolean }, bindingBytes?: number): Promise<void> {
  const x = values(seed, rows * dim, 2, 5); // an offset mean, so the variance must not cancel
  const weight = values(seed + 1, dim, 0.5, 1.5);
  const bias = values(seed + 2, dim);
  const gy = values(seed + 3, rows * dim);
  const [out, mean, rstd] = [new Float64Array(rows * dim), new Float64Array(rows), new Float64Array(rows)];
  layerNormCpu(x, weight, bias, out, mean, rstd, rows, dim, EPS);
  const [mean32, rstd32] = [mean.map(Math.fround), rstd.map(Math.fround)];
  const [gx, gw, gb] = [new Float64Array(rows * dim), new Float64Array(dim), new Float64Array(dim)];
  layerNormBackwardCpu(x, weight, mean32, rstd32, gy, gx, gw, gb, rows, dim);

  const [xB, wB, bB, gyB, meanIn, rstdIn] = [x, weight, bias, gy, mean32, rstd32].map((a) => upload(gpu, a));
  const [outB, meanB, rstdB] = [nanBuffer(gpu, rows * dim), nanBuffer(gpu, rows), nanBuffer(gpu, rows)];
  const [gxB, gwB, gbB] = [nanBuffer(gpu, rows * dim), nanBuffer(gpu, dim), nanBuffer(gpu, dim)];
  layerNormGpu(gpu, xB, wB, bB, outB, meanB, rstdB, rows, dim, EPS, bindingBytes);
  layerNormBackwardGpu(gpu, xB, wB, meanIn, rstdIn, gyB, gxB, grads.weight ? gwB : null, grads.bias ? gbB : null, rows, dim, bindingBytes);
  const label = `layer norm [${rows}, ${dim}] binding ${bindingBytes ?? 'whole'}`;
  expectClose(await download(gpu, outB, rows * dim), out, LAYER_NORM_OUT, `${label} out`);
  expectClose(await download(gpu, meanB, rows), mean, FORWARD, `${label} mean`);
  expectClose(await download(gpu, rstdB, rows), rstd, FORWARD, `${label} rstd`);
  expectClose(await download(gpu, gxB, rows * dim), gx, GX, `${label} gx`);
  const [gwOut, gbOut] = [await download(gpu, gwB, dim), await download(gpu, gbB, dim)];
  const xhat = (r: number, j: number) => (x[r * dim + j] - mean32[r]) * rstd32[r];
  if (grads.weight) expectColumnSums(gwOut, gw, absColumnSums(rows, dim, (r, j) => gy[r * dim + j] * xhat(r, j)), `${label} gw`);
  else expect(gwOut.every(Number.isNaN), `${label}: gw untouched`).toBe(true);
  if (grads.bias) expectColumnSums(gbOut, gb, absColumnSums(rows, dim, (r, j) => gy[r * dim + j]), `${label} gb`);
  else expect(gbOut.every(Number.isNaN), `${label}: gb untouched`).toBe(true);
  for (const b of [xB, wB, bB, gyB, meanIn, rstdIn, outB, meanB, rstdB, gxB, gwB, gbB]) gpu.pool.release(b);
}

const dims = fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 80 }).map((k) => 4 * k));
const rowCounts = fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 250, max: 600 }));
// small bindings force the runs of rows that tensors past one storage binding take
const bindings = fc.option(fc.constantFrom(8192, 32768), { freq: 2 });

describe('norm kernels', () => {
  it('RMSNorm forward and backward match the CPU reference on random shapes, in one binding or in runs', async () => {
    const gpu = await testGpu();
    await fc.assert(
      fc.asyncProperty(rowCounts, dims, fc.integer(), fc.boolean(), bindings, (rows, dim, seed, wg, bytes) => checkRmsNorm(gpu, rows, dim, seed, wg, bytes ?? undefined)),
      { numRuns: 30 },
    );
  });

  it('LayerNorm forward and backward match the CPU reference on random shapes, in one binding or in runs', async () => {
    const gpu = await testGpu();
    const grads = fc.record({ weight: fc.boolean(), bias: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(rowCounts, dims, fc.integer(), grads, bindings, (rows, dim, seed, g, bytes) => checkLayerNorm(gpu, rows, dim, seed, g, bytes ?? undefined)),
      { numRuns: 30 },
    );
  });

  it('sums parameter gradients over 4096 rows accurately (two reduction stages)', async () => {
    const gpu = await testGpu();
    await checkRmsNorm(gpu, 4096, 40, 11, true);
    await checkLayerNorm(gpu, 4096, 37, 12, { weight: true, bias: true });
    // in runs of ~400 rows: every run writes its own blocks of partial sums
    await checkRmsNorm(gpu, 4096, 40, 14, true, 65536);
    await checkLayerNorm(gpu, 4096, 36, 15, { weight: true, bias: true }, 65536);
    // positive terms: no cancellation, so the plain relative error of the sum shows
    const [rows, dim] = [4096, 24];
    const [x, weight, mean, rstd] = [new Float64Array(rows * dim), new Float64Array(dim).fill(1), new Float64Array(rows), new Float64Array(rows).fill(1)];
    const gy = values(13, rows * dim, 0, 1);
    const gb = new Float64Array(dim);
    layerNormBackwardCpu(x, weight, mean, rstd, gy, new Float64Array(rows * dim), null, gb, rows, dim);
    const inputs = [x, weight, mean, rstd, gy].map((a) => upload(gpu, a));
    const [gxB, gbB] = [nanBuffer(gpu, rows * dim), nanBuffer(gpu, dim)];
    const [xB, wB, meanB, rstdB, gyB] = inputs;
    layerNormBackwardGpu(gpu, xB, wB, meanB, rstdB, gyB, gxB, null, gbB, rows, dim);
    expectClose(await download(gpu, gbB, dim), gb, { rtol: 1e-6, atol: 0 }, 'gb over 4096 positive rows');
    for (const b of [...inputs, gxB, gbB]) gpu.pool.release(b);
  });
});
