// Every differentiable op: WebGPU vs CPU forward, CPU gradients vs float64 finite differences,
// WebGPU gradients vs CPU gradients, on random shapes and values (fast-check).
import fc from 'fast-check';
import { describe, it } from 'vitest';
import * as E from '../../engine/index.js';
import { checkOp, type InputSpec, type OpTolerances } from '../helpers/op_check.js';

const RUNS = { numRuns: 4 };
const dim = (max: number) => fc.integer({ min: 1, max });
const seed = fc.integer({ min: 1, max: 2 ** 31 - 1 });
const float = (shape: number[], grad = true): InputSpec => ({ shape, input: { kind: 'float' }, grad });
const positive = (shape: number[]): InputSpec => ({ shape, input: { kind: 'positive' }, grad: true });

// float32 elementwise: a few ulps; transcendental kernels and reductions a little more
const EXACT: OpTolerances = { forward: { rtol: 1e-6, atol: 1e-7 }, gradient: { rtol: 1e-6, atol: 1e-7 } };
const TRANSC: OpTolerances = { forward: { rtol: 1e-5, atol: 1e-6 }, gradient: { rtol: 1e-5, atol: 1e-6 } };
// gradients of broadcast inputs are sums over the broadcast dims (float32 accumulation)
const BROADCAST: OpTolerances = { forward: EXACT.forward, gradient: { rtol: 1e-5, atol: 1e-6 } };
const REDUCE: OpTolerances = { forward: { rtol: 1e-5, atol: 1e-5 }, gradient: { rtol: 1e-5, atol: 1e-5 } };

/** A shape and a second shape that broadcasts against it (some dims dropped or set to 1). */
const broadcastPair = fc
  .tuple(fc.array(dim(5), { minLength: 1, maxLength: 4 }), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 2 }))
  .map(([shape, modes, drop]) => {
    const other = shape.map((d, i) => (modes[i] === 1 ? 1 : d)).slice(Math.min(drop, shape.length - 1));
    return [shape, other] as const;
  });

describe('elementwise ops', () => {
  const binaries: Array<[string, (a: E.Tensor, b: E.Tensor) => E.Tensor, boolean]> = [
    ['add', E.add, false],
    ['sub', E.sub, false],
    ['mul', E.mul, false],
    ['div', E.div, true],
  ];
  for (const [name, op, positiveDivisor] of binaries) {
    it(`${name} with broadcasting`, async () => {
      await fc.assert(
        fc.asyncProperty(broadcastPair, fc.boolean(), seed, async ([sa, sb], swap, s) => {
          const [x, y] = swap ? [sb, sa] : [sa, sb];
          await checkOp(name, [float([...x]), positiveDivisor ? positive([...y]) : float([...y])], ([a, b]) => op(a, b), BROADCAST, s);
        }),
        RUNS,
      );
    });
  }

  const unaries: Array<[string, (x: E.Tensor) => E.Tensor, 'float' | 'positive', OpTolerances]> = [
    ['scale', (x) => E.scale(x, -1.7), 'float', EXACT],
    ['addScalar', (x) => E.addScalar(x, 0.3), 'float', EXACT],
    ['neg', E.neg, 'float', EXACT],
    ['exp', E.exp, 'float', TRANSC],
    ['log', E.log, 'positive', TRANSC],
    ['sqrt', E.sqrt, 'positive', TRANSC],
    ['rsqrt', E.rsqrt, 'positive', TRANSC],
    ['square', E.square, 'float', EXACT],
    ['abs', E.abs, 'float', EXACT],
    ['tanh', E.tanh, 'float', TRANSC],
    ['sigmoid', E.sigmoid, 'float', TRANSC],
    ['relu', E.relu, 'float', EXACT],
    ['silu', E.silu, 'float', TRANSC],
    ['gelu', E.gelu, 'float', TRANSC],
  ];
  for (const [name, op, kind, tol] of unaries) {
    it(name, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(dim(7), { minLength: 1, maxLength: 3 }), seed, async (shape, s) => {
          await checkOp(name, [kind === 'float' ? { shape, input: { kind: 'float', scale: 3 }, grad: true } : positive(shape)], ([x]) => op(x), tol, s);
        }),
        RUNS,
      );
    });
  }

  it('siluMul (fused SwiGLU gate)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(dim(7), { minLength: 1, maxLength: 3 }), seed, async (shape, s) => {
        await checkOp('siluMul', [{ shape, input: { kind: 'float', scale: 3 }, grad: true }, float(shape)], ([g, u]) => E.siluMul(g, u), TRANSC, s);
      }),
      RUNS,
    );
  });

  it('where (mask with broadcasting)', async () => {
    await fc.assert(
      fc.asyncProperty(broadcastPair, seed, async ([sa, sb], s) => {
        await checkOp('where', [{ shape: [...sb], input: { kind: 'mask' } }, float([...sa]), float([...sb])], ([c, a, b]) => E.where(c, a, b), BROADCAST, s);
      }),
      RUNS,
    );
  });
});

describe('reductions', () => {
  const cases: Array<[string, (x: E.Tensor, axis: number | undefined, keep: boolean) => E.Tensor]> = [
    ['sum', (x, axis, keepDims) => E.sum(x, { axis, keepDims })],
    ['mean', (x, axis, keepDims) => E.mean(x, { axis, keepDims })],
    ['max', (x, axis, keepDims) => E.max(x, { axis, keepDims })],
  ];
  for (const [name, op] of cases) {
    it(`${name} over an axis or all`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(dim(9), { minLength: 1, maxLength: 4 }), fc.integer({ min: -1, max: 3 }), fc.boolean(), seed, async (shape, axis, keepDims, s) => {
          const ax = axis < 0 ? undefined : axis % shape.length;
          await checkOp(name, [float(shape)], ([x]) => op(x, ax, keepDims), REDUCE, s);
        }),
        RUNS,
      );
    });
  }

  it('a full sum of 300,001 elements stays accurate', async () => {
    await checkOp('sum-large', [float([300_001], false)], ([x]) => E.sum(x), { forward: { rtol: 1e-5, atol: 2e-3 }, gradient: REDUCE.gradient }, 7);
  });
});

describe('softmax family', () => {
  for (const [name, op] of [['softmax', E.softmax], ['logSoftmax', E.logSoftmax]] as const) {
    it(name, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(dim(9), { minLength: 1, maxLength: 3 }), seed, async (shape, s) => {
          await checkOp(name, [{ shape, input: { kind: 'float', scale: 4 }, grad: true }], ([x]) => op(x), TRANSC, s);
        }),
        RUNS,
      );
    });
  }
});

describe('matmul', () => {
  it('batched, shared operands, all transpose flags, alpha', async () => {
    await fc.assert(
      fc.asyncProperty(dim(3), dim(9), dim(9), dim(9), fc.boolean(), fc.boolean(), fc.constantFrom('both', 'a', 'b'), seed, async (batch, M, N, K, tA, tB, batched, s) => {
        const aMat = tA ? [K, M] : [M, K];
        const bMat = tB ? [N, K] : [K, N];
        const aShape = batched === 'b' ? aMat : [batch, ...aMat];
        const bShape = batched === 'a' ? bMat : [batch, ...bMat];
        await checkOp('matmul', [float(aShape), float(bShape)], ([a, b]) => E.matmul(a, b, { transA: tA, transB: tB, alpha: 0.5 }), REDUCE, s);
      }),
      RUNS,
    );
  });
  it('an odd 17×33×5 product', async () => {
    await checkOp('matmul-odd', [float([17, 5]), float([5, 33])], ([a, b]) => E.matmul(a, b), REDUCE, 3);
  });
  it('linear with bias', async () => {
    await checkOp('linear', [float([2, 3, 7]), float([5, 7]), float([5])], ([x, w, b]) => E.linear(x, w, b), REDUCE, 11);
  });
  it('LoRA projection x·Wᵀ + s·(x·Aᵀ)·Bᵀ, W trained or frozen', async () => {
    await fc.assert(
      fc.asyncProperty(dim(3), dim(9), dim(9), dim(9), dim(4), fc.boolean(), seed, async (batch, M, N, K, r, frozen, s) => {
        await checkOp('loraLinear', [float([batch, M, K]), float([N, K], !frozen), float([r, K]), float([N, r])], ([x, w, a, b]) => E.loraLinear(x, w, a, b, 0.25), REDUCE, s);
      }),
      RUNS,
    );
    // a layer shape at which the WebGPU backend runs x·Wᵀ and x·Aᵀ as one product
    await checkOp('loraLinear-fused', [float([96, 64]), float([64, 64], false), float([16, 64]), float([64, 16])], ([x, w, a, b]) => E.loraLinear(x, w, a, b, 0.5), REDUCE, 7);
  });
});

const shapeAndPerm = fc
  .array(dim(5), { minLength: 2, maxLength: 5 })
  .chain((shape) => fc.tuple(fc.constant(shape), fc.shuffledSubarray(shape.map((_, i) => i), { minLength: shape.length, maxLength: shape.length })));

describe('layout ops', () => {
  it('reshape, permute, transpose', async () => {
    await fc.assert(
      fc.asyncProperty(shapeAndPerm, seed, async ([shape, perm], s) => {
        await checkOp('permute', [float(shape)], ([x]) => E.permute(E.reshape(x, [...shape]), perm), EXACT, s);
        await checkOp('transpose', [float(shape)], ([x]) => E.transpose(x, 0, -1), EXACT, s);
      }),
      RUNS,
    );
  });
  it('slice and concat along any axis', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(dim(6), { minLength: 1, maxLength: 4 }), fc.nat(), seed, async (shape, axisSeed, s) => {
        const axis = axisSeed % shape.length;
        const n = shape[axis];
        const start = s % n;
        const end = start + 1 + ((s >> 3) % (n - start));
        await checkOp('slice', [float(shape)], ([x]) => E.slice(x, axis, start, end), EXACT, s);
        const other = shape.map((d, i) => (i === axis ? 1 + (s % 3) : d));
        await checkOp('concat', [float(shape), float(other), float(shape)], (xs) => E.concat(xs, axis), EXACT, s);
      }),
      RUNS,
    );
  });
});

describe('model ops', () => {
  it('embedding gather (repeated ids scatter-add in backward)', async () => {
    await fc.assert(
      fc.asyncProperty(dim(12), dim(9), dim(20), seed, async (V, D, n, s) => {
        await checkOp('embedding', [float([V, D]), { shape: [n], input: { kind: 'ids', max: V } }], ([t, ids]) => E.embedding(t, ids), EXACT, s);
      }),
      RUNS,
    );
  });
  it('rmsNorm', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(dim(6), { minLength: 1, maxLength: 2 }), dim(40), seed, async (lead, d, s) => {
        await checkOp('rmsNorm', [float([...lead, d]), float([d])], ([x, w]) => E.rmsNorm(x, w, 1e-5), TRANSC, s);
      }),
      RUNS,
    );
  });
  it('layerNorm', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(dim(6), { minLength: 1, maxLength: 2 }), fc.integer({ min: 2, max: 40 }), seed, async (lead, d, s) => {
        await checkOp('layerNorm', [{ shape: [...lead, d], input: { kind: 'spread' }, grad: true }, float([d]), float([d])], ([x, w, b]) => E.layerNorm(x, w, b, 1e-5), TRANSC, s);
      }),
      RUNS,
    );
  });
  it('rope with llama3 scaling', async () => {
    const { ropeInvFreq } = await import('../../kernels/rope.js');
    await fc.assert(
      fc.asyncProperty(dim(2), dim(6), dim(3), fc.integer({ min: 1, max: 8 }), seed, async (B, T, H, half, s) => {
        const D = 2 * half;
        const inv = Array.from(ropeInvFreq(D, 10000, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 }));
        const pos = Array.from({ length: B * T }, (_, i) => (i * 7 + s) % 50);
        await checkOp(
          'rope',
          [float([B, T, H, D]), { shape: [B, T], input: { kind: 'values', values: pos, dtype: 'i32' } }, { shape: [half], input: { kind: 'values', values: inv } }],
          ([x, p, f]) => E.rope(x, p, f),
          TRANSC,
          s,
        );
      }),
      RUNS,
    );
  });
  it('causal attention with grouped-query heads and a key mask with holes', async () => {
    await fc.assert(
      fc.asyncProperty(dim(2), dim(7), fc.constantFrom(1, 2, 4), dim(2), fc.integer({ min: 1, max: 9 }), fc.boolean(), seed, async (B, T, group, Hkv, D, causal, s) => {
        const S = causal ? T : T + (s % 3);
        const H = Hkv * group;
        await checkOp(
          'attention',
          [float([B, T, H, D]), float([B, S, Hkv, D]), float([B, S, Hkv, D]), { shape: [B, S], input: { kind: 'values', values: Array.from({ length: B * S }, (_, i) => (i % S === 0 || (i * 31 + s) % 4 ? 1 : 0)) } }],
          ([q, k, v, m]) => E.attention(q, k, v, { causal, keyMask: m }),
          REDUCE,
          s,
        );
      }),
      RUNS,
    );
  });
  it('cross-entropy with ignored rows, mean and none reductions', async () => {
    await fc.assert(
      fc.asyncProperty(dim(9), dim(30), seed, async (N, V, s) => {
        const targets = Array.from({ length: N }, (_, i) => (i % 3 === 1 ? -100 : (i * 7 + s) % V));
        const t: InputSpec = { shape: [N], input: { kind: 'values', values: targets, dtype: 'i32' } };
        await checkOp('crossEntropy', [{ shape: [N, V], input: { kind: 'float', scale: 3 }, grad: true }, t], ([x, y]) => E.crossEntropy(x, y), TRANSC, s);
        await checkOp('crossEntropy-none', [{ shape: [N, V], input: { kind: 'float', scale: 3 }, grad: true }, t], ([x, y]) => E.crossEntropy(x, y, { reduction: 'none' }), TRANSC, s);
      }),
      RUNS,
    );
  });
  it('linear cross-entropy in row chunks: the LM head and its loss without whole logits', async () => {
    await fc.assert(
      fc.asyncProperty(dim(9), dim(5), dim(30), dim(9), seed, async (N, d, V, chunkRows, s) => {
        const targets = Array.from({ length: N }, (_, i) => (i % 3 === 1 ? -100 : (i * 7 + s) % V));
        const t: InputSpec = { shape: [N], input: { kind: 'values', values: targets, dtype: 'i32' } };
        const inputs = [{ shape: [N, d], input: { kind: 'float', scale: 2 }, grad: true }, { shape: [V, d], input: { kind: 'float', scale: 2 }, grad: true }, t] as InputSpec[];
        await checkOp('linearCrossEntropy', inputs, ([h, w, y]) => E.linearCrossEntropy(h, w, y, { chunkRows }), TRANSC, s);
        await checkOp('linearCrossEntropy-none', inputs, ([h, w, y]) => E.linearCrossEntropy(h, w, y, { chunkRows, reduction: 'none' }), TRANSC, s);
      }),
      RUNS,
    );
  });
  it('mse and diagonal-Gaussian log-density', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(dim(6), { minLength: 1, maxLength: 3 }), seed, async (shape, s) => {
        await checkOp('mse', [float(shape), float(shape)], ([a, b]) => E.mseLoss(a, b), TRANSC, s);
        // a fixed stream gives every call the same mask, so finite differences see one function
        await checkOp('dropout', [float(shape)], ([x]) => E.dropout(x, 0.3, new E.Rng(11).uniformLike(x)), TRANSC, s);
        await checkOp('gaussianLogProb', [float(shape), float(shape), float(shape)], ([x, m, l]) => E.gaussianLogProb(x, m, l), TRANSC, s);
      }),
      RUNS,
    );
  });
});
