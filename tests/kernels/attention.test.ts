// Fused attention: the WGSL kernels against the float64 CPU reference on random shapes (odd
// sizes, grouped-query heads, causal, key masks with holes and fully masked rows, a KV cache
// larger than the keys used, several key blocks, both dQ paths, the forward in both variants),
// and the CPU backward against central finite differences.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  attentionBackwardCpu, attentionBackwardGpu, attentionCpu, attentionGpu, type AttentionShape, type AttentionVariant,
} from '../../kernels/attention.js';
import { attentionTileBackwardGpu, attentionTileGpu } from '../../kernels/attention_tile.js';
import { expectClose } from '../helpers/compare.js';
import { download, nanBuffer, testGpu, upload } from '../helpers/gpu.js';

// float32 kernels against float64 references, inputs of order 1
const FORWARD_TOL = { rtol: 1e-4, atol: 2e-5 };
const BACKWARD_TOL = { rtol: 1e-3, atol: 1e-4 };
const FINITE_DIFF_TOL = { rtol: 1e-6, atol: 1e-8 };

interface Case {
  s: AttentionShape;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  keyMask: Float64Array | null;
  gOut: Float64Array;
}

function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** Inputs for a shape; the mask has holes and fully masks batch row 0 when asked. */
function makeCase(s: AttentionShape, seed: number, mask: 'none' | 'holes' | 'row0-empty'): Case {
  const rand = random(seed);
  const fill = (n: number) => Float64Array.from({ length: n }, () => rand() * 2 - 1);
  const cap = s.kvCapacity ?? s.S;
  let keyMask: Float64Array | null = null;
  if (mask !== 'none') {
    keyMask = Float64Array.from({ length: s.B * s.S }, () => (rand() < 0.3 ? 0 : 1));
    if (mask === 'row0-empty') keyMask.fill(0, 0, s.S);
  }
  return {
    s,
    q: fill(s.B * s.T * s.H * s.D),
    k: fill(s.B * cap * s.Hkv * s.D),
    v: fill(s.B * cap * s.Hkv * s.D),
    keyMask,
    gOut: fill(s.B * s.T * s.H * s.D),
  };
}

function shapeLabel(s: AttentionShape, c: Case): string {
  return `B${s.B} T${s.T} S${s.S} H${s.H}/${s.Hkv} D${s.D} cap${s.kvCapacity ?? s.S}${s.causal ? ' causal' : ''}${c.keyMask ? ' masked' : ''}`;
}

async function checkForward(c: Case, variant: AttentionVariant): Promise<void> {
  const gpu = await testGpu();
  const { s } = c;
  const nOut = s.B * s.T * s.H * s.D;
  const nLse = s.B * s.H * s.T;
  const out = new Float64Array(nOut);
  const lse = new Float64Array(nLse);
  attentionCpu(c.q, c.k, c.v, c.keyMask, out, lse, s);
  const inputs = [c.q, c.k, c.v].map((x) => upload(gpu, x));
  const mask = c.keyMask ? upload(gpu, c.keyMask) : null;
  const outG = nanBuffer(gpu, nOut);
  const lseG = nanBuffer(gpu, nLse);
  attentionGpu(gpu, inputs[0], inputs[1], inputs[2], mask, outG, lseG, s, variant);
  const label = `${variant} ${shapeLabel(s, c)}`;
  expectClose(await download(gpu, outG, nOut), out, FORWARD_TOL, `${label} out`);
  expectClose(await download(gpu, lseG, nLse), lse, FORWARD_TOL, `${label} lse`);
  for (const b of [...inputs, outG, lseG, ...(mask ? [mask] : [])]) gpu.pool.release(b);
}

const shapes = fc.record({
  B: fc.integer({ min: 1, max: 2 }),
  T: fc.integer({ min: 1, max: 12 }),
  extraKeys: fc.integer({ min: 0, max: 19 }),
  Hkv: fc.integer({ min: 1, max: 2 }),
  ratio: fc.constantFrom(1, 2, 4),
  D: fc.constantFrom(4, 7),
  causal: fc.boolean(),
  extraCapacity: fc.constantFrom(0, 0, 5),
  mask: fc.constantFrom('none' as const, 'holes' as const, 'row0-empty' as const),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
});

function shapeOf(r: fc.RecordValue<{ B: number; T: number; extraKeys: number; Hkv: number; ratio: number; D: number; causal: boolean; extraCapacity: number }>): AttentionShape {
  const S = r.T + r.extraKeys;
  return {
    B: r.B, T: r.T, S, H: r.Hkv * r.ratio, Hkv: r.Hkv, D: r.D, scale: 1 / Math.sqrt(r.D), causal: r.causal,
    kvCapacity: S + r.extraCapacity,
  };
}

/** `dqSharesMaxBytes` 0 forces the subgroup variant's own dQ pass over the keys; the default takes the one-pass path. */
async function checkBackward(c: Case, variant: AttentionVariant, dqSharesMaxBytes?: number): Promise<void> {
  const gpu = await testGpu();
  const { s } = c;
  const nOut = s.B * s.T * s.H * s.D;
  const nKv = s.B * s.S * s.Hkv * s.D;
  const out = new Float64Array(nOut);
  const lse = new Float64Array(s.B * s.H * s.T);
  attentionCpu(c.q, c.k, c.v, c.keyMask, out, lse, s);
  const [gq, gk, gv] = [nOut, nKv, nKv].map((n) => new Float64Array(n));
  attentionBackwardCpu(c.q, c.k, c.v, c.keyMask, out, lse, c.gOut, gq, gk, gv, s);
  const inputs = [c.q, c.k, c.v, out, lse, c.gOut].map((x) => upload(gpu, x));
  const mask = c.keyMask ? upload(gpu, c.keyMask) : null;
  const grads = [nOut, nKv, nKv].map((n) => nanBuffer(gpu, n));
  const [q, k, v, o, l, g] = inputs;
  attentionBackwardGpu(gpu, q, k, v, mask, o, l, g, grads[0], grads[1], grads[2], s, dqSharesMaxBytes, variant);
  const label = `${variant} ${shapeLabel(s, c)}`;
  expectClose(await download(gpu, grads[0], nOut), gq, BACKWARD_TOL, `${label} gq`);
  expectClose(await download(gpu, grads[1], nKv), gk, BACKWARD_TOL, `${label} gk`);
  expectClose(await download(gpu, grads[2], nKv), gv, BACKWARD_TOL, `${label} gv`);
  for (const b of [...inputs, ...grads, ...(mask ? [mask] : [])]) gpu.pool.release(b);
}

describe.each(['subgroup', 'tile'] as const)('attention forward, variant %s', (variant) => {
  it('matches the CPU reference on random shapes', async () => {
    await fc.assert(
      fc.asyncProperty(shapes, async (r) => checkForward(makeCase(shapeOf(r), r.seed, r.mask), variant)),
      { numRuns: 20 },
    );
  });

  it('handles rows spread over several registers and blocks of 32 rows', async () => {
    const s: AttentionShape = { B: 2, T: 21, S: 30, H: 4, Hkv: 1, D: 36, scale: 0.2, causal: true, kvCapacity: 33 };
    await checkForward(makeCase(s, 3, 'holes'), variant);
    await checkForward(makeCase({ ...s, T: 2, S: 11, H: 2, D: 13, causal: false }, 4, 'row0-empty'), variant);
  });

  it('raises the running max when later keys score far higher (scores climb past exp2 overflow)', async () => {
    const s: AttentionShape = { B: 1, T: 3, S: 70, H: 2, Hkv: 1, D: 8, scale: 0.3, causal: false };
    const c = makeCase(s, 11, 'none');
    // q near +1, k row j near 2j: key j scores ~4.8j, so the scores climb ~330 over the keys
    c.q = c.q.map((x) => 1 + 0.1 * x);
    c.k = c.k.map((x, i) => (2 * Math.floor(i / s.D)) * (1 + 0.1 * x));
    await checkForward(c, variant);
    await checkForward({ ...c, s: { ...s, causal: true, T: 70 }, q: Float64Array.from({ length: 70 * 2 * 8 }, (_, i) => 1 + 0.1 * Math.sin(i)), gOut: c.gOut }, variant);
  });

  it('decodes one query against a long KV cache (keys split over workgroups)', async () => {
    const s: AttentionShape = { B: 1, T: 1, S: 700, H: 4, Hkv: 2, D: 8, scale: 0.3, causal: true, kvCapacity: 800 };
    await checkForward(makeCase(s, 7, 'holes'), variant);
    await checkForward(makeCase({ ...s, B: 2 }, 8, 'row0-empty'), variant);
  });

  it('covers several query tiles of 64 rows and several key tiles (head dims 64, 128 and odd)', async () => {
    const s: AttentionShape = { B: 2, T: 75, S: 140, H: 4, Hkv: 2, D: 64, scale: 0.125, causal: true, kvCapacity: 150 };
    await checkForward(makeCase(s, 12, 'holes'), variant);
    await checkForward(makeCase({ ...s, B: 1, D: 128, causal: false }, 13, 'row0-empty'), variant);
    await checkForward(makeCase({ ...s, T: 70, S: 70, H: 2, Hkv: 1, D: 7 }, 14, 'none'), variant);
  });
});

describe.each(['subgroup', 'tile'] as const)('attention backward, variant %s', (variant) => {
  it('matches the CPU reference on random shapes', async () => {
    await fc.assert(
      fc.asyncProperty(shapes, async (r) => checkBackward(makeCase(shapeOf(r), r.seed, r.mask), variant)),
      { numRuns: 12 },
    );
  });

  it('handles rows spread over several registers and blocks of 32 rows', async () => {
    const s: AttentionShape = { B: 2, T: 21, S: 30, H: 4, Hkv: 1, D: 36, scale: 0.2, causal: true, kvCapacity: 33 };
    await checkBackward(makeCase(s, 5, 'holes'), variant);
    await checkBackward(makeCase({ ...s, T: 2, S: 11, H: 2, D: 13, causal: false }, 6, 'row0-empty'), variant);
  });

  it('covers several tiles of 64 queries and of 64 keys, with more than one staged tile each (head dims 64 and odd)', async () => {
    const s: AttentionShape = { B: 2, T: 75, S: 140, H: 4, Hkv: 2, D: 64, scale: 0.125, causal: true, kvCapacity: 150 };
    await checkBackward(makeCase(s, 15, 'holes'), variant);
    await checkBackward(makeCase({ ...s, B: 1, causal: false }, 16, 'row0-empty'), variant);
    await checkBackward(makeCase({ ...s, T: 70, S: 130, H: 2, Hkv: 1, D: 7 }, 17, 'none'), variant);
  });
});

describe('attention tile kernels as compiled for a hardware GPU (row loops unrolled)', () => {
  it('match the CPU reference, forward and backward', async () => {
    const gpu = await testGpu();
    for (const [s, mask] of [
      [{ B: 2, T: 70, S: 90, H: 2, Hkv: 1, D: 8, scale: 0.3, causal: true, kvCapacity: 95 }, 'holes'],
      [{ B: 1, T: 9, S: 130, H: 4, Hkv: 2, D: 7, scale: 0.3, causal: false }, 'row0-empty'],
    ] as const) {
      const c = makeCase(s, 21, mask);
      const nOut = s.B * s.T * s.H * s.D;
      const nKv = s.B * s.S * s.Hkv * s.D;
      const [out, lse] = [new Float64Array(nOut), new Float64Array(s.B * s.H * s.T)];
      attentionCpu(c.q, c.k, c.v, c.keyMask, out, lse, s);
      const [gq, gk, gv] = [nOut, nKv, nKv].map((n) => new Float64Array(n));
      attentionBackwardCpu(c.q, c.k, c.v, c.keyMask, out, lse, c.gOut, gq, gk, gv, s);
      const [q, k, v, gOut] = [c.q, c.k, c.v, c.gOut].map((x) => upload(gpu, x));
      const maskB = upload(gpu, c.keyMask ?? [0]);
      const [outG, lseG, stats] = [nanBuffer(gpu, nOut), nanBuffer(gpu, s.B * s.H * s.T), nanBuffer(gpu, 2 * s.B * s.H * s.T)];
      const grads = [nOut, nKv, nKv].map((n) => nanBuffer(gpu, n));
      const masked = c.keyMask !== null;
      attentionTileGpu(gpu, q, k, v, maskB, outG, lseG, s, masked, false);
      attentionTileBackwardGpu(gpu, q, k, v, maskB, outG, lseG, gOut, stats, grads[0], grads[1], grads[2], s, masked, false);
      const label = `unrolled ${shapeLabel(s, c)}`;
      expectClose(await download(gpu, outG, nOut), out, FORWARD_TOL, `${label} out`);
      expectClose(await download(gpu, lseG, lse.length), lse, FORWARD_TOL, `${label} lse`);
      expectClose(await download(gpu, grads[0], nOut), gq, BACKWARD_TOL, `${label} gq`);
      expectClose(await download(gpu, grads[1], nKv), gk, BACKWARD_TOL, `${label} gk`);
      expectClose(await download(gpu, grads[2], nKv), gv, BACKWARD_TOL, `${label} gv`);
      for (const b of [q, k, v, gOut, maskB, outG, lseG, stats, ...grads]) gpu.pool.release(b);
    }
  });
});

describe('attention backward', () => {
  it('(subgroup variant) sums dQ shares over several key blocks, and falls back to its own dQ pass past the share budget', async () => {
    // 70 keys make three blocks of 32; causal queries start at 25 so the blocks' first queries differ
    const s: AttentionShape = { B: 2, T: 45, S: 70, H: 4, Hkv: 2, D: 12, scale: 0.3, causal: true, kvCapacity: 75 };
    const gpu = await testGpu();
    for (const budget of [undefined, 0]) {
      // the share buffer comes from the pool: hand it NaNs, so that a share read but never written shows
      gpu.pool.release(nanBuffer(gpu, 3 * s.B * s.T * s.H * s.D));
      await checkBackward(makeCase(s, 9, 'holes'), 'subgroup', budget);
      await checkBackward(makeCase({ ...s, causal: false }, 10, 'row0-empty'), 'subgroup', budget);
    }
  });

  it('CPU gradients match central finite differences of the CPU forward', () => {
    fc.assert(
      fc.property(
        fc.record({
          T: fc.integer({ min: 1, max: 3 }), extraKeys: fc.integer({ min: 0, max: 3 }), ratio: fc.constantFrom(1, 2),
          causal: fc.boolean(), mask: fc.constantFrom('none' as const, 'holes' as const, 'row0-empty' as const),
          seed: fc.integer({ min: 1, max: 1 << 30 }),
        }),
        (r) => {
          const S = r.T + r.extraKeys;
          const s: AttentionShape = { B: 2, T: r.T, S, H: 2 * r.ratio, Hkv: 2, D: 3, scale: 0.7, causal: r.causal, kvCapacity: S + 1 };
          checkFiniteDifferences(makeCase(s, r.seed, r.mask));
        },
      ),
      { numRuns: 30 },
    );
  });
});

/** loss = sum(out ∘ gOut): its gradient is what attentionBackwardCpu returns for that gOut. */
function checkFiniteDifferences(c: Case): void {
  const { s } = c;
  const nOut = s.B * s.T * s.H * s.D;
  const out = new Float64Array(nOut);
  const lse = new Float64Array(s.B * s.H * s.T);
  const loss = () => {
    attentionCpu(c.q, c.k, c.v, c.keyMask, out, lse, s);
    return out.reduce((sum, x, i) => sum + x * c.gOut[i], 0);
  };
  loss();
  const nKv = s.B * s.S * s.Hkv * s.D;
  const [gq, gk, gv] = [nOut, nKv, nKv].map((n) => new Float64Array(n));
  attentionBackwardCpu(c.q, c.k, c.v, c.keyMask, out, lse, c.gOut, gq, gk, gv, s);
  const numeric = (x: Float64Array, at: number) => {
    const eps = 1e-6;
    const keep = x[at];
    x[at] = keep + eps;
    const up = loss();
    x[at] = keep - eps;
    const down = loss();
    x[at] = keep;
    return (up - down) / (2 * eps);
  };
  const cap = s.kvCapacity ?? s.S;
  // gk/gv rows are the first S of each batch row's cap rows of k/v
  const kvAt = (i: number) => {
    const row = Math.floor(i / (s.Hkv * s.D));
    return (Math.floor(row / s.S) * cap + (row % s.S)) * s.Hkv * s.D + (i % (s.Hkv * s.D));
  };
  const label = shapeLabel(s, c);
  expectClose(gq, gq.map((_, i) => numeric(c.q, i)), FINITE_DIFF_TOL, `${label} gq`);
  expectClose(gk, gk.map((_, i) => numeric(c.k, kvAt(i))), FINITE_DIFF_TOL, `${label} gk`);
  expectClose(gv, gv.map((_, i) => numeric(c.v, kvAt(i))), FINITE_DIFF_TOL, `${label} gv`);
}
