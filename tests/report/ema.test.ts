// The loss curves' smoothing: a debiased exponential moving average, so the smoothed line starts
// at the data rather than at zero, never leaves the range of the values averaged, and forgets at
// the rate its weight says.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ema } from '../../colar/report/ema.js';

describe('ema', () => {
  it('leaves values unchanged at smoothing 0', () => {
    expect(ema([3, 1, 4, 1, 5], 0)).toEqual([3, 1, 4, 1, 5]);
  });

  it('starts at the first value, not pulled towards zero', () => {
    for (const value of ema([2, 2, 2, 2], 0.9)) expect(value).toBeCloseTo(2, 12);
    expect(ema([5], 0.99)[0]).toBeCloseTo(5, 12);
  });

  it('averages: each output lies within the values seen so far', () => {
    const values = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 });
    fc.assert(
      fc.property(values, fc.double({ min: 0, max: 0.99, noNaN: true }), (xs, smoothing) => {
        ema(xs, smoothing).forEach((value, i) => {
          const seen = xs.slice(0, i + 1);
          const slack = 1e-9 * Math.max(1, ...seen.map(Math.abs));
          expect(value).toBeGreaterThanOrEqual(Math.min(...seen) - slack);
          expect(value).toBeLessThanOrEqual(Math.max(...seen) + slack);
        });
      }),
    );
  });

  it('weighs the past by `smoothing` per value: a step is followed to 1 − smoothing^k after k values', () => {
    const step = [...Array<number>(100).fill(0), ...Array<number>(10).fill(1)];
    const smoothed = ema(step, 0.8);
    for (let k = 1; k <= 10; k++) expect(smoothed[99 + k]).toBeCloseTo(1 - 0.8 ** k, 6);
  });
});
