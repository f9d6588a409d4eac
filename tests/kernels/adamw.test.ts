// AdamW and grad-norm clipping kernels against the float64 CPU reference: random sizes (odd n
// takes the scalar path, multiples of 4 the vec4 path), hyperparameters, steps and grad scales,
// three chained updates per case. Both sides start from the same f32 state.
// Tolerances, f32 kernel vs float64 reference:
//   param ...... rtol 1e-5, atol 3e-7   (params start in [-1, 1]: a few float32 ulps of 1 carry over
//                                        when an update lands near 0)
//   v .......... rtol 1e-5, atol 1e-7
//   m .......... rtol 1e-5, atol 2e-7   (beta1·m + (1 - beta1)·g cancels)
//   clip ....... rtol 1e-6
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { adamwCpu, adamwGpu, clipScaleCpu, clipScaleGpu, type AdamWHyper } from '../../kernels/adamw.js';
import { expectClose } from '../helpers/compare.js';
import { download, nanBuffer, testGpu, upload } from '../helpers/gpu.js';

/** f32-representable uniform values in [lo, hi] from a 32-bit LCG (Numerical Recipes constants). */
function values(seed: number, count: number, lo: number, hi: number): Float64Array {
  let s = seed >>> 0;
  return Float64Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround(lo + (s / 2 ** 32) * (hi - lo));
  });
}

const STEPS = 3;

describe('adamw kernel', () => {
  const cases = fc.record({
    n: fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 700 }).map((k) => 4 * k)),
    lr: fc.constantFrom(1e-4, 1e-3, 0.1),
    beta1: fc.constantFrom(0.9, 0.8),
    beta2: fc.constantFrom(0.999, 0.95),
    eps: fc.constantFrom(1e-8, 1e-6),
    weightDecay: fc.constantFrom(0, 0.01, 0.1),
    firstStep: fc.integer({ min: 1, max: 2000 }),
    gradScale: fc.option(fc.double({ min: 0.01, max: 1, noNaN: true }).map(Math.fround)),
    seed: fc.integer(),
    // small bindings force the windowed path that tensors past one storage binding take
    bindingBytes: fc.option(fc.constantFrom(256, 1024, 4096)),
  });

  it('matches the CPU reference over chained steps, in one binding or in windows', async () => {
    const gpu = await testGpu();
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const { n, seed } = c;
        const param = values(seed, n, -1, 1);
        // a fresh optimizer starts from zero moments; later steps from plausible ones
        const m = c.firstStep === 1 ? new Float64Array(n) : values(seed + 1, n, -0.1, 0.1);
        const v = c.firstStep === 1 ? new Float64Array(n) : values(seed + 2, n, 0, 0.01);
        const buffers = { param: upload(gpu, param), m: upload(gpu, m), v: upload(gpu, v) };
        const scale = c.gradScale === null ? null : upload(gpu, [c.gradScale]);
        const grads: GPUBuffer[] = [];
        for (let k = 0; k < STEPS; k++) {
          const h: AdamWHyper = { lr: c.lr, beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay, step: c.firstStep + k };
          const grad = values(seed + 3 + k, n, -1, 1);
          adamwCpu(param, grad, m, v, n, h, c.gradScale ?? 1);
          grads.push(upload(gpu, grad));
          adamwGpu(gpu, buffers.param, grads[k], buffers.m, buffers.v, n, h, scale, c.bindingBytes ?? undefined);
        }
        const label = `adamw n ${n} binding ${c.bindingBytes ?? 'whole'} steps ${c.firstStep}..${c.firstStep + STEPS - 1}`;
        expectClose(await download(gpu, buffers.param, n), param, { rtol: 1e-5, atol: 3e-7 }, `${label} param`);
        expectClose(await download(gpu, buffers.m, n), m, { rtol: 1e-5, atol: 2e-7 }, `${label} m`);
        expectClose(await download(gpu, buffers.v, n), v, { rtol: 1e-5, atol: 1e-7 }, `${label} v`);
        for (const b of [buffers.param, buffers.m, buffers.v, ...grads, ...(scale ? [scale] : [])]) gpu.pool.release(b);
      }),
      { numRuns: 40 },
    );
  });
});

describe('clipScale kernel', () => {
  it('writes the clipping factor and the norm, and feeds adamw on the GPU', async () => {
    const gpu = await testGpu();
    for (const [sumSquares, maxNorm] of [[0, 1], [0.25, 1], [100, 1], [3.5e6, 1], [4, 2], [1e-14, 0.5]]) {
      const out = nanBuffer(gpu, 2);
      const input = upload(gpu, [sumSquares]);
      clipScaleGpu(gpu, input, out, maxNorm);
      const s32 = Math.fround(sumSquares);
      const expected = [clipScaleCpu(s32, maxNorm), Math.sqrt(s32)];
      expectClose(await download(gpu, out, 2), expected, { rtol: 1e-6, atol: 0 }, `clip sumSquares ${sumSquares} maxNorm ${maxNorm}`);
      gpu.pool.release(out);
      gpu.pool.release(input);
    }
    // the factor stays on the GPU: clipScale's out[0] is adamw's gradScale
    const n = 9;
    const h: AdamWHyper = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: 1 };
    const [param, grad, m, v] = [values(1, n, -1, 1), values(2, n, -3, 3), new Float64Array(n), new Float64Array(n)];
    const sumSquares = Math.fround(grad.reduce((s, g) => s + g * g, 0));
    const buffers = [param, grad, m, v, [sumSquares]].map((a) => upload(gpu, a));
    const clip = nanBuffer(gpu, 2);
    clipScaleGpu(gpu, buffers[4], clip, 1);
    adamwGpu(gpu, buffers[0], buffers[1], buffers[2], buffers[3], n, h, clip);
    adamwCpu(param, grad, m, v, n, h, clipScaleCpu(sumSquares, 1));
    expectClose(await download(gpu, buffers[0], n), param, { rtol: 1e-5, atol: 3e-7 }, 'clipped adamw param');
    expectClose(await download(gpu, buffers[2], n), m, { rtol: 1e-5, atol: 2e-7 }, 'clipped adamw m');
    for (const b of [...buffers, clip]) gpu.pool.release(b);
  });
});
