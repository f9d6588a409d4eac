// Parsers for numeric command-line flags, for commander's .option(flags, help, parser, default):
// a bad value fails at parse time with commander's one-line error naming the flag.
import { InvalidArgumentError } from 'commander';

export const integerAtLeast = (min: number) => (text: string): number => {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
  return n;
};

/** A comma-separated list of integers >= min, e.g. "1,2,5". */
export const integerListAtLeast = (min: number) => (text: string): number[] => text.split(',').map(integerAtLeast(min));

export const numberIn = (min: number, max: number) => (text: string): number => {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a number in [${min}, ${max}]`);
  return n;
};
