// safetensors files, read and written from the format's specification:
//   8 bytes   N, little-endian u64: the header length
//   N bytes   JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}},
//             starting with '{', possibly padded with spaces
//   rest      the data section; offsets are relative to its start; little-endian, row-major.
// The whole header is validated before any tensor byte is read (sizes, dtypes, bounds, overlaps,
// holes: the data must be exactly covered), so a malformed file costs one clear error and never a
// large allocation. Tensors are then read one at a time with positioned reads, in chunks, so host
// memory holds the converted tensor plus one chunk, never the file.

import { type FileHandle, open } from 'node:fs/promises';
import os from 'node:os';
import { f32BitsToBf16 } from '../../engine/bf16.js';
import { oneLine, writeStreamAtomic } from '../../io/files.js';

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL' | 'U16' | 'U32' | 'U64' | 'F8_E4M3' | 'F8_E5M2';

/** Bytes per element of every dtype the specification defines. */
const DTYPE_BYTES: Record<SafetensorsDType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, U16: 2, U32: 4, U64: 8, F8_E4M3: 1, F8_E5M2: 1,
};

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** byte range within the data section (after the header) */
  begin: number;
  end: number;
}

export type TensorData = Float32Array | Int32Array;
export type WritableDType = 'F32' | 'BF16' | 'F16' | 'I32';

export interface TensorToWrite {
  name: string;
  shape: number[];
  /** the values, or a function producing them when their turn comes (so a large model need not be in memory at once) */
  data: TensorData | (() => TensorData | Promise<TensorData>);
  /** default: I32 for an Int32Array, F32 otherwise */
  dtype?: WritableDType;
}

// The reference implementation's limit; also bounds what a corrupt length field can make us allocate.
const MAX_HEADER_BYTES = 100_000_000;
const CHUNK_BYTES = 1 << 24;

if (os.endianness() !== 'LE') throw new Error('safetensors.ts reinterprets little-endian bytes in place and needs a little-endian host');

export class SafetensorsFile {
  private readonly byName: Map<string, TensorInfo>;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private readonly dataStart: number,
    /** in the order of their bytes in the file */
    readonly tensors: TensorInfo[],
    readonly metadata: Record<string, string>,
  ) {
    this.byName = new Map(tensors.map((t) => [t.name, t]));
  }

  /** Opens and validates a file; only the header is read. */
  static async open(path: string): Promise<SafetensorsFile> {
    const handle = await open(path, 'r');
    try {
      const size = (await handle.stat()).size;
      if (size < 8) throw new Error(`${path}: file is ${size} bytes, too short for the 8-byte header length`);
      const lengthBytes = await readExactly(handle, path, 8, 0);
      const headerLength = new DataView(lengthBytes.buffer).getBigUint64(0, true);
      if (headerLength > BigInt(MAX_HEADER_BYTES)) throw new Error(`${path}: header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
      if (headerLength > BigInt(size - 8)) throw new Error(`${path}: header length ${headerLength} exceeds the ${size - 8} bytes after the length field`);
      const n = Number(headerLength);
      const header = parseHeader(await readExactly(handle, path, n, 8), path, size - 8 - n);
      return new SafetensorsFile(path, handle, 8 + n, header.tensors, header.metadata);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  info(name: string): TensorInfo | undefined {
    return this.byName.get(name);
  }

  /** One tensor's values: floating dtypes as Float32Array, integer and bool dtypes as Int32Array. */
  async read(name: string): Promise<TensorData> {
    const info = this.byName.get(name);
    if (!info) throw new Error(`${this.path}: no tensor named "${name}"`);
    const decoder = DECODERS[info.dtype];
    if (!decoder) throw new Error(`${this.path}: tensor "${name}": reading dtype ${info.dtype} is not supported`);
    const elementBytes = DTYPE_BYTES[info.dtype];
    const count = (info.end - info.begin) / elementBytes;
    const out = decoder.float ? new Float32Array(count) : new Int32Array(count);
    const position = this.dataStart + info.begin;
    const chunkElements = Math.max(1, Math.floor(CHUNK_BYTES / elementBytes));
    const scratch = new Uint8Array(Math.min(count, chunkElements) * elementBytes);
    for (let at = 0; at < count; at += chunkElements) {
      const n = Math.min(chunkElements, count - at);
      const bytes = scratch.subarray(0, n * elementBytes);
      await readInto(this.handle, this.path, bytes, position + at * elementBytes);
      decoder.decode(bytes, n, out, at, () => `${this.path}: tensor "${name}"`);
    }
    return out;
  }

  /** A BF16 tensor's bit patterns as stored, not widened (frozen weights stay 16-bit). */
  async readBf16Bits(name: string): Promise<Uint16Array> {
    const info = this.byName.get(name);
    if (!info) throw new Error(`${this.path}: no tensor named "${name}"`);
    if (info.dtype !== 'BF16') throw new Error(`${this.path}: tensor "${name}" is ${info.dtype}, not BF16`);
    const out = new Uint16Array((info.end - info.begin) / 2);
    await readInto(this.handle, this.path, new Uint8Array(out.buffer), this.dataStart + info.begin);
    return out;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Fills `into` from `position`; reads are capped at CHUNK_BYTES each (the OS caps one read near 2 GiB). */
async function readInto(handle: FileHandle, path: string, into: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await handle.read(into, done, Math.min(CHUNK_BYTES, into.length - done), position + done);
    if (bytesRead === 0) throw new Error(`${path}: file ended early (it changed since it was opened?)`);
    done += bytesRead;
  }
}

async function readExactly(handle: FileHandle, path: string, length: number, position: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  await readInto(handle, path, bytes, position);
  return bytes;
}

function parseHeader(bytes: Uint8Array, path: string, dataLength: number): { tensors: TensorInfo[]; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new Error(`${path}: header is not valid UTF-8`);
  }
  if (!text.startsWith('{')) throw new Error(`${path}: header must start with '{'`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: header is not valid JSON: ${oneLine((e as Error).message)}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${path}: header must be a JSON object`);

  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${path}: __metadata__ must be an object of strings`);
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw new Error(`${path}: __metadata__["${k}"] must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    tensors.push(parseEntry(name, value, `${path}: tensor "${name}"`, dataLength));
  }

  // The spec requires the data section to be covered exactly: no overlaps, no holes.
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: TensorInfo | undefined;
  for (const t of tensors) {
    if (t.begin < covered) throw new Error(`${path}: tensor "${t.name}" [${t.begin}, ${t.end}) overlaps tensor "${previous!.name}" [${previous!.begin}, ${previous!.end})`);
    if (t.begin > covered) throw new Error(`${path}: bytes [${covered}, ${t.begin}) before tensor "${t.name}" belong to no tensor`);
    covered = t.end;
    previous = t;
  }
  if (covered !== dataLength) throw new Error(`${path}: data section is ${dataLength} bytes but the tensors cover ${covered}`);
  return { tensors, metadata };
}

function parseEntry(name: string, value: unknown, where: string, dataLength: number): TensorInfo {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where}: entry must be an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) throw new Error(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`${where}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new Error(`${where}: data_offsets must be [begin, end] of non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new Error(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataLength) throw new Error(`${where}: data_offsets [${begin}, ${end}] run past the ${dataLength}-byte data section`);
  // Multiplied step by step so that a huge shape is reported, not rounded into a plausible size.
  let bytes = DTYPE_BYTES[dtype as SafetensorsDType];
  if ((shape as number[]).includes(0)) bytes = 0;
  for (const d of shape as number[]) if (bytes <= Number.MAX_SAFE_INTEGER) bytes *= d;
  if (bytes !== end - begin) {
    const needs = bytes > Number.MAX_SAFE_INTEGER ? 'more than 2^53 bytes' : `${bytes} bytes`;
    throw new Error(`${where}: shape ${JSON.stringify(shape)} of ${dtype} needs ${needs}, but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  return { name, dtype: dtype as SafetensorsDType, shape: [...shape] as number[], begin, end };
}

// ---------------------------------------------------------------------------------------------
// Conversions. `bytes` always starts at offset 0 of its own buffer, so typed views are aligned.

interface Decoder {
  float: boolean;
  decode(bytes: Uint8Array, count: number, out: TensorData, at: number, where: () => string): void;
}

const DECODERS: Partial<Record<SafetensorsDType, Decoder>> = {
  F32: { float: true, decode: (b, n, out, at) => out.set(new Float32Array(b.buffer, 0, n), at) },
  F64: { float: true, decode: (b, n, out, at) => out.set(new Float64Array(b.buffer, 0, n), at) },
  BF16: {
    float: true,
    decode: (b, n, out, at) => {
      // bf16 is the top half of an f32: shift the bits into place.
      const half = new Uint16Array(b.buffer, 0, n);
      const bits = new Uint32Array(out.buffer, out.byteOffset + at * 4, n);
      for (let i = 0; i < n; i++) bits[i] = half[i] << 16;
    },
  },
  F16: {
    float: true,
    decode: (b, n, out, at) => {
      const table = f16Table();
      const half = new Uint16Array(b.buffer, 0, n);
      for (let i = 0; i < n; i++) out[at + i] = table[half[i]];
    },
  },
  I32: { float: false, decode: (b, n, out, at) => out.set(new Int32Array(b.buffer, 0, n), at) },
  I16: { float: false, decode: (b, n, out, at) => out.set(new Int16Array(b.buffer, 0, n), at) },
  I8: { float: false, decode: (b, n, out, at) => out.set(new Int8Array(b.buffer, 0, n), at) },
  U8: { float: false, decode: (b, n, out, at) => out.set(b.subarray(0, n), at) },
  BOOL: { float: false, decode: (b, n, out, at) => out.set(b.subarray(0, n), at) },
  I64: {
    float: false,
    decode: (b, n, out, at, where) => {
      // Kept only when the value fits in 32 bits: the high word is the sign extension of the low.
      const words = new Int32Array(b.buffer, 0, 2 * n);
      for (let i = 0; i < n; i++) {
        const low = words[2 * i];
        if (words[2 * i + 1] !== low >> 31) throw new Error(`${where()}: I64 element ${at + i} does not fit in 32 bits`);
        out[at + i] = low;
      }
    },
  },
};

let f16Values: Float32Array | undefined;
/** The f32 value of every f16 bit pattern. */
function f16Table(): Float32Array {
  if (f16Values) return f16Values;
  f16Values = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    f16Values[h] =
      exponent === 0 ? sign * mantissa * 2 ** -24 : exponent === 31 ? (mantissa ? NaN : sign * Infinity) : sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return f16Values;
}

/** f32 bits → f16 bits, rounding to nearest even; overflow becomes infinity, NaN stays NaN. */
export function f32BitsToF16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 | (mantissa >>> 13) : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  let half: number;
  let rest: number;
  let halfway: number;
  if (e <= 0) {
    // Subnormal in f16: shift the full significand (implicit 1 included) right.
    if (e < -10) return sign;
    const shift = 14 - e;
    const significand = mantissa | 0x800000;
    half = significand >>> shift;
    rest = significand & ((1 << shift) - 1);
    halfway = 1 << (shift - 1);
  } else {
    half = (e << 10) | (mantissa >>> 13);
    rest = mantissa & 0x1fff;
    halfway = 0x1000;
  }
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rest > halfway || (rest === halfway && half & 1)) half++;
  return sign | half;
}

const ENCODE_CHUNK_ELEMENTS = 1 << 20;

/** The bytes of `data` as `dtype`, produced a chunk at a time. */
function* encodedChunks(data: TensorData, dtype: WritableDType): Generator<Uint8Array> {
  if (dtype === 'F32' || dtype === 'I32') {
    for (let start = 0; start < data.length; start += ENCODE_CHUNK_ELEMENTS) {
      yield new Uint8Array(data.buffer, data.byteOffset + start * 4, Math.min(ENCODE_CHUNK_ELEMENTS, data.length - start) * 4);
    }
    return;
  }
  const toHalf = dtype === 'BF16' ? f32BitsToBf16 : f32BitsToF16;
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let start = 0; start < data.length; start += ENCODE_CHUNK_ELEMENTS) {
    const n = Math.min(ENCODE_CHUNK_ELEMENTS, data.length - start);
    const half = new Uint16Array(n);
    for (let i = 0; i < n; i++) half[i] = toHalf(bits[start + i]);
    yield new Uint8Array(half.buffer);
  }
}

/**
 * Writes a safetensors file atomically (a temporary file renamed into place). Tensors are laid out
 * widest element first, so each starts aligned to its element size, and the header is padded with
 * spaces to a multiple of 8 bytes, as Hugging Face's writer does.
 */
export async function writeSafetensors(path: string, tensors: TensorToWrite[], metadata?: Record<string, string>): Promise<void> {
  const where = (t: TensorToWrite) => `writeSafetensors ${path}: tensor "${t.name}"`;
  const seen = new Set<string>();
  const planned = tensors.map((t) => {
    if (t.name === '__metadata__' || seen.has(t.name)) throw new Error(`${where(t)}: name is reserved or repeated`);
    seen.add(t.name);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`${where(t)}: shape must be non-negative integers, got ${JSON.stringify(t.shape)}`);
    const dtype: WritableDType = t.dtype ?? (t.data instanceof Int32Array ? 'I32' : 'F32');
    const count = t.shape.reduce((a, b) => a * b, 1);
    return { tensor: t, dtype, count, bytes: count * DTYPE_BYTES[dtype] };
  });
  planned.sort((a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype]); // stable: same-width tensors keep their order

  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new Error(`writeSafetensors ${path}: metadata "${k}" must be a string`);
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const p of planned) {
    header[p.tensor.name] = { dtype: p.dtype, shape: p.tensor.shape, data_offsets: [offset, offset + p.bytes] };
    offset += p.bytes;
  }
  let headerText = JSON.stringify(header);
  const unpadded = Buffer.byteLength(headerText);
  headerText += ' '.repeat((8 - (unpadded % 8)) % 8);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));

  await writeStreamAtomic(path, async (write) => {
    await write(prefix);
    await write(headerBytes);
    for (const p of planned) {
      const data = typeof p.tensor.data === 'function' ? await p.tensor.data() : p.tensor.data;
      const isInt = data instanceof Int32Array;
      if (isInt !== (p.dtype === 'I32')) throw new Error(`${where(p.tensor)}: ${isInt ? 'Int32Array' : 'Float32Array'} data cannot be written as ${p.dtype}`);
      if (data.length !== p.count) throw new Error(`${where(p.tensor)}: shape ${JSON.stringify(p.tensor.shape)} needs ${p.count} values, got ${data.length}`);
      for (const chunk of encodedChunks(data, p.dtype)) await write(chunk);
    }
  });
}
