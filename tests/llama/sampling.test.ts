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
