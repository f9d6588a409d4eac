// safetensors: round trips for every dtype (half-precision rounding checked against a brute-force
// nearest-value search, not against the bit tricks in the writer), files written byte by byte from
// the spec, and fuzzed corruption that must end in one clean Error naming the file.

import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSafetensors, writeSafetensors, type TensorData } from '../../colar/llama/safetensors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'safetensors-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let fileCounter = 0;
const freshPath = () => path.join(dir, `t${fileCounter++}.safetensors`);

async function readAll(file: string): Promise<Map<string, TensorData>> {
  const st = await openSafetensors(file);
  try {
    const out = new Map<string, TensorData>();
    for (const t of st.tensors) out.set(t.name, await st.read(t.name));
    return out;
  } finally {
    await st.close();
  }
}

/** A file from raw parts: header text (or object) and data bytes, with an optional false length field. */
async function rawFile(header: unknown, data: Uint8Array, headerLength?: bigint): Promise<string> {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const headerBytes = Buffer.from(text, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(headerLength ?? BigInt(headerBytes.length));
  const file = freshPath();
  await writeFile(file, Buffer.concat([prefix, headerBytes, data]));
  return file;
}

/** Values exactly representable in a format with `mantissaBits` explicit bits and the given exponent range, built without bit tricks. */
function representable(mantissaBits: number, minExponent: number, maxExponent: number): number[] {
  const values = [0];
  for (let e = minExponent; e <= maxExponent; e++) {
    for (let m = 0; m < 2 ** mantissaBits; m++) values.push((1 + m / 2 ** mantissaBits) * 2 ** e);
  }
  for (let m = 1; m < 2 ** mantissaBits; m++) values.push((m / 2 ** mantissaBits) * 2 ** minExponent); // subnormals
  return values.sort((a, b) => a - b);
}

/** Round-to-nearest-even by search: the closest representable value; on a tie, the one with an even index (even mantissa). */
function nearestEven(x: number, sorted: number[], overflowAt: number): number {
  if (Number.isNaN(x)) return NaN;
  const sign = x < 0 || Object.is(x, -0) ? -1 : 1;
  const a = Math.abs(x);
  const top = sorted[sorted.length - 1];
  if (a >= overflowAt) return sign * Infinity;
  let lo = 0;
  let hi = sorted.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= a) lo = mid;
    else hi = mid;
  }
  if (a >= top) return sign * top;
  const dLo = a - sorted[lo];
  const dHi = sorted[hi] - a;
  const pick = dLo < dHi ? lo : dHi < dLo ? hi : lo % 2 === 0 ? lo : hi;
  return sign * sorted[pick];
}

const interestingFloats = [0, -0, 1, -1, 0.1, 1 / 3, 65504, 65519.99, 65520, 70000, 1e-8, 5.9604645e-8, 2.98e-8, 6.1e-5, 3.4e38, -3.4e38, Infinity, -Infinity, NaN, 1.00390625, 1.01171875, 1e-40];

describe('round trips', () => {
  it('F32 and I32 are exact, including infinities, NaN, -0 and subnormals', async () => {
    const f = Float32Array.from([...interestingFloats, ...Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 ** ((i % 60) - 30))]);
    const ints = Int32Array.from([0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 123456789]);
    const file = freshPath();
    await writeSafetensors(file, [
      { name: 'f', shape: [f.length], data: f },
      { name: 'i', shape: [2, 3], data: ints },
      { name: 'empty', shape: [0, 5], data: new Float32Array(0) },
      { name: 'scalar', shape: [], data: Float32Array.of(7) },
    ], { format: 'pt', note: 'ünïcode' });
    const back = await readAll(file);
    expect(back.get('f')).toEqual(f);
    expect(back.get('i')).toEqual(ints);
    expect(back.get('empty')).toEqual(new Float32Array(0));
    expect(back.get('scalar')).toEqual(Float32Array.of(7));
    const st = await openSafetensors(file);
    expect(st.metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    expect(st.info('i')).toMatchObject({ dtype: 'I32', shape: [2, 3] });
    await st.close();
  });

  it('BF16 and F16 round to nearest even, overflow to infinity, and keep NaN', async () => {
    const bf16Sorted = representable(7, -126, 127);
    const f16Sorted = representable(10, -14, 15);
    const random = fc.sample(fc.float(), { numRuns: 4000, seed: 7 });
    // Exact ties and near-ties between neighbours, where rounding mistakes show.
    const ties = f16Sorted.slice(1, 3000).flatMap((v, i) => {
      const mid = (v + f16Sorted[i]) / 2;
      return [mid, Math.fround(mid * (1 + 2 ** -20)), Math.fround(mid * (1 - 2 ** -20))];
    });
    const x = Float32Array.from([...interestingFloats, ...random, ...ties]);
    const file = freshPath();
    await writeSafetensors(file, [
      { name: 'b', shape: [x.length], data: x, dtype: 'BF16' },
      { name: 'h', shape: [x.length], data: x, dtype: 'F16' },
    ]);
    const back = await readAll(file);
    const b = back.get('b')!;
    const h = back.get('h')!;
    const bf16Overflow = (2 - 2 ** -8) * 2 ** 127; // halfway between the largest bf16 and 2^128
    for (let i = 0; i < x.length; i++) {
      const expectB = nearestEven(x[i], bf16Sorted, bf16Overflow);
      const expectH = nearestEven(x[i], f16Sorted, 65520);
      if (!Object.is(b[i], expectB) && !(Number.isNaN(b[i]) && Number.isNaN(expectB))) expect.fail(`bf16(${x[i]}) = ${b[i]}, expected ${expectB}`);
      if (!Object.is(h[i], expectH) && !(Number.isNaN(h[i]) && Number.isNaN(expectH))) expect.fail(`f16(${x[i]}) = ${h[i]}, expected ${expectH}`);
    }
  });

  it('lays tensors out aligned, pads the header to 8 bytes, and pulls lazy data one at a time', async () => {
    const order: string[] = [];
    const lazy = (name: string, data: TensorData) => () => {
      order.push(name);
      return data;
    };
    const file = freshPath();
    await writeSafetensors(file, [
      { name: 'half', shape: [3], data: lazy('half', Float32Array.of(1, 2, 3)), dtype: 'F16' },
      { name: 'full', shape: [1], data: lazy('full', Float32Array.of(4)) },
      { name: 'bf', shape: [1], data: lazy('bf', Float32Array.of(5)), dtype: 'BF16' },
    ]);
    const bytes = await readFile(file);
    expect((8 + Number(bytes.readBigUInt64LE(0))) % 8).toBe(0);
    const st = await openSafetensors(file);
    for (const t of st.tensors) expect(t.begin % { F32: 4, F16: 2, BF16: 2 }[t.dtype as 'F32']).toBe(0);
    expect(st.tensors.map((t) => t.name)).toEqual(['full', 'half', 'bf']);
    await st.close();
    expect(order).toEqual(['full', 'half', 'bf']);
    expect((await readAll(file)).get('half')).toEqual(Float32Array.of(1, 2, 3));
  });

  it('writes atomically: a failed write leaves neither the file nor a temporary', async () => {
    const sub = await mkdtemp(path.join(dir, 'atomic-'));
    const file = path.join(sub, 'model.safetensors');
    await expect(writeSafetensors(file, [{ name: 'w', shape: [4], data: new Float32Array(3) }])).rejects.toThrow(/tensor "w": shape \[4\] needs 4 values, got 3/);
    await expect(writeSafetensors(file, [{ name: 'w', shape: [1], data: new Int32Array(1), dtype: 'F32' }])).rejects.toThrow(/Int32Array data cannot be written as F32/);
    await expect(writeSafetensors(file, [{ name: 'a', shape: [1], data: new Float32Array(1) }, { name: 'a', shape: [1], data: new Float32Array(1) }])).rejects.toThrow(/"a": name is reserved or repeated/);
    expect(await readdir(sub)).toEqual([]);
    await writeSafetensors(file, [{ name: 'w', shape: [1], data: new Float32Array(1) }]);
    expect(await readdir(sub)).toEqual(['model.safetensors']);
  });
});

describe('reading files written from the spec', () => {
  it('reads F64, I64, I16, I8, U8 and BOOL', async () => {
    const f64 = Float64Array.of(1.5, -2.25, 1e300);
    const i64 = BigInt64Array.of(5n, -7n, 2147483647n, -2147483648n);
    const i16 = Int16Array.of(-32768, 32767);
    const u8 = Uint8Array.of(0, 255);
    const data = Buffer.concat([Buffer.from(f64.buffer), Buffer.from(i64.buffer), Buffer.from(i16.buffer), Buffer.from(u8), Buffer.from(Int8Array.of(-128, 5).buffer), Buffer.from([1, 0, 1])]);
    const file = await rawFile(
      {
        a: { dtype: 'F64', shape: [3], data_offsets: [0, 24] },
        b: { dtype: 'I64', shape: [2, 2], data_offsets: [24, 56] },
        c: { dtype: 'I16', shape: [2], data_offsets: [56, 60] },
        d: { dtype: 'U8', shape: [2], data_offsets: [60, 62] },
        e: { dtype: 'I8', shape: [2], data_offsets: [62, 64] },
        f: { dtype: 'BOOL', shape: [3], data_offsets: [64, 67] },
      },
      data,
    );
    const back = await readAll(file);
    expect(back.get('a')).toEqual(Float32Array.of(1.5, -2.25, Infinity));
    expect(back.get('b')).toEqual(Int32Array.of(5, -7, 2147483647, -2147483648));
    expect(back.get('c')).toEqual(Int32Array.of(-32768, 32767));
    expect(back.get('d')).toEqual(Int32Array.of(0, 255));
    expect(back.get('e')).toEqual(Int32Array.of(-128, 5));
    expect(back.get('f')).toEqual(Int32Array.of(1, 0, 1));
  });

  const entry = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });
  const cases: [string, () => Promise<string>, RegExp][] = [
    ['too short', async () => { const f = freshPath(); await writeFile(f, Buffer.from([1, 2, 3])); return f; }, /file is 3 bytes, too short/],
    ['huge header length', () => rawFile({}, new Uint8Array(0), 2n ** 63n), /header length 9223372036854775808 exceeds the 100000000-byte limit/],
    ['header longer than file', () => rawFile({}, new Uint8Array(0), 100n), /header length 100 exceeds the 2 bytes/],
    ['not JSON', () => rawFile('{"a": ', new Uint8Array(0)), /header is not valid JSON/],
    ['not an object', () => rawFile('{"a":1}', new Uint8Array(0)), /tensor "a": entry must be an object/],
    ['does not start with {', () => rawFile(' {}', new Uint8Array(0)), /header must start with '\{'/],
    ['unknown dtype', () => rawFile({ w: entry('F17', [1], [0, 4]) }, new Uint8Array(4)), /tensor "w": unknown dtype "F17"/],
    ['negative dim', () => rawFile({ w: entry('F32', [-1], [0, 4]) }, new Uint8Array(4)), /tensor "w": shape must be a list of non-negative integers/],
    ['size mismatch', () => rawFile({ w: entry('F32', [2], [0, 4]) }, new Uint8Array(4)), /tensor "w": shape \[2\] of F32 needs 8 bytes, but data_offsets \[0, 4\] hold 4/],
    ['huge shape, no allocation', () => rawFile({ w: entry('F32', [1e9, 1e9], [0, 4]) }, new Uint8Array(4)), /tensor "w": shape .* needs more than 2\^53 bytes/],
    ['past the end', () => rawFile({ w: entry('F32', [1e9], [0, 4e9]) }, new Uint8Array(4)), /tensor "w": data_offsets \[0, 4000000000\] run past the 4-byte data section/],
    ['reversed offsets', () => rawFile({ w: entry('F32', [0], [4, 0]) }, new Uint8Array(4)), /tensor "w": data_offsets \[4, 0\] end before they begin/],
    ['overlap', () => rawFile({ a: entry('F32', [2], [0, 8]), b: entry('F32', [1], [4, 8]) }, new Uint8Array(8)), /tensor "b" \[4, 8\) overlaps tensor "a" \[0, 8\)/],
    ['hole', () => rawFile({ a: entry('F32', [1], [0, 4]), b: entry('F32', [1], [8, 12]) }, new Uint8Array(12)), /bytes \[4, 8\) before tensor "b" belong to no tensor/],
    ['trailing bytes', () => rawFile({ a: entry('F32', [1], [0, 4]) }, new Uint8Array(9)), /data section is 9 bytes but the tensors cover 4/],
    ['bad metadata', () => rawFile({ __metadata__: { k: 1 } }, new Uint8Array(0)), /__metadata__\["k"\] must be a string/],
  ];
  for (const [label, make, message] of cases) {
    it(`rejects: ${label}`, async () => {
      const file = await make();
      const err = await openSafetensors(file).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message.startsWith(file + ':')).toBe(true);
      expect((err as Error).message).toMatch(message);
    });
  }

  it('rejects I64 values that do not fit in 32 bits when read', async () => {
    const file = await rawFile({ w: entry('I64', [1], [0, 8]) }, new Uint8Array(BigInt64Array.of(2n ** 40n).buffer));
    const st = await openSafetensors(file);
    await expect(st.read('w')).rejects.toThrow(/tensor "w": I64 element 0 does not fit in 32 bits/);
    await expect(st.read('nope')).rejects.toThrow(/no tensor named "nope"/);
    await st.close();
  });
});

describe('fuzzed corruption', () => {
  /** Opens and reads everything: either succeeds with data matching the shapes, or throws an Error naming the file. */
  async function openOutcome(file: string): Promise<'ok' | 'rejected'> {
    try {
      const st = await openSafetensors(file);
      try {
        for (const t of st.tensors) {
          const values = await st.read(t.name).catch((e: Error) => {
            if (!/reading dtype|does not fit in 32 bits/.test(e.message)) throw e;
            return undefined;
          });
          if (values) expect(values.length).toBe(t.shape.reduce((a, b) => a * b, 1));
        }
      } finally {
        await st.close();
      }
      return 'ok';
    } catch (e) {
      expect(e).toBeInstanceOf(Error);
      expect((e as Error).message.startsWith(file + ':')).toBe(true);
      return 'rejected';
    }
  }

  it('random headers, offsets and lengths give a clean outcome', async () => {
    const dim = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constantFrom(-1, 1.5, 2 ** 53, 1e20, '3', null));
    const offset = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom(-4, 0.5, 2 ** 60, '8', null));
    const tensorEntry = fc.record({
      dtype: fc.constantFrom('F32', 'BF16', 'F16', 'I64', 'I32', 'U8', 'F64', 'BOOL', 'U16', 'F8_E4M3', 'f32', 'X', 7),
      shape: fc.oneof(fc.array(dim, { maxLength: 3 }), fc.constant('oops')),
      data_offsets: fc.oneof(fc.tuple(offset, offset), fc.array(offset, { maxLength: 3 })),
    });
    const header = fc.dictionary(fc.oneof(fc.string({ maxLength: 4 }), fc.constant('__metadata__')), fc.oneof(tensorEntry, fc.anything({ maxDepth: 1 })), { maxKeys: 4 });
    const caseArb = fc.record({ header, dataLength: fc.integer({ min: 0, max: 64 }), lengthDelta: fc.oneof(fc.constant(0n), fc.bigInt({ min: -8n, max: 8n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })) });
    const outcomes = { ok: 0, rejected: 0 };
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ header, dataLength, lengthDelta }) => {
        const text = JSON.stringify(header);
        const length = BigInt(Buffer.byteLength(text)) + lengthDelta;
        const file = await rawFile(text, new Uint8Array(dataLength).map((_, i) => i * 37), length < 0n || length >= 2n ** 64n ? 0n : length);
        outcomes[await openOutcome(file)]++;
        await rm(file);
      }),
      { numRuns: 300, seed: 42 },
    );
    expect(outcomes.rejected).toBeGreaterThan(0);
  });

  it('flipped and truncated bytes of a valid file give a clean outcome', async () => {
    const valid = freshPath();
    await writeSafetensors(valid, [
      { name: 'emb', shape: [4, 3], data: Float32Array.from({ length: 12 }, (_, i) => i), dtype: 'BF16' },
      { name: 'ids', shape: [5], data: Int32Array.of(1, 2, 3, 4, 5) },
      { name: 'norm', shape: [3], data: Float32Array.of(1, 1, 1) },
    ], { format: 'pt' });
    const original = await readFile(valid);
    const headerEnd = 8 + Number(original.readBigUInt64LE(0));
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.integer({ min: 0, max: headerEnd - 1 }), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.integer({ min: 0, max: original.length - 1 }), value: fc.constant(0) }),
    );
    const outcomes = { ok: 0, rejected: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        let bytes = Buffer.from(original);
        for (const m of mutations) {
          if (m.kind === 'flip' && m.at < bytes.length) bytes[m.at] = m.value;
          if (m.kind === 'truncate') bytes = bytes.subarray(0, Math.min(m.at, bytes.length));
        }
        const file = freshPath();
        await writeFile(file, bytes);
        outcomes[await openOutcome(file)]++;
        await rm(file);
      }),
      { numRuns: 300, seed: 4242 },
    );
    expect(outcomes.rejected).toBeGreaterThan(0);
  });
});
