// Frozen bf16 weights: every op that reads a weight (matmul's b, loraLinear's W, embedding's
// table, linearCrossEntropy's W) gives, on both backends, what it gives with the same weight
// widened to f32 (the widening is exact, so only f32 rounding differs), outputs and the
// gradients of its trainable inputs; and a bf16 tensor can neither train nor slip into an op
// that does not read weights.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { bf16BitsToF32, toBf16Bits } from '../../engine/bf16.js';
import { expectClose } from '../helpers/compare.js';
import { cpu, seeded, webgpu } from '../helpers/engines.js';

// float32 sums over K on the device against float64 on the CPU, as the ops tests' reductions
const TOL = { rtol: 1e-5, atol: 1e-5 };
const dim = (max: number) => fc.integer({ min: 1, max });
const seed = fc.integer({ min: 1, max: 2 ** 31 - 1 });

/** Random f32 inputs, and a weight as bf16 bits with the same values widened. */
function data(seed: number, shapes: number[][], weightShape: number[]) {
  const rand = seeded(seed);
  const floats = (n: number) => Array.from({ length: n }, () => rand() * 2 - 1);
  const inputs = shapes.map((s) => floats(E.shapeSize(s)));
  const bits = toBf16Bits(floats(E.shapeSize(weightShape)));
  return { inputs, bits, widened: Array.from(bf16BitsToF32(bits)) };
}

type Case = (engine: E.Engine, inputs: E.Tensor[], weight: E.Tensor) => E.Tensor;

/** Output and input gradients of fn with the weight as bf16, and as f32 (frozen either way). */
async function run(engine: E.Engine, fn: Case, shapes: number[][], weightShape: number[], s: number, bf16: boolean) {
  const { inputs, bits, widened } = data(s, shapes, weightShape);
  const xs = inputs.map((d, i) => engine.parameter(engine.tensor(d, shapes[i])));
  const out = engine.scope(() => {
    const w = bf16 ? engine.tensor(bits, weightShape, 'bf16') : engine.tensor(widened, weightShape);
    const y = E.keep(fn(engine, xs, w));
    E.backward(y, engine.tensor(Array.from({ length: y.size }, (_, i) => Math.sin(i + 1)), y.shape));
    return y;
  });
  const result = { out: Array.from(await out.data()), grads: await Promise.all(xs.map(async (x) => Array.from(await x.grad!.data()))) };
  [out, ...xs].forEach((t) => t.dispose());
  return result;
}

async function checkAgainstWidened(name: string, fn: Case, shapes: number[][], weightShape: number[], s: number) {
  const gpu = await webgpu();
  const ref = await run(cpu, fn, shapes, weightShape, s, false);
  for (const [engine, label] of [[cpu, 'cpu'], [gpu, 'webgpu']] as const) {
    const got = await run(engine, fn, shapes, weightShape, s, true);
    expectClose(got.out, ref.out, TOL, `${name} forward, bf16 weight on ${label} vs widened on cpu`);
    got.grads.forEach((g, i) => expectClose(g, ref.grads[i], TOL, `${name} d/dinput${i}, bf16 weight on ${label} vs widened on cpu`));
  }
}

describe('bf16 weights', () => {
  it('matmul (as b, either layout), loraLinear and linearCrossEntropy match the widened weight', async () => {
    await fc.assert(
      fc.asyncProperty(dim(40), dim(40), dim(40), dim(8), seed, async (M, K, N, r, s) => {
        await checkAgainstWidened('matmul transB', (_, [x], w) => E.matmul(x, w, { transB: true }), [[M, K]], [N, K], s);
        await checkAgainstWidened('matmul', (_, [x], w) => E.matmul(x, w), [[2, M, K]], [K, N], s);
        await checkAgainstWidened('loraLinear', (_, [x, a, b], w) => E.loraLinear(x, w, a, b, 0.5), [[M, K], [r, K], [N, r]], [N, K], s);
        const targets = (e: E.Engine) => e.tensor(Array.from({ length: M }, (_, i) => (i % 4 === 3 ? -100 : (i * 5 + s) % N)), [M], 'i32');
        await checkAgainstWidened('linearCrossEntropy', (e, [h], w) => E.linearCrossEntropy(h, w, targets(e), { chunkRows: 1 + (s % M) }), [[M, K]], [N, K], s);
      }),
      { numRuns: 6 },
    );
  });

  it('embedding rows widen exactly', async () => {
    await fc.assert(
      fc.asyncProperty(dim(30), dim(20), dim(50), seed, async (V, half, n, s) => {
        const d = 2 * half;
        const { bits, widened } = data(s, [], [V, d]);
        const ids = Array.from({ length: n }, (_, i) => (i * 7 + s) % V);
        for (const engine of [cpu, await webgpu()]) {
          const got = await E.embedding(engine.tensor(bits, [V, d], 'bf16'), engine.tensor(ids, [n], 'i32')).data();
          expect(Array.from(got)).toEqual(ids.flatMap((id) => widened.slice(id * d, (id + 1) * d)));
        }
      }),
      { numRuns: 6 },
    );
  });

  it('reads, casts and assigns as f32 values; assign rounds to bf16', async () => {
    for (const engine of [cpu, await webgpu()]) {
      const w = engine.tensor(toBf16Bits([1, -2.5, 3.140625]), [3], 'bf16');
      expect(Array.from(await w.data())).toEqual([1, -2.5, 3.140625]);
      expect(Array.from(await E.cast(w, 'f32').data())).toEqual([1, -2.5, 3.140625]);
      w.assign([0.1, 1 + 2 ** -9, 1 + 3 * 2 ** -9]);
      expect(Array.from(await w.data())).toEqual([0.10009765625, 1, 1 + 2 ** -7]);
    }
  });

  it('cannot train, and ops that do not read weights refuse it by name', async () => {
    const w = cpu.tensor(toBf16Bits([1, 2, 3, 4]), [2, 2], 'bf16');
    expect(() => (w.requiresGrad = true)).toThrow(/bf16 tensor \[2, 2\] cannot require grad/);
    expect(() => cpu.parameter(w)).toThrow(/cannot require grad/);
    expect(() => E.add(w, w)).toThrow(/add: expects f32 tensors; a bf16 weight is read only by .*cast\(t, 'f32'\)/);
    expect(() => E.matmul(w, cpu.ones([2, 2]))).toThrow(/matmul: expects f32 tensors/);
  });
});
