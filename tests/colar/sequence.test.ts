// Slot batches: group alignment, pooling weights, labels and latent positions.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildSlotBatch, IGNORE_INDEX } from '../../colar/sequence.js';

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
