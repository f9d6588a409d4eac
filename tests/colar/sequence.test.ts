// Slot batches: group alignment, pooling weights, labels and latent positions.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildSlotBatch, IGNORE_INDEX, referencePadGroups } from '../../colar/sequence.js';
import { slotEmbeddings } from '../../colar/sft.js';
import { buildRunModel } from '../../colar/run.js';
import { resolveConfig } from '../../colar/train_config.js';
import { cpu } from '../helpers/engines.js';

const SEP = 9;
const example = (q: number, steps: number, a: number) => ({
  question: Array.from({ length: q }, (_, i) => 100 + i),
  steps: [SEP, ...Array.from({ length: steps }, (_, i) => 200 + i)],
  answer: [SEP, ...Array.from({ length: a }, (_, i) => 300 + i)],
});

describe('slot batches', () => {
  it('compresses steps into groups after a lone "###", with √count weights and one member as label', () => {
    const b = buildSlotBatch([example(2, 5, 2)], { compression: 2, pooling: 'sqrt', padId: 0, random: () => 0.99 });
    // slots: q0 q1 | ### | s0 s1 | s2 s3 | s4 | ### a0 a1
    expect(b.L).toBe(2 + 1 + 3 + 3);
    const slot = (t: number) => [...b.ids.slice(t * 2, t * 2 + 2)];
    expect([slot(2), slot(3), slot(4), slot(5)]).toEqual([[SEP, 0], [200, 201], [202, 203], [204, 0]]);
    expect(b.weights[3 * 2]).toBeCloseTo(1 / Math.SQRT2, 7);
    expect(b.weights[5 * 2]).toBe(1);
    expect(b.weights[5 * 2 + 1]).toBe(0);
    // targets: what logits at t predict = label of slot t+1; the question part predicts nothing
    expect([...b.targets]).toEqual([IGNORE_INDEX, SEP, 201, 203, 204, SEP, 300, 301, IGNORE_INDEX]);
    expect([...b.latentSlots]).toEqual([2, 3, 4, 5]);
    expect(b.chainSlots).toEqual([4]);
  });

  it('mean pooling divides by the group size', () => {
    const b = buildSlotBatch([example(1, 3, 1)], { compression: 3, pooling: 'mean', padId: 0, random: () => 0 });
    expect(b.weights[2 * 3]).toBeCloseTo(1 / 3, 7);
  });

  it('never makes an all-padding group, right-pads rows, and has #chain = 1 + ⌈n/c⌉', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 4 })), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 5 }), (rows, c) => {
        const b = buildSlotBatch(rows.map(([q, s, a]) => example(q, s, a)), { compression: c, pooling: 'sqrt', padId: 0, random: Math.random });
        rows.forEach(([q, s, a], r) => {
          const len = q + 1 + Math.ceil(s / c) + a + 1;
          expect(b.chainSlots[r]).toBe(1 + Math.ceil(s / c));
          for (let t = 0; t < b.L; t++) {
            const real = b.mask[r * b.L + t] === 1;
            expect(real).toBe(t < len);
            const weight = b.weights.slice((r * b.L + t) * c, (r * b.L + t + 1) * c).reduce((x, y) => x + y, 0);
            expect(weight > 0).toBe(real);
          }
        });
      }),
    );
  });

  it('drops the chain for No-CoT', () => {
    const b = buildSlotBatch([example(2, 5, 1)], { compression: 1, pooling: 'sqrt', padId: 0, random: () => 0, withSteps: false });
    expect([...b.ids]).toEqual([100, 101, SEP, 300]);
    expect(b.latentSlots.length).toBe(0);
  });
});

/**
 * The reference's padding written out literally, as rows of tokens (1) and pads (0): steps
 * left-padded to the longest, then the extra pads on both sides, then cut into groups of c.
 */
function referenceRows(lengths: number[], c: number): number[][] {
  const T = Math.max(...lengths);
  const left = lengths.map((n) => [...new Array<number>(T - n).fill(0), ...new Array<number>(n).fill(1)]);
  if (c === 1) return left;
  const nExtra = lengths.map((n) => c - 1 - ((T - n) % c));
  const Lpad = T + Math.max(...nExtra);
  const minRight = c - (Lpad % c);
  return left.map((row, b) => {
    let l = nExtra[b];
    let rr = minRight + (c - 1 - l);
    if (rr === c) {
      l += c;
      rr = 0;
    }
    return [...new Array<number>(l).fill(0), ...row, ...new Array<number>(rr).fill(0)];
  });
}

describe("the reference's padding groups", () => {
  it('match the reference\'s arithmetic written out: "###" ends a group, rows of equal length, all-pad groups counted', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 5 }), (lengths, c) => {
        const rows = referenceRows(lengths, c);
        const groups = referencePadGroups(lengths, c);
        rows.forEach((row, b) => {
          expect(row.length).toBe(rows[0].length);
          expect(row.length % c).toBe(0);
          const first = row.indexOf(1);
          expect((first + 1) % c).toBe(0); // "###" is the last member of its group
          const cut = Array.from({ length: row.length / c }, (_, g) => row.slice(g * c, (g + 1) * c));
          const real = cut.map((g) => g.includes(1));
          expect(groups[b].before).toBe(real.indexOf(true));
          expect(groups[b].after).toBe(real.length - 1 - real.lastIndexOf(true));
        });
      }),
    );
  });

  it('leave a trailing all-pad group in about a fifth (c = 2) to a third (c = 5) of rows of 5–60 tokens in batches of 8', () => {
    let seed = 1;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const share = (c: number) => {
      let hit = 0;
      for (let batch = 0; batch < 2000; batch++) hit += referencePadGroups(Array.from({ length: 8 }, () => 5 + Math.floor(next() * 56)), c).filter((g) => g.after > 0).length;
      return hit / 16000;
    };
    expect(share(2)).toBeGreaterThan(0.15);
    expect(share(2)).toBeLessThan(0.24);
    expect(share(5)).toBeGreaterThan(0.25);
    expect(share(5)).toBeLessThan(0.35);
  });

  it('are masked slots: positions do not advance, the answer\'s "###" is predicted from the trailing pad, the last group\'s latent target is zero', () => {
    // steps lengths 1 + 6 and 1 + 1 at c = 2: the short row gets pads before its "###" and after its group
    const b = buildSlotBatch([example(2, 6, 1), example(2, 1, 1)], { compression: 2, pooling: 'sqrt', padId: 0, random: () => 0, referencePadding: true });
    const [, short] = referencePadGroups([7, 2], 2);
    expect(short).toEqual({ before: 2, after: 1 });
    const row = (a: ArrayLike<number>) => Array.from(a).slice(b.L, 2 * b.L);
    // q0 q1 | pad pad | ### | s0 | pad | ### a0
    expect(row(b.mask).slice(0, 9)).toEqual([1, 1, 0, 0, 1, 1, 0, 1, 1]);
    expect(row(b.positions).slice(0, 9)).toEqual([0, 1, 1, 1, 2, 3, 3, 4, 5]);
    expect(row(b.targets).slice(0, 9)).toEqual([IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, SEP, 200, IGNORE_INDEX, SEP, 300, IGNORE_INDEX]);
    expect([...b.weights.slice((b.L + 6) * 2, (b.L + 7) * 2)]).toEqual([0, 0]); // the pad slot fed after s0: the zero vector
    expect([...b.latentSlots].filter((i) => i >= b.L).map((i) => i - b.L)).toEqual([4, 5]);
    expect(b.chainSlots).toEqual([4, 2]);
  });

  it('leave the real slots\' hidden states as they are without the pads', async () => {
    const run = await buildRunModel(cpu, resolveConfig('tiny', 'colar', ['model.hidden_size=16', 'model.layers=1', 'model.heads=2', 'model.kv_heads=1', 'model.intermediate_size=24', 'colar.head_intermediate=16']), false);
    const examples = [example(3, 7, 2), example(2, 2, 1), example(1, 4, 3)];
    /** the hidden state of every real slot, row by row, in order */
    const realHidden = async (referencePadding: boolean) => {
      const b = buildSlotBatch(examples, { compression: 3, pooling: 'sqrt', padId: 0, random: () => 0, referencePadding });
      const { hidden } = run.model.forward({ embeds: slotEmbeddings(run.model, b), keyMask: cpu.tensor(b.mask, [b.B, b.L]), positions: cpu.tensor(b.positions, [b.B, b.L], 'i32'), logitsFor: 'none' });
      const h = await hidden.data();
      const d = hidden.shape[2];
      const rows = examples.map((_, r) => Array.from({ length: b.L }, (_, t) => t).filter((t) => b.mask[r * b.L + t] === 1).map((t) => Array.from(h.slice((r * b.L + t) * d, (r * b.L + t + 1) * d))));
      return { L: b.L, rows };
    };
    const groups = referencePadGroups(examples.map((ex) => ex.steps.length), 3);
    expect(groups.some((g) => g.before > 0) && groups.some((g) => g.after > 0)).toBe(true);
    const plain = await realHidden(false);
    const padded = await realHidden(true);
    padded.rows.forEach((row, r) => row.forEach((h, t) => h.forEach((x, k) => expect(x).toBeCloseTo(plain.rows[r][t][k], 10))));
    run.model.dispose();
  });
});
