// TensorBoard event files, written by hand so `tensorboard --logdir RUN_DIR` shows the run's
// scalars without a protobuf dependency. A file is a sequence of TFRecords, each holding one
// serialized tensorflow.Event:
//   record  = u64le length · u32le masked_crc32c(length bytes) · data · u32le masked_crc32c(data)
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; }
// The first record carries file_version "brain.Event:2", which TensorBoard requires.

import { appendFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeDir, withFileError } from '../../io/files.js';

// ---------------------------------------------------------------------------------------------
// CRC32C (Castagnoli), the checksum TFRecord uses

const CASTAGNOLI_REFLECTED = 0x82f63b78;

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ CASTAGNOLI_REFLECTED : crc >>> 1;
    table[byte] = crc >>> 0;
  }
  return table;
})();

export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord stores a rotated, offset CRC so that a CRC of data that itself holds CRCs stays strong. */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data);
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// TFRecord framing

export function encodeTfRecord(data: Uint8Array): Uint8Array {
  const record = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(record.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(record.subarray(0, 8)), true);
  record.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return record;
}

// ---------------------------------------------------------------------------------------------
// Protobuf encoding of the few fields an Event needs

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

class ProtoBuilder {
  private readonly bytes: number[] = [];

  /** int64 as protobuf does it: negative values are their 64-bit two's complement (10 bytes). */
  int64(field: number, value: number): this {
    this.key(field, WIRE_VARINT);
    let rest = BigInt.asUintN(64, BigInt(value));
    while (rest >= 0x80n) {
      this.bytes.push(Number(rest & 0x7fn) | 0x80);
      rest >>= 7n;
    }
    this.bytes.push(Number(rest));
    return this;
  }

  double(field: number, value: number): this {
    this.key(field, WIRE_FIXED64);
    const scratch = new DataView(new ArrayBuffer(8));
    scratch.setFloat64(0, value, true);
    for (let i = 0; i < 8; i++) this.bytes.push(scratch.getUint8(i));
    return this;
  }

  /** float32; NaN and ±Infinity encode as themselves, so a diverged loss is still logged. */
  float(field: number, value: number): this {
    this.key(field, WIRE_FIXED32);
    const scratch = new DataView(new ArrayBuffer(4));
    scratch.setFloat32(0, value, true);
    for (let i = 0; i < 4; i++) this.bytes.push(scratch.getUint8(i));
    return this;
  }

  string(field: number, value: string): this {
    return this.message(field, new TextEncoder().encode(value));
  }

  message(field: number, encoded: Uint8Array): this {
    this.key(field, WIRE_LENGTH_DELIMITED);
    this.varint(encoded.length);
    for (const byte of encoded) this.bytes.push(byte);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }

  private key(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  private varint(value: number): void {
    while (value >= 0x80) {
      this.bytes.push((value & 0x7f) | 0x80);
      value = Math.floor(value / 128);
    }
    this.bytes.push(value);
  }
}

const EVENT_WALL_TIME = 1;
const EVENT_STEP = 2;
const EVENT_FILE_VERSION = 3;
const EVENT_SUMMARY = 5;
const SUMMARY_VALUE = 1;
const VALUE_TAG = 1;
const VALUE_SIMPLE_VALUE = 2;

export const FILE_VERSION = 'brain.Event:2';

function encodeFileVersionEvent(wallTime: number): Uint8Array {
  // step 0 is left out, as proto3 writers do, so the record matches TensorFlow's byte for byte
  return new ProtoBuilder()
    .double(EVENT_WALL_TIME, wallTime)
    .string(EVENT_FILE_VERSION, FILE_VERSION)
    .finish();
}

function encodeScalarEvent(tag: string, value: number, step: number, wallTime: number): Uint8Array {
  const summaryValue = new ProtoBuilder().string(VALUE_TAG, tag).float(VALUE_SIMPLE_VALUE, value).finish();
  const summary = new ProtoBuilder().message(SUMMARY_VALUE, summaryValue).finish();
  return new ProtoBuilder()
    .double(EVENT_WALL_TIME, wallTime)
    .int64(EVENT_STEP, step)
    .message(EVENT_SUMMARY, summary)
    .finish();
}

// ---------------------------------------------------------------------------------------------
// The writer

const nowSeconds = (): number => Date.now() / 1000;

export class TensorBoardWriter {
  private pending: Uint8Array[] = [];
  /** Appends run one after another, in call order; a failed one does not block the next. */
  private lastAppend: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(readonly file: string) {}

  static async create(dir: string): Promise<TensorBoardWriter> {
    await makeDir(dir);
    const wallTime = nowSeconds();
    const name = `events.out.tfevents.${Math.floor(wallTime)}.${os.hostname()}`;
    const writer = new TensorBoardWriter(path.join(dir, name));
    writer.pending.push(encodeTfRecord(encodeFileVersionEvent(wallTime)));
    await writer.flush();
    return writer;
  }

  /** Buffers one scalar; nothing reaches the disk until flush(). */
  scalar(tag: string, value: number, step: number, wallTime: number = nowSeconds()): void {
    if (this.closed) throw new Error(`TensorBoardWriter: scalar '${tag}' after close (${this.file})`);
    if (!Number.isSafeInteger(step)) throw new RangeError(`TensorBoardWriter: step must be an integer, got ${step}`);
    this.pending.push(encodeTfRecord(encodeScalarEvent(tag, value, step, wallTime)));
  }

  async flush(): Promise<void> {
    const chunks = this.pending;
    this.pending = [];
    const append = this.lastAppend.then(() => (chunks.length > 0 ? withFileError('write', this.file, () => appendFile(this.file, concat(chunks))) : undefined));
    this.lastAppend = append.catch(() => undefined);
    await append;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush();
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
