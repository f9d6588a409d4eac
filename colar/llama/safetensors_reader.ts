// Reading safetensors files, from the format's specification:
//   8 bytes   N, little-endian u64: the header length
//   N bytes   JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}},
//             starting with '{', possibly padded with spaces
//   rest      the data section; offsets are relative to its start; little-endian, row-major.
// The whole header is validated before any tensor byte is read (sizes, dtypes, bounds, overlaps,
// holes: the data must be exactly covered), so a malformed file costs one clear error and never a
// large allocation. Tensors are then read one at a time through a ByteSource (a file handle in
// Node, bytes in memory in a page), in chunks, so host memory holds the converted tensor plus one
// chunk, never the file. Writing is Node's: safetensors.ts.

import type * as E from '../../engine/index.js';
import { oneLine } from '../../io/one_line.js';
import type { ByteSource } from './model_files.js';

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL' | 'U16' | 'U32' | 'U64' | 'F8_E4M3' | 'F8_E5M2';

/** Bytes per element of every dtype the specification defines. */
export const DTYPE_BYTES: Record<SafetensorsDType, number> = {
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

// The reference implementation's limit; also bounds what a corrupt length field can make us allocate.
const MAX_HEADER_BYTES = 100_000_000;
const CHUNK_BYTES = 1 << 24;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('safetensors_reader.ts reinterprets little-endian bytes in place and needs a little-endian host');

export class SafetensorsReader {
  private readonly byName: Map<string, TensorInfo>;

  private constructor(
    /** names the file in errors */
    readonly path: string,
    private readonly source: ByteSource,
    private readonly dataStart: number,
    /** in the order of their bytes in the file */
    readonly tensors: TensorInfo[],
    readonly metadata: Record<string, string>,
  ) {
    this.byName = new Map(tensors.map((t) => [t.name, t]));
  }

  /** Validates a file's header (only the header is read); `path` names it in errors. Closes the source on failure. */
  static async open(source: ByteSource, path: string): Promise<SafetensorsReader> {
    try {
      const size = source.size;
      if (size < 8) throw new Error(`${path}: file is ${size} bytes, too short for the 8-byte header length`);
      const lengthBytes = await readExactly(source, path, 8, 0);
      const headerLength = new DataView(lengthBytes.buffer).getBigUint64(0, true);
      if (headerLength > BigInt(MAX_HEADER_BYTES)) throw new Error(`${path}: header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
      if (headerLength > BigInt(size - 8)) throw new Error(`${path}: header length ${headerLength} exceeds the ${size - 8} bytes after the length field`);
      const n = Number(headerLength);
      const header = parseHeader(await readExactly(source, path, n, 8), path, size - 8 - n);
      return new SafetensorsReader(path, source, 8 + n, header.tensors, header.metadata);
    } catch (e) {
      await source.close();
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
      await readInto(this.source, this.path, bytes, position + at * elementBytes);
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
    await readInto(this.source, this.path, new Uint8Array(out.buffer), this.dataStart + info.begin);
    return out;
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}

/** Reads in chunks of CHUNK_BYTES (the OS caps one read near 2 GiB). */
async function readInto(source: ByteSource, path: string, into: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < into.length; done += CHUNK_BYTES) {
    await source.read(into.subarray(done, Math.min(into.length, done + CHUNK_BYTES)), position + done).catch((e: Error) => {
      throw new Error(`${path}: ${e.message}`);
    });
  }
}

async function readExactly(source: ByteSource, path: string, length: number, position: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  await readInto(source, path, bytes, position);
  return bytes;
}

/**
 * Copies the file's tensors into `into` (name → tensor of the same shape), each under
 * `prefix` + its name; a tensor missing from the file is an error unless `partial`. Returns the
 * number copied.
 */
export async function readTensorsInto(file: SafetensorsReader, into: Map<string, E.Tensor>, opts: { partial?: boolean; prefix?: string } = {}): Promise<number> {
  let loaded = 0;
  for (const [name, t] of into) {
    const info = file.info((opts.prefix ?? '') + name);
    if (!info) {
      if (opts.partial) continue;
      throw new Error(`${file.path}: tensor ${name} is missing`);
    }
    if (info.shape.join() !== t.shape.join()) throw new Error(`${file.path}: tensor ${name} has shape [${info.shape}] but the model needs [${t.shape}]`);
    t.assign(await file.read(info.name));
    loaded++;
  }
  return loaded;
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
