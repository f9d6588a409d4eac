// What a device can hold, checked before anything is uploaded: a page's device may allow far
// smaller buffers than Dawn's (WebGPU's defaults: 256 MiB per buffer, 128 MiB per binding), and
// a model that does not fit should cost one clear line, not a device error halfway through.
// A tensor must fit one buffer (maxBufferSize); the kernels bind larger tensors in windows of
// whole rows, so only a row must fit one binding (maxStorageBufferBindingSize).

import type { DType } from './backend.js';
import type { Engine } from './engine.js';

/** A model or tensor the engine's device cannot hold or run; pages show its message as it is. */
export class DeviceLimitError extends Error {
  override readonly name = 'DeviceLimitError';
}

/** Bytes per element on the device (bf16 packs two per word). */
const DEVICE_BYTES: Record<DType, number> = { f32: 4, i32: 4, bf16: 2 };

/** The features the model's kernels cannot do without (attention runs one subgroup per workgroup). */
const MODEL_FEATURES = ['subgroups'];

export interface TensorPlan {
  /** names the tensor in errors, e.g. `<file>: tensor "model.embed_tokens.weight"` */
  where: string;
  shape: readonly number[];
  dtype: DType;
}

/**
 * Throws a DeviceLimitError naming the first tensor that cannot live on the engine's device,
 * or the feature a model needs that the device lacks. The CPU backend holds anything.
 */
export function checkModelFits(engine: Engine, tensors: Iterable<TensorPlan>): void {
  const gpu = engine.gpu;
  if (!gpu) return;
  for (const feature of MODEL_FEATURES) {
    if (!gpu.features.has(feature)) throw new DeviceLimitError(`this device lacks the WebGPU feature "${feature}", which the model's attention kernels need`);
  }
  if (!gpu.info.subgroupMinSize) throw new DeviceLimitError('this device does not report its subgroup size (GPUAdapterInfo.subgroupMinSize), which sizes the attention kernels');
  const { maxBufferSize, maxStorageBufferBindingSize } = gpu.limits;
  for (const t of tensors) {
    const elements = t.shape.reduce((a, b) => a * b, 1);
    const bytes = Math.ceil((elements * DEVICE_BYTES[t.dtype]) / 4) * 4;
    if (bytes > maxBufferSize) throw new DeviceLimitError(`${t.where} is ${formatBytes(bytes)}; this device holds at most ${formatBytes(maxBufferSize)} per buffer (maxBufferSize)`);
    const rowBytes = (t.shape.at(-1) ?? 1) * DEVICE_BYTES[t.dtype];
    if (rowBytes > maxStorageBufferBindingSize) {
      throw new DeviceLimitError(`${t.where} has rows of ${formatBytes(rowBytes)}; this device binds at most ${formatBytes(maxStorageBufferBindingSize)} at once (maxStorageBufferBindingSize)`);
    }
  }
}

/** Sizes in MiB with one decimal where it matters: "525.3 MiB", "256 MiB". */
export function formatBytes(bytes: number): string {
  const mib = bytes / 2 ** 20;
  if (mib < 0.1) return `${bytes} bytes`;
  return `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB`;
}
