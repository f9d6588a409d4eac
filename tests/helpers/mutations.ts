// Mutations of valid input files, for property tests of the loaders: on bytes (truncate, flip,
// insert, delete) and on parsed JSON (give a value another type, drop a field or element, add
// one). And the one contract every loader keeps on whatever it is given: a valid result, or an
// Error whose message is one line naming the file; never another kind of failure, never a hang.

import fc from 'fast-check';
import { expect } from 'vitest';

export type ByteMutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number };

/** Positions are taken modulo the length at the time, so a mutation fits any file. */
export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    // Structural characters, invalid UTF-8, or anything.
    bytes: fc.oneof(fc.constantFrom(...['\n', '"', ',', '{', '}', '[', ']', '||', '####', '\\', '\r', '\ufffd'].map((s) => new Uint8Array(Buffer.from(s)))), fc.constantFrom(Uint8Array.of(0xff), Uint8Array.of(0xc3), Uint8Array.of(0xed, 0xa0, 0x80)), fc.uint8Array({ minLength: 1, maxLength: 6 })),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
);

export function applyByteMutations(bytes: Uint8Array, mutations: ByteMutation[]): Uint8Array {
  let out = Buffer.from(bytes);
  for (const m of mutations) {
    const at = m.at % (out.length + 1);
    if (m.kind === 'truncate') out = out.subarray(0, at);
    else if (m.kind === 'flip' && at < out.length) out[at] = m.value;
    else if (m.kind === 'insert') out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
    else if (m.kind === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.length)]);
  }
  return out;
}

export type JsonMutation = { kind: 'retype' | 'drop' | 'add'; depth: number; pick: number; key: string; value: unknown };

/** Values of every JSON type, including the edge cases loaders trip on. */
export const jsonValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1, 0.5, 2 ** 24, 2 ** 53, 1e308, -1e308, '', 'x', '0', [], {}, [1, 2], { a: 1 }),
  fc.integer({ min: -5, max: 1_000_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 6 }),
  fc.array(fc.oneof(fc.integer({ min: -2, max: 500 }), fc.string({ maxLength: 3 })), { maxLength: 3 }),
);

export const jsonMutation: fc.Arbitrary<JsonMutation> = fc.record({
  kind: fc.constantFrom('retype' as const, 'drop' as const, 'add' as const),
  depth: fc.nat(),
  pick: fc.nat(),
  key: fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('type', 'id', 'content', 'dtype', 'shape', 'question', 'answer', 'steps', 'vocab_size', '__proto__')),
  value: jsonValue,
});

type Path = (string | number)[];

function paths(value: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...at, i], out));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) paths(v, [...at, k], out);
  return out;
}

/**
 * Applies each mutation at a path chosen depth first, then among the paths of that depth, so a
 * top-level field is as likely a target as one of thousands of vocabulary entries.
 */
export function applyJsonMutations(json: unknown, mutations: JsonMutation[]): unknown {
  let root = structuredClone(json);
  for (const m of mutations) {
    const all = paths(root).filter((p) => m.kind !== 'add' || isContainer(get(root, p)));
    const depths = [...new Set(all.map((p) => p.length))];
    const depth = depths[m.depth % depths.length];
    const candidates = all.filter((p) => p.length === depth);
    const path = candidates[m.pick % candidates.length];
    if (path === undefined) continue;
    if (path.length === 0 && m.kind !== 'add') {
      root = m.kind === 'retype' ? m.value : {};
      continue;
    }
    const parent = get(root, path.slice(0, -1)) as Record<string | number, unknown>;
    const last = path[path.length - 1];
    if (m.kind === 'retype') parent[last] = m.value;
    else if (m.kind === 'drop') Array.isArray(parent) ? parent.splice(last as number, 1) : delete parent[last];
    else {
      const container = get(root, path) as Record<string, unknown> | unknown[];
      if (Array.isArray(container)) container.push(m.value);
      else Object.defineProperty(container, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    }
  }
  return root;
}

function isContainer(value: unknown): boolean {
  return typeof value === 'object' && value !== null;
}

function get(root: unknown, path: Path): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], root);
}

/** Wall-clock bound for one case: a loader that backtracks or loops on crafted input fails here. */
export const CASE_BUDGET_MS = 5_000;

/**
 * Runs `load` on a mutated input: 'ok' when it succeeds, 'rejected' when it throws an Error
 * whose message is one line containing `names` (the file or directory); anything else fails.
 */
export async function loaderOutcome(names: string, load: () => Promise<unknown>): Promise<'ok' | 'rejected'> {
  const started = performance.now();
  let result: 'ok' | 'rejected';
  try {
    await load();
    result = 'ok';
  } catch (error) {
    expect(error, String(error)).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message, 'one line').not.toMatch(/[\r\n]/);
    expect(message, `names ${names}`).toContain(names);
    result = 'rejected';
  }
  expect(performance.now() - started, 'run time of one case (ms)').toBeLessThan(CASE_BUDGET_MS);
  return result;
}
