// safetensors files on disk: opened through a file handle (positioned reads, so a 1B model's
// tensors stream one at a time) and written atomically. The format and the reading are
// safetensors_reader.ts's.

import { open } from 'node:fs/promises';
import { f32BitsToBf16 } from '../../engine/bf16.js';
import { writeStreamAtomic } from '../../io/files.js';
import type { ByteSource } from './model_files.js';
import { DTYPE_BYTES, SafetensorsReader, type TensorData } from './safetensors_reader.js';

export { SafetensorsReader, type SafetensorsDType, type TensorData, type TensorInfo } from './safetensors_reader.js';

export type WritableDType = 'F32' | 'BF16' | 'F16' | 'I32';

export interface TensorToWrite {
  name: string;
  shape: number[];
  /** the values, or a function producing them when their turn comes (so a large model need not be in memory at once) */
  data: TensorData | (() => TensorData | Promise<TensorData>);
  /** default: I32 for an Int32Array, F32 otherwise */
  dtype?: WritableDType;
}

/** A file on disk as a ByteSource: positioned reads through one handle, kept open until close(). */
export async function fileSource(path: string): Promise<ByteSource> {
  const handle = await open(path, 'r');
  const size = await handle.stat().then(
    (st) => st.size,
    async (e) => {
      await handle.close();
      throw e;
    },
  );
  return {
    size,
    async read(into, position) {
      for (let done = 0; done < into.length; ) {
        const { bytesRead } = await handle.read(into, done, into.length - done, position + done);
        if (bytesRead === 0) throw new Error('file ended early (it changed since it was opened?)');
        done += bytesRead;
      }
    },
    close: () => handle.close(),
  };
}

/** Opens and validates a safetensors file; only the header is read. */
export async function openSafetensors(path: string): Promise<SafetensorsReader> {
  return SafetensorsReader.open(await fileSource(path), path);
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
