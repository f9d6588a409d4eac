// Closeness checks that report the largest difference, its index, and both values.
import { expect } from 'vitest';

export interface Tolerance {
  rtol: number;
  atol: number;
}

export function maxDiff(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance) {
  let worst = { index: -1, diff: 0, excess: -Infinity };
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const diff = Math.abs(a - e);
    const excess = Number.isNaN(a) !== Number.isNaN(e) || (Number.isNaN(diff) && a !== e) ? Infinity : diff - (tol.atol + tol.rtol * Math.abs(e));
    if (excess > worst.excess) worst = { index: i, diff, excess };
  }
  return worst;
}

/** Asserts |actual - expected| <= atol + rtol·|expected| elementwise; NaN must match NaN. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, label = ''): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  const w = maxDiff(actual, expected, tol);
  if (w.excess > 0) {
    const msg = `${label}: largest difference ${w.diff} at [${w.index}] (actual ${actual[w.index]}, expected ${expected[w.index]}, rtol ${tol.rtol}, atol ${tol.atol})`;
    expect.fail(msg);
  }
}
