// Engine.create({ device }) runs on a device it did not open, as a page's would be: here one
// requested from Dawn directly. The engine computes on it, keeps tuning results in memory (no
// cache file), and leaves the device open when it closes; without one, Node opens Dawn.
import { create, globals } from 'webgpu';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine, MemoryTuningCache, matmul, requestComputeDevice } from '../../engine/index.js';
import { fileTuningCache } from '../../kernels/autotune_file.js';

Object.assign(globalThis, globals); // what a browser provides: GPUBufferUsage, GPUMapMode...
const instance = create([]);
const adapter = (await instance.requestAdapter())!;
const device = await requestComputeDevice(adapter);

// dawn.node crashes if its instance is collected while the device lives: the closure holds it
afterAll(() => {
  device.destroy();
  void instance;
});

async function product(engine: Engine): Promise<Float32Array> {
  const a = engine.tensor([[1, 2, 3], [4, 5, 6]]);
  const b = engine.tensor([[1, 0], [0, 1], [2, -1]]);
  return matmul(a, b).float32();
}

describe('Engine.create({ device })', () => {
  it('computes on the given device, names its adapter, tunes in memory, and leaves the device open', async () => {
    const engine = await Engine.create({ device, adapterInfo: adapter.info, backend: 'webgpu' });
    expect(engine.gpu?.device).toBe(device);
    expect(engine.gpu?.adapterName).toContain(adapter.info.description);
    expect(engine.gpu?.info.subgroupMinSize).toBe(adapter.info.subgroupMinSize);
    expect(engine.gpu?.tuning).toBeInstanceOf(MemoryTuningCache);
    expect([...(await product(engine))]).toEqual([7, -1, 16, -1]);
    await engine.close();
    // the device survived the engine: a second engine computes on it
    const again = await Engine.create({ device });
    expect([...(await product(again))]).toEqual([7, -1, 16, -1]);
    await again.close();
  });

  it('without a device, in Node, opens Dawn, which keeps tuning results in the cache file', async () => {
    const engine = await Engine.create({ backend: 'webgpu' });
    expect(engine.gpu?.device).not.toBe(device);
    expect(engine.gpu?.tuning).toBe(fileTuningCache);
    expect([...(await product(engine))]).toEqual([7, -1, 16, -1]);
    await engine.close();
  });
});
