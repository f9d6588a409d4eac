// One WebGPU runtime per test process, closed after the file's tests. A test that needs the
// GPU fails (never skips) when no adapter is found: CI must run the kernels for real.
import { afterAll } from 'vitest';
import { openDawn } from '../../kernels/dawn.js';
import type { Gpu } from '../../kernels/gpu.js';

let opened: Promise<Gpu> | null = null;

export function testGpu(): Promise<Gpu> {
  opened ??= openDawn().then((gpu) => {
    if (!gpu) throw new Error('no WebGPU adapter: run scripts/setup.sh (installs Mesa lavapipe from bookworm-backports)');
    return gpu;
  });
  return opened;
}

afterAll(async () => {
  if (opened) await (await opened).close();
  opened = null;
});

/** A buffer holding `data` (f32 unless `Int32Array`). */
export function upload(gpu: Gpu, data: ArrayLike<number> | Int32Array): GPUBuffer {
  const typed = data instanceof Int32Array ? data : Float32Array.from(data);
  const buffer = gpu.pool.acquire(Math.max(4, typed.byteLength));
  gpu.write(buffer, typed);
  return buffer;
}

/** A buffer holding bf16 bit patterns, two per u32 word (the even element in the low half). */
export function uploadBf16(gpu: Gpu, bits: Uint16Array): GPUBuffer {
  const padded = new Uint16Array(2 * Math.max(1, Math.ceil(bits.length / 2)));
  padded.set(bits);
  const buffer = gpu.pool.acquire(padded.byteLength);
  gpu.write(buffer, padded);
  return buffer;
}

/** An output buffer prefilled with NaN, so an element the kernel fails to write cannot pass. */
export function nanBuffer(gpu: Gpu, n: number): GPUBuffer {
  return upload(gpu, new Float32Array(Math.max(1, n)).fill(NaN));
}

export async function download(gpu: Gpu, buffer: GPUBuffer, n: number): Promise<Float32Array> {
  return new Float32Array(await gpu.read(buffer, 0, n * 4));
}

export async function downloadI32(gpu: Gpu, buffer: GPUBuffer, n: number): Promise<Int32Array> {
  return new Int32Array(await gpu.read(buffer, 0, n * 4));
}
