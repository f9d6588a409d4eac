// Parsing numeric command-line flags: a bad value is a one-line error naming the flag.

export function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected a positive integer, got ${value}`);
  return n;
}

export function nonNegativeInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: expected a non-negative integer, got ${value}`);
  return n;
}

/** A comma-separated list of positive integers, e.g. "1,2,5". */
export function positiveIntList(flag: string, value: string): number[] {
  return value.split(',').map((v) => positiveInt(flag, v.trim()));
}

/** A number in [min, max]. */
export function numberIn(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new Error(`${flag}: expected a number in [${min}, ${max}], got ${value}`);
  return n;
}
