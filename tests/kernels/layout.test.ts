// Layout kernels (WGSL) against their CPU references. They move 4-byte words, so the check is
// bit-exact: data are random int32 words (many are NaN patterns as floats, which must survive).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copyRangeCpu, copyRangeGpu, permuteCpu, permuteGpu } from '../../kernels/layout.js';
import { downloadI32, nanBuffer, testGpu, upload } from '../helpers/gpu.js';

function product(shape: number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

function randomWords(n: number, seed: number): Int32Array {
  let state = seed >>> 0;
  return Int32Array.from({ length: n }, () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) | 0);
}

describe('permute', () => {
  it('matches the CPU reference for every rank and permutation, on i32 and f64 storage', async () => {
    const gpu = await testGpu();
    const shapes = fc
      .array(fc.oneof(fc.integer({ min: 1, max: 7 }), fc.constantFrom(4, 8)), { maxLength: 6 })
      .filter((s) => product(s) <= 20_000)
      .chain((shape) => fc.tuple(fc.constant(shape), fc.shuffledSubarray([...shape.keys()], { minLength: shape.length })));
    await fc.assert(
      fc.asyncProperty(shapes, fc.integer(), async ([shape, perm], seed) => {
        const n = product(shape);
        const x = randomWords(n, seed);
        const [xb, out] = [upload(gpu, x), nanBuffer(gpu, n)];
        permuteGpu(gpu, xb, shape, perm, out);
        const expected = new Int32Array(n);
        permuteCpu(x, shape, perm, expected);
        const got = await downloadI32(gpu, out, n);
        expect(got.every((v, k) => v === expected[k]), `permute [${shape}] by [${perm}]`).toBe(true);
        const asFloats = new Float64Array(n);
        permuteCpu(Float64Array.from(x), shape, perm, asFloats);
        expect(asFloats.every((v, k) => v === expected[k])).toBe(true);
        gpu.pool.release(xb);
        gpu.pool.release(out);
      }),
      { numRuns: 60 },
    );
  });

  it('moves a large head split [B,T,H,D] -> [B,H,T,D] and a large transpose', async () => {
    const gpu = await testGpu();
    for (const [shape, perm] of [[[2, 300, 8, 64], [0, 2, 1, 3]], [[513, 1001], [1, 0]]]) {
      const n = product(shape);
      const x = randomWords(n, n);
      const [xb, out] = [upload(gpu, x), nanBuffer(gpu, n)];
      permuteGpu(gpu, xb, shape, perm, out);
      const expected = new Int32Array(n);
      permuteCpu(x, shape, perm, expected);
      const got = await downloadI32(gpu, out, n);
      expect(got.every((v, k) => v === expected[k]), `permute [${shape}] by [${perm}]`).toBe(true);
      gpu.pool.release(xb);
      gpu.pool.release(out);
    }
  });
});

describe('copyRange', () => {
  it('copies the block and leaves every other destination word alone, in one binding or in runs', async () => {
    const gpu = await testGpu();
    const cases = fc
      .record({
        outer: fc.integer({ min: 1, max: 5 }),
        srcN: fc.integer({ min: 1, max: 40 }),
        dstN: fc.integer({ min: 1, max: 40 }),
        inner: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constantFrom(4, 8, 64)),
      })
      .chain((c) =>
        fc.integer({ min: 0, max: Math.min(c.srcN, c.dstN) }).chain((len) =>
          fc
            .record({ srcStart: fc.integer({ min: 0, max: c.srcN - len }), dstStart: fc.integer({ min: 0, max: c.dstN - len }) })
            .map((starts) => ({ ...c, len, ...starts })),
        ),
      );
    await fc.assert(
      // bindings of one or two rows force the runs of outer rows that tensors past one storage
      // binding take (rows not a multiple of the offset alignment bind from an earlier offset)
      fc.asyncProperty(cases, fc.integer(), fc.option(fc.constantFrom(1, 2)), async (c, seed, rowsPerRun) => {
        const { outer, srcN, dstN, inner, srcStart, dstStart, len } = c;
        const bindingBytes = rowsPerRun === null ? undefined : gpu.limits.minStorageBufferOffsetAlignment + rowsPerRun * 4 * Math.max(srcN, dstN) * inner;
        const src = randomWords(outer * srcN * inner, seed);
        const dst = randomWords(outer * dstN * inner, seed + 1);
        const [sb, db] = [upload(gpu, src), upload(gpu, dst)];
        copyRangeGpu(gpu, sb, db, outer, srcN, dstN, inner, srcStart, dstStart, len, bindingBytes);
        copyRangeCpu(src, dst, outer, srcN, dstN, inner, srcStart, dstStart, len);
        const got = await downloadI32(gpu, db, dst.length);
        expect(got.every((v, k) => v === dst[k]), JSON.stringify({ ...c, bindingBytes })).toBe(true);
        gpu.pool.release(sb);
        gpu.pool.release(db);
      }),
      { numRuns: 80 },
    );
  });
});
