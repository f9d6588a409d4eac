// Elementwise kernels (WGSL) against their float64 CPU references on random shapes and values.
// Tolerances per op, with the worst error measured over 10^6 draws in brackets:
// - one f32 rounding (neg, abs, relu, square, scale, add_scalar, copy, add, sub, mul, maximum,
//   minimum, comparisons, where): rtol 1e-7, plus atol 1e-37 for results that underflow f32;
// - div rtol 3e-7 [6e-8]; sqrt, rsqrt rtol 1e-6 [9e-8]; log rtol 1e-6 [2.4e-7, ours near 1];
//   exp rtol 2e-6 [1.1e-6 for |x| <= 20: f32 range reduction grows with |x|];
// - tanh rtol 1e-6 [2.6e-7, ours]; sigmoid, silu rtol 3e-6 [1.8e-6];
// - gelu atol 1e-6 [3.8e-7 for |x| <= 10: Φ from our erf fit to ~1.5e-7, times x];
// - gradients, for |g| <= 10: silu_grad rtol 3e-6 + atol 3e-6 [2.2e-6 at silu' = 0, where
//   1 + x·σ(-x) cancels], gelu_grad atol 5e-6 [1.6e-6], tanh_grad atol 2e-6 [8e-7: 1 - y² cancels].
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  binaryCpu, binaryGpu, castGpu, fillGpu, widenBf16Gpu, unaryCpu, unaryGpu, whereCpu, whereGpu, type BinaryOp, type UnaryOp,
} from '../../kernels/elementwise.js';
import type { Gpu } from '../../kernels/gpu.js';
import { expectClose, type Tolerance } from '../helpers/compare.js';
import { download, downloadI32, nanBuffer, testGpu, upload, uploadBf16 } from '../helpers/gpu.js';
import { bf16BitsToF32 } from '../../engine/bf16.js';

const ONE_ROUNDING: Tolerance = { rtol: 1e-7, atol: 1e-37 };

/** n f32 values in [-1, 1] (subnormals flushed to 0, as the GPU does); ops map them to their domains. */
function unitFloats(n: number) {
  const value = fc.float({ min: -1, max: 1, noNaN: true }).map((v) => (Math.abs(v) < 1e-30 ? 0 : v));
  return fc.array(value, { minLength: n, maxLength: n });
}

/** Lengths around the kernel's blocking (vec4 items, 256-invocation workgroups of 4 items each). */
const lengths = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 4090, max: 4200 }), fc.integer({ min: 1, max: 9000 }));

function product(shape: number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

function mapped(u: number[], domain: (u: number) => number): Float32Array {
  return Float32Array.from(u, (v) => Math.fround(domain(v)));
}

/** A buffer of exactly 4·length bytes: not always whole vec4s, so kernels take their scalar path. */
function exactBuffer(gpu: Gpu, data: Float32Array | Int32Array): GPUBuffer {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const buffer = gpu.device.createBuffer({ size: data.byteLength, usage });
  gpu.write(buffer, data);
  return buffer;
}

/** Reads several f32 buffers with one wait for the GPU. */
async function downloadAll(gpu: Gpu, parts: [GPUBuffer, number][]): Promise<Float32Array[]> {
  const total = parts.reduce((sum, [, n]) => sum + n, 0);
  const joined = gpu.pool.acquire(4 * total);
  let offset = 0;
  for (const [buffer, n] of parts) {
    gpu.copy(buffer, 0, joined, 4 * offset, 4 * n);
    offset += n;
  }
  const all = await download(gpu, joined, total);
  gpu.pool.release(joined);
  offset = 0;
  return parts.map(([, n]) => all.subarray(offset, (offset += n)));
}

const UNARY_CASES: Record<UnaryOp, { domain: (u: number) => number; tol: Tolerance }> = {
  neg: { domain: (u) => 100 * u, tol: ONE_ROUNDING },
  exp: { domain: (u) => 20 * u, tol: { rtol: 2e-6, atol: 0 } },
  log: { domain: (u) => 10 ** (4 * u), tol: { rtol: 1e-6, atol: 0 } },
  sqrt: { domain: (u) => 1e4 * Math.abs(u), tol: { rtol: 1e-6, atol: 0 } },
  rsqrt: { domain: (u) => 10 ** (4 * u), tol: { rtol: 1e-6, atol: 0 } },
  tanh: { domain: (u) => 12 * u, tol: { rtol: 1e-6, atol: 1e-37 } },
  sigmoid: { domain: (u) => 30 * u, tol: { rtol: 3e-6, atol: 1e-37 } },
  silu: { domain: (u) => 30 * u, tol: { rtol: 3e-6, atol: 1e-37 } },
  gelu: { domain: (u) => 10 * u, tol: { rtol: 1e-6, atol: 1e-6 } },
  relu: { domain: (u) => 100 * u, tol: ONE_ROUNDING },
  abs: { domain: (u) => 100 * u, tol: ONE_ROUNDING },
  square: { domain: (u) => 100 * u, tol: ONE_ROUNDING },
  scale: { domain: (u) => 100 * u, tol: ONE_ROUNDING },
  add_scalar: { domain: (u) => 100 * u, tol: ONE_ROUNDING },
  copy: { domain: (u) => 100 * u, tol: ONE_ROUNDING },
};
const UNARY_OPS = Object.keys(UNARY_CASES) as UnaryOp[];

describe('unary', () => {
  it('every op matches the CPU reference, on the vec4 path and the scalar path', async () => {
    const gpu = await testGpu();
    const alphas = fc.float({ min: -8, max: 8, noNaN: true }).map((v) => (Math.abs(v) < 1e-30 ? 0 : v));
    const cases = lengths.chain(unitFloats);
    await fc.assert(
      fc.asyncProperty(cases, alphas, fc.boolean(), async (u, alpha, scalarPath) => {
        const n = u.length;
        const make = (data: Float32Array) => (scalarPath ? exactBuffer(gpu, data) : upload(gpu, data));
        const runs = UNARY_OPS.map((op) => {
          const x = mapped(u, UNARY_CASES[op].domain);
          const [xb, out] = [make(x), make(new Float32Array(n).fill(NaN))];
          unaryGpu(gpu, op, xb, out, n, alpha);
          return { op, x, xb, out };
        });
        const outputs = await downloadAll(gpu, runs.map(({ out }) => [out, n]));
        runs.forEach(({ op, x, xb, out }, k) => {
          const expected = new Float64Array(n);
          unaryCpu(op, Float64Array.from(x), expected, n, alpha);
          expectClose(outputs[k], expected, UNARY_CASES[op].tol, `${op} n=${n} alpha=${alpha}`);
          for (const buffer of [xb, out]) scalarPath ? buffer.destroy() : gpu.pool.release(buffer);
        });
      }),
      { numRuns: 16 },
    );
  });
});

/** An output shape (rank 0..6) and `operands` shapes that broadcast to it. */
function broadcastShapes(operands: number) {
  const outShape = fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 6 }).filter((s) => product(s) <= 6000);
  return outShape.chain((out) => {
    const operand = fc
      .tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }))
      .map(([rank, ones]) => out.slice(out.length - rank).map((d, k) => (ones[out.length - rank + k] ? 1 : d)));
    return fc.tuple(fc.constant(out), fc.array(operand, { minLength: operands, maxLength: operands }));
  });
}

const BINARY_CASES: Record<BinaryOp, { a: (u: number) => number; b: (u: number) => number; tol: Tolerance }> = {
  add: { a: (u) => 100 * u, b: (u) => 100 * u, tol: ONE_ROUNDING },
  sub: { a: (u) => 100 * u, b: (u) => 100 * u, tol: ONE_ROUNDING },
  mul: { a: (u) => 100 * u, b: (u) => 100 * u, tol: ONE_ROUNDING },
  div: { a: (u) => 100 * u, b: (u) => Math.sign(u || 1) * 10 ** (4 * Math.abs(u) - 2), tol: { rtol: 3e-7, atol: 1e-37 } },
  maximum: { a: (u) => 100 * u, b: (u) => 100 * u, tol: ONE_ROUNDING },
  minimum: { a: (u) => 100 * u, b: (u) => 100 * u, tol: ONE_ROUNDING },
  // small integers, so that comparisons see ties
  eq: { a: (u) => Math.round(2 * u), b: (u) => Math.round(2 * u), tol: ONE_ROUNDING },
  gt: { a: (u) => Math.round(2 * u), b: (u) => Math.round(2 * u), tol: ONE_ROUNDING },
  ge: { a: (u) => Math.round(2 * u), b: (u) => Math.round(2 * u), tol: ONE_ROUNDING },
  lt: { a: (u) => Math.round(2 * u), b: (u) => Math.round(2 * u), tol: ONE_ROUNDING },
  silu_grad: { a: (u) => 30 * u, b: (u) => 10 * u, tol: { rtol: 3e-6, atol: 3e-6 } },
  gelu_grad: { a: (u) => 10 * u, b: (u) => 10 * u, tol: { rtol: 1e-6, atol: 5e-6 } },
  tanh_grad: { a: (u) => u, b: (u) => 10 * u, tol: { rtol: 1e-6, atol: 2e-6 } },
  silu_mul: { a: (u) => 30 * u, b: (u) => 10 * u, tol: { rtol: 3e-6, atol: 3e-6 } },
};
const BINARY_OPS = Object.keys(BINARY_CASES) as BinaryOp[];

describe('binary', () => {
  it('every op matches the CPU reference, on the vec4 path and the scalar path', async () => {
    const gpu = await testGpu();
    const cases = lengths.chain((n) => fc.tuple(unitFloats(n), unitFloats(n)));
    await fc.assert(
      fc.asyncProperty(cases, fc.boolean(), async ([ua, ub], scalarPath) => {
        const n = ua.length;
        const make = (data: Float32Array) => (scalarPath ? exactBuffer(gpu, data) : upload(gpu, data));
        const runs = BINARY_OPS.map((op) => {
          const [a, b] = [mapped(ua, BINARY_CASES[op].a), mapped(ub, BINARY_CASES[op].b)];
          const buffers = [make(a), make(b), make(new Float32Array(n).fill(NaN))];
          binaryGpu(gpu, op, buffers[0], [n], buffers[1], [n], buffers[2], [n]);
          return { op, a, b, buffers };
        });
        const outputs = await downloadAll(gpu, runs.map(({ buffers }) => [buffers[2], n]));
        runs.forEach(({ op, a, b, buffers }, k) => {
          const expected = new Float64Array(n);
          binaryCpu(op, Float64Array.from(a), [n], Float64Array.from(b), [n], expected, [n]);
          expectClose(outputs[k], expected, BINARY_CASES[op].tol, `${op} n=${n}`);
          buffers.forEach((buffer) => (scalarPath ? buffer.destroy() : gpu.pool.release(buffer)));
        });
      }),
      { numRuns: 12 },
    );
  });

  // The op is one expression; broadcasting is the launch around it: two non-commutative ops cover it.
  it('broadcasts like numpy (sub, div)', async () => {
    const gpu = await testGpu();
    const cases = broadcastShapes(2).chain(([outShape, [aShape, bShape]]) =>
      fc.tuple(fc.constant({ outShape, aShape, bShape }), unitFloats(product(aShape)), unitFloats(product(bShape))),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ([{ outShape, aShape, bShape }, ua, ub]) => {
        const n = product(outShape);
        const runs = (['sub', 'div'] as const).map((op) => {
          const [a, b] = [mapped(ua, BINARY_CASES[op].a), mapped(ub, BINARY_CASES[op].b)];
          const buffers = [upload(gpu, a), upload(gpu, b), nanBuffer(gpu, n)];
          binaryGpu(gpu, op, buffers[0], aShape, buffers[1], bShape, buffers[2], outShape);
          return { op, a, b, buffers };
        });
        const outputs = await downloadAll(gpu, runs.map(({ buffers }) => [buffers[2], n]));
        runs.forEach(({ op, a, b, buffers }, k) => {
          const expected = new Float64Array(n);
          binaryCpu(op, Float64Array.from(a), aShape, Float64Array.from(b), bShape, expected, outShape);
          expectClose(outputs[k], expected, BINARY_CASES[op].tol, `${op} [${aShape}] x [${bShape}] -> [${outShape}]`);
          buffers.forEach((buffer) => gpu.pool.release(buffer));
        });
      }),
      { numRuns: 40 },
    );
  });
});

describe('where', () => {
  it('picks a where cond != 0, else b, broadcasting all three', async () => {
    const gpu = await testGpu();
    const cases = broadcastShapes(3).chain(([outShape, shapes]) =>
      fc.tuple(fc.constant({ outShape, shapes }), ...shapes.map((shape) => unitFloats(product(shape)))),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ([{ outShape, shapes }, uc, ua, ub]) => {
        const n = product(outShape);
        const [condShape, aShape, bShape] = shapes;
        const [cond, a, b] = [mapped(uc, Math.round), mapped(ua, (u) => 100 * u), mapped(ub, (u) => 100 * u)];
        const buffers = [upload(gpu, cond), upload(gpu, a), upload(gpu, b), nanBuffer(gpu, n)];
        whereGpu(gpu, buffers[0], condShape, buffers[1], aShape, buffers[2], bShape, buffers[3], outShape);
        const expected = new Float64Array(n);
        whereCpu(Float64Array.from(cond), condShape, Float64Array.from(a), aShape, Float64Array.from(b), bShape, expected, outShape);
        const label = `where [${condShape}] [${aShape}] [${bShape}] -> [${outShape}]`;
        expectClose(await download(gpu, buffers[3], n), expected, ONE_ROUNDING, label);
        buffers.forEach((buffer) => gpu.pool.release(buffer));
      }),
      { numRuns: 25 },
    );
  });
});

describe('fill and cast', () => {
  it('fill writes n words of f32 or i32 and leaves the words after them alone', async () => {
    const gpu = await testGpu();
    await fc.assert(
      fc.asyncProperty(lengths, fc.boolean(), fc.integer(), async (n, isFloat, raw) => {
        const value = isFloat ? Math.fround(raw / 7) : raw;
        const out = nanBuffer(gpu, n + 8);
        fillGpu(gpu, out, n, value, isFloat ? 'f32' : 'i32');
        const words = await gpu.read(out, 0, 4 * (n + 8));
        const filled = isFloat ? new Float32Array(words, 0, n) : new Int32Array(words, 0, n);
        expect(filled.every((v) => v === value)).toBe(true);
        expect(new Float32Array(words, 4 * n).every(Number.isNaN)).toBe(true);
        gpu.pool.release(out);
      }),
      { numRuns: 12 },
    );
  });

  it('cast f32 -> i32 truncates toward zero; i32 -> f32 rounds to nearest', async () => {
    const gpu = await testGpu();
    const cases = lengths.chain((n) => fc.tuple(unitFloats(n), fc.array(fc.integer(), { minLength: n, maxLength: n })));
    await fc.assert(
      fc.asyncProperty(cases, async ([u, ints]) => {
        const n = u.length;
        const [x, ids] = [mapped(u, (v) => 1e6 * v), Int32Array.from(ints)];
        const [xb, toInt, ib, toFloat] = [upload(gpu, x), nanBuffer(gpu, n), upload(gpu, ids), nanBuffer(gpu, n)];
        castGpu(gpu, xb, toInt, n, 'i32');
        castGpu(gpu, ib, toFloat, n, 'f32');
        expect(Array.from(await downloadI32(gpu, toInt, n))).toEqual(Array.from(x, (v) => Math.trunc(v) | 0));
        expect(Array.from(await download(gpu, toFloat, n))).toEqual(Array.from(ids, Math.fround));
        [xb, toInt, ib, toFloat].forEach((buffer) => gpu.pool.release(buffer));
      }),
      { numRuns: 8 },
    );
  });

  it('binds tensors larger than one storage binding in windows', async () => {
    const gpu = await testGpu();
    const n = gpu.limits.maxStorageBufferBindingSize / 4 + 1001;
    const [x, y] = [gpu.pool.acquire(4 * n), gpu.pool.acquire(4 * n)];
    fillGpu(gpu, x, n, 2, 'f32');
    unaryGpu(gpu, 'add_scalar', x, y, n, 3);
    const tail = new Float32Array(await gpu.read(y, 4 * (n - 2000), 4 * 2000));
    const head = new Float32Array(await gpu.read(y, 0, 64));
    expect(tail.every((v) => v === 5) && head.every((v) => v === 5)).toBe(true);
    gpu.pool.release(x);
    gpu.pool.release(y);
  });
});

describe('widenBf16', () => {
  it('widens every bf16 bit pattern exactly (odd counts included)', async () => {
    const gpu = await testGpu();
    // every finite pattern, and an odd tail
    const bits = Uint16Array.from({ length: 65535 }, (_, i) => i).filter((b) => (b & 0x7f80) !== 0x7f80);
    const [x, out] = [uploadBf16(gpu, bits), nanBuffer(gpu, bits.length)];
    widenBf16Gpu(gpu, x, out, bits.length);
    expect(Array.from(await download(gpu, out, bits.length))).toEqual(Array.from(bf16BitsToF32(bits)));
    [x, out].forEach((b) => gpu.pool.release(b));
  });
});
