// Numeric flag parsers: a good value parses; a bad one fails at parse time with commander's
// one-line error naming the flag.
import { Command } from 'commander';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { integerAtLeast, integerListAtLeast, numberIn } from '../../cli/flags.js';

function parse(args: string[]): Record<string, unknown> {
  const cmd = new Command('t')
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .option('--seeds <n>', '', integerAtLeast(1), 5)
    .option('--seed <n>', '', integerAtLeast(0), 0)
    .option('--compression <list>', '', integerListAtLeast(1), [1, 2])
    .option('--top-p <p>', '', numberIn(0, 1), 0.9);
  return cmd.parse(args, { from: 'user' }).opts();
}

describe('numeric command-line flags', () => {
  it('parses what is valid, and keeps the defaults', () => {
    expect(parse([])).toEqual({ seeds: 5, seed: 0, compression: [1, 2], topP: 0.9 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.array(fc.integer({ min: 1, max: 99 }), { minLength: 1, maxLength: 6 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, list, p) => {
        expect(parse(['--seeds', String(n), '--seed', '0', '--compression', list.join(', '), '--top-p', String(p)])).toEqual({ seeds: n, seed: 0, compression: list, topP: p });
      }),
    );
  });

  it('names the flag and the value when not', () => {
    for (const bad of ['0', '-3', '2.5', 'abc', ' ']) expect(() => parse(['--seeds', bad])).toThrow(`option '--seeds <n>' argument '${bad}' is invalid. expected an integer >= 1`);
    expect(() => parse(['--seed', '-1'])).toThrow('expected an integer >= 0');
    expect(() => parse(['--compression', '1,x,3'])).toThrow(`option '--compression <list>' argument '1,x,3' is invalid. expected an integer >= 1`);
    for (const bad of ['1.5', 'NaN', '-0.1']) expect(() => parse(['--top-p', bad])).toThrow(`option '--top-p <p>' argument '${bad}' is invalid. expected a number in [0, 1]`);
  });
});
