// Cross-entropy kernels against the float64 CPU reference: random [N, V] including odd V
// (scalar path), multiples of 4 (vec4 path), Llama-3's V = 128256 and 128257 (with [PAD]),
// ignored rows, and logits split into row ranges smaller than one storage binding; the forward
// in both variants (one workgroup per row, and the vocabulary split over workgroups).
// Tolerances, f32 kernel vs float64 reference on the same f32 inputs:
//   lse, loss ... rtol 1e-5, atol 1e-6·max(1, |lse|)   (loss = lse - logit cancels)
//   gLogits ..... rtol 1e-5, atol 1e-6                  (softmax - onehot cancels at the target)
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  crossEntropyBackwardCpu, crossEntropyBackwardGpu, crossEntropyCpu, crossEntropyGpu, type CrossEntropyVariant,
} from '../../kernels/cross_entropy.js';
import type { Gpu } from '../../kernels/gpu.js';
import { expectClose } from '../helpers/compare.js';
import { download, nanBuffer, testGpu, upload } from '../helpers/gpu.js';

/** f32-representable uniform values in [-scale, scale] from a 32-bit LCG (Numerical Recipes constants). */
function values(seed: number, count: number, scale: number): Float64Array {
  let s = seed >>> 0;
  return Float64Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround((s / 2 ** 32) * 2 * scale - scale);
  });
}

const IGNORE = -100;

async function check(gpu: Gpu, N: number, V: number, scale: number, seed: number, variant: CrossEntropyVariant, maxBindingBytes?: number): Promise<void> {
  const logits = values(seed, N * V, scale);
  const targets = Int32Array.from(values(seed + 1, N, 1), (u, r) => (r % 3 === 2 ? IGNORE : Math.floor(Math.abs(u) * V)));
  const [loss, lse] = [new Float64Array(N), new Float64Array(N)];
  crossEntropyCpu(logits, targets, loss, lse, N, V, IGNORE);
  const lse32 = lse.map(Math.fround);
  const gLoss = values(seed + 2, N, 2);
  const gLogits = new Float64Array(N * V);
  crossEntropyBackwardCpu(logits, targets, lse32, gLoss, gLogits, N, V, IGNORE);

  const [logitsB, targetsB, lseIn, gLossB] = [upload(gpu, logits), upload(gpu, targets), upload(gpu, lse32), upload(gpu, gLoss)];
  const [lossB, lseB, gLogitsB] = [nanBuffer(gpu, N), nanBuffer(gpu, N), nanBuffer(gpu, N * V)];
  crossEntropyGpu(gpu, logitsB, targetsB, lossB, lseB, N, V, IGNORE, maxBindingBytes, variant);
  crossEntropyBackwardGpu(gpu, logitsB, targetsB, lseIn, gLossB, gLogitsB, N, V, IGNORE, maxBindingBytes);
  const label = `cross-entropy (${variant}) [${N}, ${V}] scale ${scale}`;
  const rowTolerance = { rtol: 1e-5, atol: 1e-6 * Math.max(1, ...lse.map(Math.abs)) };
  expectClose(await download(gpu, lseB, N), lse, rowTolerance, `${label} lse`);
  expectClose(await download(gpu, lossB, N), loss, rowTolerance, `${label} loss`);
  expectClose(await download(gpu, gLogitsB, N * V), gLogits, { rtol: 1e-5, atol: 1e-6 }, `${label} gLogits`);
  for (const b of [logitsB, targetsB, lseIn, gLossB, lossB, lseB, gLogitsB]) gpu.pool.release(b);
}

describe.each(['row', 'split'] as const)('cross-entropy kernels, forward variant %s', (variant) => {
  it('match the CPU reference on random shapes', async () => {
    const gpu = await testGpu();
    // up to 6000 classes: several chunks per row in the split variant
    const vocab = fc.oneof(fc.integer({ min: 1, max: 6000 }), fc.integer({ min: 1, max: 1500 }).map((k) => 4 * k));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 10 }), vocab, fc.constantFrom(1, 10, 40), fc.integer(), (N, V, scale, seed) => check(gpu, N, V, scale, seed, variant)),
      { numRuns: 40 },
    );
  });

  it('handle the Llama-3 vocabulary (128256, and 128257 with [PAD])', async () => {
    const gpu = await testGpu();
    await check(gpu, 3, 128256, 10, 1, variant);
    await check(gpu, 2, 128257, 10, 2, variant);
  });

  it('split logits larger than one storage binding into row ranges', async () => {
    const gpu = await testGpu();
    for (const V of [37, 300, 4100]) await check(gpu, 17, V, 10, V, variant, 4 * V * 5 + 256);
  });

  it('write loss 0 and zero gradients for ignored rows', async () => {
    const gpu = await testGpu();
    const [N, V] = [3, 10];
    const logits = upload(gpu, values(9, N * V, 5));
    const targets = upload(gpu, new Int32Array([IGNORE, 4, IGNORE]));
    const [loss, lse, gLogits] = [nanBuffer(gpu, N), nanBuffer(gpu, N), nanBuffer(gpu, N * V)];
    crossEntropyGpu(gpu, logits, targets, loss, lse, N, V, IGNORE, undefined, variant);
    crossEntropyBackwardGpu(gpu, logits, targets, lse, upload(gpu, [1, 1, 1]), gLogits, N, V, IGNORE);
    const [lossOut, grads] = [await download(gpu, loss, N), await download(gpu, gLogits, N * V)];
    expect([lossOut[0], lossOut[2]]).toEqual([0, 0]);
    expect(lossOut[1]).toBeGreaterThan(0);
    expect([...grads.subarray(0, V), ...grads.subarray(2 * V)].every((g) => g === 0)).toBe(true);
  });
});
