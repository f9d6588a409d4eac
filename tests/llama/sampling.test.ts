// Host-side sampling helpers: the stop probability the latent trace reports is the softmax entry.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sampleToken, tokenProbability } from '../../colar/llama/sampling.js';

describe('tokenProbability', () => {
  it('is the softmax entry of a slice, stable for large logits', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -50, max: 50, noNaN: true }), { minLength: 1, maxLength: 20 }), fc.nat(3), fc.double({ min: -1000, max: 1000, noNaN: true }), (row, offset, shift) => {
        const logits = [...new Array<number>(offset).fill(7), ...row.map((x) => x + shift)];
        const total = row.reduce((s, x) => s + Math.exp(x), 0);
        row.forEach((x, i) => expect(tokenProbability(logits, i, offset, row.length)).toBeCloseTo(Math.exp(x) / total, 9));
      }),
    );
  });

  it('agrees with how often sampleToken draws the id', () => {
    const logits = [0.5, -1, 2, 0];
    const draws = 20000;
    let hits = 0;
    for (let i = 0; i < draws; i++) if (sampleToken(logits, (i + 0.5) / draws, {}) === 2) hits++;
    expect(hits / draws).toBeCloseTo(tokenProbability(logits, 2), 3);
  });
});

describe('sampleToken with top-k and top-p', () => {
  /** How often each id is drawn over an even grid of uniforms: the sampling distribution. */
  const frequencies = (logits: number[], opts: Parameters<typeof sampleToken>[2], draws = 4000) => {
    const counts = new Array<number>(logits.length).fill(0);
    for (let i = 0; i < draws; i++) counts[sampleToken(logits, (i + 0.5) / draws, opts)]++;
    return counts.map((c) => c / draws);
  };

  it('draws only from the k most likely ids, in proportion to their probabilities', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: -40, max: 40 }), { minLength: 2, maxLength: 12 }), fc.integer({ min: 1, max: 12 }), (ints, k) => {
        const logits = ints.map((x) => x / 8);
        const kept = [...logits.keys()].sort((a, b) => logits[b] - logits[a]).slice(0, k);
        const mass = kept.reduce((m, i) => m + Math.exp(logits[i]), 0);
        const f = frequencies(logits, { topK: k });
        logits.forEach((x, i) => expect(f[i]).toBeCloseTo(kept.includes(i) ? Math.exp(x) / mass : 0, 2));
      }),
      { numRuns: 40 },
    );
  });

  it('applies top-p to what top-k kept, renormalised, as Hugging Face chains its warpers', () => {
    // probabilities ∝ 8, 4, 2, 1, 1: top-k 3 keeps 8/14, 4/14, 2/14; top-p 0.8 of those keeps 8 and 4
    const logits = [8, 4, 2, 1, 1].map(Math.log);
    frequencies(logits, { topK: 3, topP: 0.8 }).forEach((f, i) => expect(f).toBeCloseTo([8 / 12, 4 / 12, 0, 0, 0][i], 2));
    // top-p alone over all five: 8/16 + 4/16 = 0.75 < 0.8, so 2 joins
    frequencies(logits, { topP: 0.8 }).forEach((f, i) => expect(f).toBeCloseTo([8 / 14, 4 / 14, 2 / 14, 0, 0][i], 2));
  });
});
