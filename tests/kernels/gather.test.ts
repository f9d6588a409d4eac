// Row gather and scatter-add (WGSL) against their float64 CPU references. Gather moves words, so
// it must be exact. Scatter-add sums, in f32 and in index order, the m grad rows of an id into
// its dTable row: it is held to the bound of such a sum, (m + 1)·2^-24·(|dTable| + Σ|grad|).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gatherRowsCpu, gatherRowsGpu, scatterAddRowsCpu, scatterAddRowsGpu } from '../../kernels/gather.js';
import { fillGpu } from '../../kernels/elementwise.js';
import { expectClose } from '../helpers/compare.js';
import { bf16BitsToF32, toBf16Bits } from '../../engine/bf16.js';
import { download, nanBuffer, testGpu, upload, uploadBf16 } from '../helpers/gpu.js';

function randomFloats(n: number, seed: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  });
}

/** Tables, and ids that repeat (few rows) and stray outside [0, nRows). */
const cases = fc
  .record({
    nRows: fc.integer({ min: 1, max: 40 }),
    rowLen: fc.oneof(fc.integer({ min: 1, max: 70 }), fc.constantFrom(4, 8, 64)),
    nIds: fc.integer({ min: 1, max: 300 }),
    seed: fc.integer(),
  })
  .chain((c) => {
    const id = fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: c.nRows - 1 }) }, fc.constantFrom(-1, -1000, c.nRows, 1 << 30));
    return fc.array(id, { minLength: c.nIds, maxLength: c.nIds }).map((ids) => ({ ...c, ids: Int32Array.from(ids) }));
  });

describe('gatherRows', () => {
  it('copies the rows of valid ids and zeroes the others', async () => {
    const gpu = await testGpu();
    await fc.assert(
      fc.asyncProperty(cases, async ({ nRows, rowLen, nIds, seed, ids }) => {
        const table = randomFloats(nRows * rowLen, seed);
        const [tb, ib, out] = [upload(gpu, table), upload(gpu, ids), nanBuffer(gpu, nIds * rowLen)];
        gatherRowsGpu(gpu, tb, ib, out, nIds, rowLen, nRows);
        const expected = new Float64Array(nIds * rowLen);
        gatherRowsCpu(Float64Array.from(table), ids, expected, nIds, rowLen, nRows);
        expectClose(await download(gpu, out, nIds * rowLen), expected, { rtol: 0, atol: 0 }, `gather [${nRows}, ${rowLen}] by ${nIds} ids`);
        [tb, ib, out].forEach((b) => gpu.pool.release(b));
      }),
      { numRuns: 50 },
    );
  });

  it('widens the rows of a bf16 table exactly', async () => {
    const gpu = await testGpu();
    await fc.assert(
      fc.asyncProperty(cases, async ({ nRows, rowLen, nIds, seed, ids }) => {
        const evenLen = 2 * Math.ceil(rowLen / 2);
        const bits = toBf16Bits(randomFloats(nRows * evenLen, seed));
        const [tb, ib, out] = [uploadBf16(gpu, bits), upload(gpu, ids), nanBuffer(gpu, nIds * evenLen)];
        gatherRowsGpu(gpu, tb, ib, out, nIds, evenLen, nRows, true);
        const expected = new Float64Array(nIds * evenLen);
        gatherRowsCpu(Float64Array.from(bf16BitsToF32(bits)), ids, expected, nIds, evenLen, nRows);
        expectClose(await download(gpu, out, nIds * evenLen), expected, { rtol: 0, atol: 0 }, `bf16 gather [${nRows}, ${evenLen}] by ${nIds} ids`);
        [tb, ib, out].forEach((b) => gpu.pool.release(b));
      }),
      { numRuns: 30 },
    );
  });
});

describe('scatterAddRows', () => {
  it('adds each grad row into its dTable row, skipping invalid ids', async () => {
    const gpu = await testGpu();
    await fc.assert(
      fc.asyncProperty(cases, async ({ nRows, rowLen, nIds, seed, ids }) => {
        const grad = randomFloats(nIds * rowLen, seed);
        const dTable = randomFloats(nRows * rowLen, seed + 1);
        const [gb, ib, tb] = [upload(gpu, grad), upload(gpu, ids), upload(gpu, dTable)];
        scatterAddRowsGpu(gpu, gb, ib, tb, nIds, rowLen, nRows);
        const expected = Float64Array.from(dTable);
        scatterAddRowsCpu(Float64Array.from(grad), ids, expected, nIds, rowLen, nRows);
        const scale = Float64Array.from(dTable, Math.abs);
        scatterAddRowsCpu(Float64Array.from(grad, Math.abs), ids, scale, nIds, rowLen, nRows);
        const hits = new Array<number>(nRows).fill(0);
        ids.forEach((id) => id >= 0 && id < nRows && hits[id]++);
        const bound = (k: number) => (hits[Math.floor(k / rowLen)] + 1) * 2 ** -24 * scale[k];
        const normalize = (v: ArrayLike<number>) => Float64Array.from(v, (s, k) => s / (bound(k) || 1));
        const got = await download(gpu, tb, nRows * rowLen);
        expectClose(normalize(got), normalize(expected), { rtol: 0, atol: 1 }, `scatter-add [${nRows}, ${rowLen}] by ${nIds} ids`);
        [gb, ib, tb].forEach((b) => gpu.pool.release(b));
      }),
      { numRuns: 50 },
    );
  });
});

describe('tables larger than one storage binding', () => {
  it('gathers from and scatters into every window', async () => {
    const gpu = await testGpu();
    const rowLen = 1000;
    const nRows = Math.ceil((1.1 * gpu.limits.maxStorageBufferBindingSize) / (4 * rowLen));
    const table = gpu.pool.acquire(4 * nRows * rowLen);
    fillGpu(gpu, table, nRows * rowLen, 0, 'f32');
    const rows = [0, 1, 33_000, 33_600, nRows - 1];
    rows.forEach((r) => gpu.write(table, new Float32Array(rowLen).fill(r + 0.5), 4 * r * rowLen));
    const ids = Int32Array.from([nRows - 1, 33_000, -1, 0, 1, nRows, 33_600, 33_000]);
    const [ib, out] = [upload(gpu, ids), nanBuffer(gpu, ids.length * rowLen)];
    gatherRowsGpu(gpu, table, ib, out, ids.length, rowLen, nRows);
    const got = await download(gpu, out, ids.length * rowLen);
    const rowValue = (id: number) => (id >= 0 && id < nRows ? id + 0.5 : 0);
    expect(Array.from(ids, (_, i) => got[i * rowLen + rowLen - 1])).toEqual(Array.from(ids, rowValue));

    const grad = upload(gpu, new Float32Array(ids.length * rowLen).fill(1));
    scatterAddRowsGpu(gpu, grad, ib, table, ids.length, rowLen, nRows);
    for (const r of rows) {
      const row = new Float32Array(await gpu.read(table, 4 * r * rowLen, 4 * rowLen));
      const hits = ids.filter((id) => id === r).length;
      expect([row[0], row[rowLen - 1]], `row ${r}`).toEqual([r + 0.5 + hits, r + 0.5 + hits]);
    }
    [table, ib, out, grad].forEach((b) => gpu.pool.release(b));
  });

  it('gathers from every window of a bf16 table', async () => {
    const gpu = await testGpu();
    const rowLen = 1000;
    const nRows = Math.ceil((1.1 * gpu.limits.maxStorageBufferBindingSize) / (2 * rowLen));
    const table = gpu.pool.acquire(2 * nRows * rowLen);
    fillGpu(gpu, table, (nRows * rowLen) / 2, 0, 'f32');
    const rows = [0, 1, 66_000, 67_200, nRows - 1];
    rows.forEach((r) => gpu.write(table, toBf16Bits(new Float32Array(rowLen).fill(r + 0.5)), 2 * r * rowLen));
    const ids = Int32Array.from([nRows - 1, 66_000, -1, 0, 1, nRows, 67_200]);
    const [ib, out] = [upload(gpu, ids), nanBuffer(gpu, ids.length * rowLen)];
    gatherRowsGpu(gpu, table, ib, out, ids.length, rowLen, nRows, true);
    const got = await download(gpu, out, ids.length * rowLen);
    const rowValue = (id: number) => (id >= 0 && id < nRows ? Math.fround(bf16BitsToF32(toBf16Bits([id + 0.5]))[0]) : 0);
    expect(Array.from(ids, (_, i) => got[i * rowLen + rowLen - 1])).toEqual(Array.from(ids, rowValue));
    [table, ib, out].forEach((b) => gpu.pool.release(b));
  });
});
