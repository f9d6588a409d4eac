// TensorBoard event files: the CRC against published vectors and a bit-by-bit reference, a whole
// file against the bytes that tensorboard_logger's test suite expects from TensorFlow's format, and
// every written file read back by a small independent reader (framing, both CRCs, protobuf fields).

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FILE_VERSION, TensorBoardWriter, crc32c, maskedCrc32c } from '../../colar/logging/tensorboard.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'tensorboard-test-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let dirCounter = 0;
const freshDir = (): string => path.join(root, `run-${dirCounter++}`);

// ---------------------------------------------------------------------------------------------
// The reference reader: written from the formats' specs, sharing nothing with the writer

function bitwiseCrc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = (crc >>> 1) ^ (0x82f63b78 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function referenceMask(crc: number): number {
  const rotated = ((BigInt(crc) >> 15n) | (BigInt(crc) << 17n)) & 0xffffffffn;
  return Number((rotated + 0xa282ead8n) % 2n ** 32n);
}

interface DecodedEvent {
  wallTime?: number;
  step?: bigint;
  fileVersion?: string;
  values: { tag: string; value: number }[];
}

function readTfRecords(bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const length = Number(view.getBigUint64(offset, true));
    expect(view.getUint32(offset + 8, true)).toBe(referenceMask(bitwiseCrc32c(bytes.subarray(offset, offset + 8))));
    const data = bytes.subarray(offset + 12, offset + 12 + length);
    expect(data.length).toBe(length);
    expect(view.getUint32(offset + 12 + length, true)).toBe(referenceMask(bitwiseCrc32c(data)));
    records.push(data);
    offset += 12 + length + 4;
  }
  expect(offset).toBe(bytes.length);
  return records;
}

/** Yields (field, wire type, payload) for each field of a protobuf message. */
function* protoFields(bytes: Uint8Array): Generator<{ field: number; wire: number; varint: bigint; payload: Uint8Array }> {
  let offset = 0;
  const readVarint = (): bigint => {
    let value = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = bytes[offset++]!;
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
  };
  while (offset < bytes.length) {
    const key = Number(readVarint());
    const field = key >> 3;
    const wire = key & 7;
    const sizes: Record<number, number> = { 1: 8, 5: 4 };
    if (wire === 0) {
      yield { field, wire, varint: readVarint(), payload: new Uint8Array() };
    } else {
      const size = wire === 2 ? Number(readVarint()) : sizes[wire];
      if (size === undefined) throw new Error(`unexpected wire type ${wire}`);
      yield { field, wire, varint: 0n, payload: bytes.subarray(offset, offset + size) };
      offset += size;
    }
  }
}

function decodeEvent(bytes: Uint8Array): DecodedEvent {
  const event: DecodedEvent = { values: [] };
  for (const { field, wire, varint, payload } of protoFields(bytes)) {
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    if (field === 1 && wire === 1) event.wallTime = view.getFloat64(0, true);
    else if (field === 2 && wire === 0) event.step = BigInt.asIntN(64, varint);
    else if (field === 3 && wire === 2) event.fileVersion = new TextDecoder().decode(payload);
    else if (field === 5 && wire === 2) {
      for (const summaryField of protoFields(payload)) {
        expect([summaryField.field, summaryField.wire]).toEqual([1, 2]);
        const value = { tag: '', value: Number.NaN };
        for (const valueField of protoFields(summaryField.payload)) {
          const valueView = new DataView(valueField.payload.buffer, valueField.payload.byteOffset, 4);
          if (valueField.field === 1 && valueField.wire === 2) value.tag = new TextDecoder().decode(valueField.payload);
          else if (valueField.field === 2 && valueField.wire === 5) value.value = valueView.getFloat32(0, true);
          else throw new Error(`unexpected Value field ${valueField.field}`);
        }
        event.values.push(value);
      }
    } else throw new Error(`unexpected Event field ${field} (wire ${wire})`);
  }
  return event;
}

async function readEvents(dir: string): Promise<{ name: string; events: DecodedEvent[] }> {
  const names = await readdir(dir);
  expect(names).toHaveLength(1);
  const bytes = new Uint8Array(await readFile(path.join(dir, names[0]!)));
  return { name: names[0]!, events: readTfRecords(bytes).map(decodeEvent) };
}

// ---------------------------------------------------------------------------------------------

describe('crc32c', () => {
  it('matches the standard check value and the RFC 3720 vectors', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
  });

  it('agrees with a bit-by-bit reference, masked and unmasked', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        expect(crc32c(data)).toBe(bitwiseCrc32c(data));
        expect(maskedCrc32c(data)).toBe(referenceMask(bitwiseCrc32c(data)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('TensorBoardWriter', () => {
  it('names the file by time and host, and starts it with the file version', async () => {
    const before = Math.floor(Date.now() / 1000);
    const dir = freshDir();
    const writer = await TensorBoardWriter.create(dir);
    await writer.close();
    const { name, events } = await readEvents(dir);
    const match = /^events\.out\.tfevents\.(\d+)\.(.+)$/.exec(name);
    expect(match?.[2]).toBe(os.hostname());
    expect(Number(match?.[1])).toBeGreaterThanOrEqual(before);
    expect(events).toHaveLength(1);
    expect(events[0]!.fileVersion).toBe(FILE_VERSION);
    expect(events[0]!.step).toBeUndefined();
  });

  it('writes the same bytes as tensorboard_logger (golden file from its test suite)', async () => {
    const golden = [
      '1800000000000000a37f4b220900000000000870401a0d627261696e2e4576656e743a32bc98212b',
      '19000000000000008bf1082809000000000008704010012a0c0a0a0a03762f31150000c03f2cecc087',
      '1a00000000000000129bd82d09000000000008704010022a0d0a0b0a04762f323215000080418fa3b688',
    ].join('');
    const dir = freshDir();
    vi.useFakeTimers({ toFake: ['Date'], now: 256_500 });
    try {
      const writer = await TensorBoardWriter.create(dir);
      writer.scalar('v/1', 1.5, 1);
      writer.scalar('v/22', 16.0, 2);
      await writer.close();
    } finally {
      vi.useRealTimers();
    }
    const names = await readdir(dir);
    expect(names).toEqual([`events.out.tfevents.256.${os.hostname()}`]);
    expect(Buffer.from(await readFile(path.join(dir, names[0]!))).toString('hex')).toBe(golden);
  });

  it('writes scalars that read back with their tags, values, steps and times', async () => {
    const dir = freshDir();
    const writer = await TensorBoardWriter.create(dir);
    writer.scalar('train/loss', 1.25, 1, 1700000000.5);
    writer.scalar('train/loss', Number.NaN, 2, 1700000001);
    writer.scalar('train/lr', 3e-4, 2 ** 40, 1700000002);
    writer.scalar('grad/ñorm∞', Number.POSITIVE_INFINITY, -3, 1700000003);
    await writer.close();
    const { events } = await readEvents(dir);
    expect(events.slice(1)).toEqual([
      { wallTime: 1700000000.5, step: 1n, values: [{ tag: 'train/loss', value: 1.25 }] },
      { wallTime: 1700000001, step: 2n, values: [{ tag: 'train/loss', value: Number.NaN }] },
      { wallTime: 1700000002, step: 2n ** 40n, values: [{ tag: 'train/lr', value: Math.fround(3e-4) }] },
      { wallTime: 1700000003, step: -3n, values: [{ tag: 'grad/ñorm∞', value: Number.POSITIVE_INFINITY }] },
    ]);
  });

  it('keeps scalars in memory until flush, then appends', async () => {
    const dir = freshDir();
    const writer = await TensorBoardWriter.create(dir);
    writer.scalar('a', 1, 1);
    expect((await readEvents(dir)).events).toHaveLength(1);
    await writer.flush();
    expect((await readEvents(dir)).events).toHaveLength(2);
    writer.scalar('a', 2, 2);
    writer.scalar('a', 3, 3);
    await Promise.all([writer.flush(), writer.flush()]);
    const { events } = await readEvents(dir);
    expect(events.slice(1).map((event) => event.values[0]!.value)).toEqual([1, 2, 3]);
    await writer.close();
    expect(() => writer.scalar('a', 4, 4)).toThrow(/after close/);
  });

  it('rejects a step that is not an integer', async () => {
    const writer = await TensorBoardWriter.create(freshDir());
    expect(() => writer.scalar('a', 1, 1.5)).toThrow(RangeError);
    await writer.close();
  });

  it('round-trips random scalars', async () => {
    const scalar = fc.record({
      tag: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
      value: fc.float(),
      step: fc.maxSafeInteger(),
      wallTime: fc.double({ min: 0, max: 4e9, noNaN: true }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(scalar, { maxLength: 20 }), async (scalars) => {
        const dir = freshDir();
        const writer = await TensorBoardWriter.create(dir);
        for (const { tag, value, step, wallTime } of scalars) writer.scalar(tag, value, step, wallTime);
        await writer.close();
        const { events } = await readEvents(dir);
        expect(events.slice(1)).toEqual(
          scalars.map(({ tag, value, step, wallTime }) => ({ wallTime, step: BigInt(step), values: [{ tag, value }] })),
        );
      }),
      { numRuns: 40 },
    );
  });
});
