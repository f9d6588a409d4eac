// The two engines every op test runs on: the float64 CPU reference and WebGPU (lavapipe in CI).
import { Engine } from '../../engine/index.js';
import { testGpu } from './gpu.js';

export const cpu = await Engine.create({ backend: 'cpu' });

let gpuEngine: Engine | null = null;
export async function webgpu(): Promise<Engine> {
  gpuEngine ??= Engine.onGpu(await testGpu());
  return gpuEngine;
}

/** A small seeded generator for test data (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
