// The Node edge of the WebGPU runtime: Dawn (npm `webgpu`) and the autotuner's cache file.
// Only Node imports this, and only dynamically (Engine.create without a device), so a browser
// bundle never evaluates it.

import { create, globals } from 'webgpu';
import { fileTuningCache } from './autotune_file.js';
import { adapterInfoOf, Gpu, requestComputeDevice } from './gpu.js';

/** Opens the first adapter Dawn finds, or returns null when there is none. */
export async function openDawn(): Promise<Gpu | null> {
  // Dawn's Vulkan loader wants a runtime directory even when headless
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  // the kernels name GPUBufferUsage, GPUMapMode... as a page does: globals, as in a browser
  Object.assign(globalThis, globals);
  const instance = create([]);
  const adapter = await instance.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return null;
  const device = await requestComputeDevice(adapter);
  const gpu = new Gpu(device, { adapterInfo: adapterInfoOf(adapter.info), ownsDevice: true, keepAlive: instance });
  gpu.tuning = fileTuningCache;
  return gpu;
}
