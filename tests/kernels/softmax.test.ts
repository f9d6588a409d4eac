// Softmax / log-softmax kernels against the float64 CPU reference, on random shapes (odd row
// lengths take the scalar path, multiples of 4 the vec4 path; neither is a multiple of the 8
// invocations per row in general). Both sides read the same f32-rounded inputs.
// Tolerances, f32 kernel vs float64 reference:
//   softmax forward ...... rtol 1e-5, atol 1e-7   (lavapipe's exp is within ~2e-6 relative)
//   log-softmax forward .. rtol 1e-5, atol 4e-7·scale   (x - max rounds at |x|·2^-24)
//   backward ............. rtol 1e-5, atol 1e-6·scale   (gy - Σ gy·y cancels)
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { softmaxBackwardCpu, softmaxBackwardGpu, softmaxCpu, softmaxGpu } from '../../kernels/softmax.js';
import type { Gpu } from '../../kernels/gpu.js';
import { expectClose, type Tolerance } from '../helpers/compare.js';
import { download, nanBuffer, testGpu, upload } from '../helpers/gpu.js';

/** f32-representable uniform values in [-scale, scale] from a 32-bit LCG (Numerical Recipes constants). */
function values(seed: number, count: number, scale: number): Float64Array {
  let s = seed >>> 0;
  return Float64Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround((s / 2 ** 32) * 2 * scale - scale);
  });
}

const rowLength = fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 90 }).map((k) => 4 * k));
const cases = fc.record({
  rows: fc.integer({ min: 1, max: 12 }),
  n: rowLength,
  scale: fc.constantFrom(1, 8, 40),
  log: fc.boolean(),
  seed: fc.integer(),
});

async function checkForward(gpu: Gpu, rows: number, n: number, scale: number, log: boolean, seed: number, maxBindingBytes?: number) {
  const x = values(seed, rows * n, scale);
  const expected = new Float64Array(rows * n);
  softmaxCpu(x, expected, rows, n, log);
  const xBuffer = upload(gpu, x);
  const out = nanBuffer(gpu, rows * n);
  softmaxGpu(gpu, xBuffer, out, rows, n, log, maxBindingBytes);
  const tol: Tolerance = log ? { rtol: 1e-5, atol: 4e-7 * scale } : { rtol: 1e-5, atol: 1e-7 };
  expectClose(await download(gpu, out, rows * n), expected, tol, `${log ? 'log-' : ''}softmax [${rows}, ${n}] scale ${scale}`);
  gpu.pool.release(xBuffer);
  gpu.pool.release(out);
}

async function checkBackward(gpu: Gpu, rows: number, n: number, scale: number, log: boolean, seed: number, maxBindingBytes?: number) {
  const forward = new Float64Array(rows * n);
  softmaxCpu(values(seed, rows * n, scale), forward, rows, n, log);
  const y = forward.map(Math.fround);
  const gy = values(seed + 1, rows * n, 1);
  const expected = new Float64Array(rows * n);
  softmaxBackwardCpu(y, gy, expected, rows, n, log);
  const [yBuffer, gyBuffer] = [upload(gpu, y), upload(gpu, gy)];
  const gx = nanBuffer(gpu, rows * n);
  softmaxBackwardGpu(gpu, yBuffer, gyBuffer, gx, rows, n, log, maxBindingBytes);
  const tol = { rtol: 1e-5, atol: 1e-6 * (log ? Math.sqrt(n) : 1) };
  expectClose(await download(gpu, gx, rows * n), expected, tol, `${log ? 'log-' : ''}softmax backward [${rows}, ${n}]`);
  for (const b of [yBuffer, gyBuffer, gx]) gpu.pool.release(b);
}

describe('softmax kernels', () => {
  it('forward matches the CPU reference on random shapes', async () => {
    const gpu = await testGpu();
    await fc.assert(fc.asyncProperty(cases, (c) => checkForward(gpu, c.rows, c.n, c.scale, c.log, c.seed)), { numRuns: 40 });
  });

  it('backward matches the CPU reference on random shapes', async () => {
    const gpu = await testGpu();
    await fc.assert(fc.asyncProperty(cases, (c) => checkBackward(gpu, c.rows, c.n, c.scale, c.log, c.seed)), { numRuns: 40 });
  });

  it('covers rows past the 65535-workgroup grid limit', async () => {
    const gpu = await testGpu();
    await checkForward(gpu, 70_001, 3, 8, false, 7);
    await checkBackward(gpu, 70_001, 4, 8, true, 8);
  });

  it('splits tensors larger than one storage binding into row ranges', async () => {
    const gpu = await testGpu();
    // 1 KiB bindings: a handful of rows per range, with unaligned starts
    for (const n of [37, 64]) {
      for (const log of [false, true]) {
        await checkForward(gpu, 23, n, 8, log, n, 1024);
        await checkBackward(gpu, 23, n, 8, log, n, 1024);
      }
    }
  });

  it('handles -inf entries (masked scores) like the reference', async () => {
    const gpu = await testGpu();
    const n = 12;
    const x = values(3, 2 * n, 4);
    for (const i of [0, 5, 11, 13]) x[i] = -Infinity;
    const expected = new Float64Array(2 * n);
    softmaxCpu(x, expected, 2, n, false);
    const [xBuffer, out] = [upload(gpu, x), nanBuffer(gpu, 2 * n)];
    softmaxGpu(gpu, xBuffer, out, 2, n, false);
    expectClose(await download(gpu, out, 2 * n), expected, { rtol: 1e-5, atol: 1e-7 }, 'masked softmax');
    gpu.pool.release(xBuffer);
    gpu.pool.release(out);
  });
});
