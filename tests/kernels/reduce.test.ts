// Reductions (WGSL) against their float64 CPU references on random [outer, n, inner] views.
// Tolerances: max, min and argmax are exact. Sums are compared relative to Σ|x| (the scale a
// float32 sum can be held to, whatever the cancellation): |gpu - cpu| <= 1e-6·Σ|x|; sums of
// squares (no cancellation) to rtol 1e-6. Sums of 10^6 elements keep the same bounds (measured:
// 8e-8 for 10^6 rows, 4e-7 for 250000 x 4 columns; a sequential float32 sum is off by 4e-5).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { argmaxCpu, argmaxGpu, reduceCpu, reduceGpu, type ReduceOp } from '../../kernels/reduce.js';
import type { Gpu } from '../../kernels/gpu.js';
import { expectClose } from '../helpers/compare.js';
import { download, downloadI32, nanBuffer, testGpu, upload } from '../helpers/gpu.js';

const OPS: ReduceOp[] = ['sum', 'max', 'min', 'sum_squares'];

/** Views that hit every layout: rows and columns, vec4-aligned or not, one chunk or several. */
const views = fc.record({
  outer: fc.integer({ min: 1, max: 4 }),
  n: fc.oneof(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 200, max: 1100 })),
  inner: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 9 }), fc.constantFrom(4, 8, 12)),
});

function randomFloats(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  // a small LCG: property runs stay cheap for 10^6 elements
  let state = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return lo + ((hi - lo) * state) / 2 ** 32;
  });
}

/** GPU reduce next to the CPU one: sums are scaled by Σ|x| so one absolute bound fits all. */
async function checkReduce(gpu: Gpu, op: ReduceOp, x: Float32Array, outer: number, n: number, inner: number, bindingBytes?: number) {
  const xb = upload(gpu, x);
  const out = nanBuffer(gpu, outer * inner);
  reduceGpu(gpu, op, xb, out, outer, n, inner, bindingBytes);
  const got = await download(gpu, out, outer * inner);
  const x64 = Float64Array.from(x);
  const expected = new Float64Array(outer * inner);
  reduceCpu(op, x64, expected, outer, n, inner);
  const label = `${op} [${outer}, ${n}, ${inner}] binding ${bindingBytes ?? 'whole'}`;
  if (op === 'sum') {
    const scale = new Float64Array(outer * inner);
    reduceCpu('sum', x64.map(Math.abs), scale, outer, n, inner);
    const normalize = (v: ArrayLike<number>) => Float64Array.from(v, (s, k) => s / (scale[k] || 1));
    expectClose(normalize(got), normalize(expected), { rtol: 0, atol: 1e-6 }, label);
  } else {
    expectClose(got, expected, op === 'sum_squares' ? { rtol: 1e-6, atol: 0 } : { rtol: 0, atol: 0 }, label);
  }
  gpu.pool.release(xb);
  gpu.pool.release(out);
}

describe('reduce', () => {
  for (const op of OPS) {
    it(`${op} matches the CPU reference on every layout`, async () => {
      const gpu = await testGpu();
      await fc.assert(
        fc.asyncProperty(views, fc.integer(), async ({ outer, n, inner }, seed) => {
          await checkReduce(gpu, op, randomFloats(outer * n * inner, seed, -10, 10), outer, n, inner);
        }),
        { numRuns: 25 },
      );
    });
  }

  it('stays accurate over 10^6 elements (3 passes), as rows and as columns', async () => {
    const gpu = await testGpu();
    const positive = randomFloats(1_000_000, 7, 0, 1);
    const mixed = randomFloats(1_000_000, 8, -1, 1);
    await checkReduce(gpu, 'sum', positive, 1, 1_000_000, 1);
    await checkReduce(gpu, 'sum_squares', mixed, 1, 1_000_000, 1);
    await checkReduce(gpu, 'sum', mixed.subarray(0, 999_999), 1, 999_999, 1);
    await checkReduce(gpu, 'sum', positive, 1, 250_000, 4);
    await checkReduce(gpu, 'sum', mixed, 2, 100_000, 5);
    await checkReduce(gpu, 'max', mixed, 1, 1_000_000, 1);
  });

  it('reduces rows past one storage binding in windows (runs of rows, or chunks of one row)', async () => {
    const gpu = await testGpu();
    const rows = fc.record({ outer: fc.integer({ min: 1, max: 5 }), n: fc.integer({ min: 1, max: 3000 }), op: fc.constantFrom(...OPS) });
    await fc.assert(
      fc.asyncProperty(rows, fc.constantFrom(2048, 4096), fc.integer(), async ({ outer, n, op }, bytes, seed) => {
        await checkReduce(gpu, op, randomFloats(outer * n, seed, -10, 10), outer, n, 1, bytes);
      }),
      { numRuns: 30 },
    );
    await checkReduce(gpu, 'sum_squares', randomFloats(300_000, 9, -1, 1), 1, 300_000, 1, 65536);
  });

  it('reduces an empty axis to the identity', async () => {
    const gpu = await testGpu();
    for (const [op, identity] of [['sum', 0], ['max', -Infinity], ['min', Infinity]] as const) {
      const [x, out] = [nanBuffer(gpu, 1), nanBuffer(gpu, 6)];
      reduceGpu(gpu, op, x, out, 2, 0, 3);
      expect(Array.from(await download(gpu, out, 6))).toEqual(new Array(6).fill(identity));
      gpu.pool.release(x);
      gpu.pool.release(out);
    }
  });
});

describe('argmax', () => {
  it('finds the first maximum of each row', async () => {
    const gpu = await testGpu();
    const shapes = fc.record({
      rows: fc.integer({ min: 1, max: 5 }),
      n: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 60_000, max: 70_000 })),
      levels: fc.integer({ min: 1, max: 1000 }),
    });
    await fc.assert(
      fc.asyncProperty(shapes, fc.integer(), async ({ rows, n, levels }, seed) => {
        // few distinct values, so rows hold ties across chunks
        const x = randomFloats(rows * n, seed, 0, levels).map(Math.floor);
        const [xb, out] = [upload(gpu, x), nanBuffer(gpu, rows)];
        argmaxGpu(gpu, xb, out, rows, n);
        const expected = new Int32Array(rows);
        argmaxCpu(Float64Array.from(x), expected, rows, n);
        expect(Array.from(await downloadI32(gpu, out, rows)), `argmax [${rows}, ${n}]`).toEqual(Array.from(expected));
        gpu.pool.release(xb);
        gpu.pool.release(out);
      }),
      { numRuns: 20 },
    );
  });
});
