// Numeric flags: a good value parses, a bad one is an error that names the flag and the value.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nonNegativeInt, numberIn, positiveInt, positiveIntList } from '../../cli/flags.js';

describe('numeric command-line flags', () => {
  it('parses what is valid', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1e6 }), (n) => {
      expect(positiveInt('--n', String(n))).toBe(n);
    }));
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 99 }), { minLength: 1, maxLength: 6 }), (xs) => {
      expect(positiveIntList('--compression', xs.join(', '))).toEqual(xs);
    }));
    expect(nonNegativeInt('--seed', '0')).toBe(0);
    expect(numberIn('--top-p', '0.9', 0, 1)).toBe(0.9);
  });

  it('names the flag and the value when not', () => {
    for (const bad of ['0', '-3', '2.5', 'abc', '']) expect(() => positiveInt('--seeds', bad)).toThrow(`--seeds: expected a positive integer, got ${bad}`);
    expect(() => positiveIntList('--compression', '1,x,3')).toThrow('--compression: expected a positive integer, got x');
    expect(() => nonNegativeInt('--seed', '-1')).toThrow('--seed: expected a non-negative integer, got -1');
    for (const bad of ['1.5', 'NaN', '', '-0.1']) expect(() => numberIn('--top-p', bad, 0, 1)).toThrow(`--top-p: expected a number in [0, 1], got ${bad}`);
  });
});
