// Memory-bound kernels, reported as GB/s and as a percentage of the measured copy ceiling.
import { adamwGpu } from '../kernels/adamw.js';
import { crossEntropyGpu } from '../kernels/cross_entropy.js';
import { binaryGpu, unaryGpu } from '../kernels/elementwise.js';
import type { Gpu } from '../kernels/gpu.js';
import { layerNormGpu, rmsNormGpu } from '../kernels/norm.js';
import { ropeGpu } from '../kernels/rope.js';
import { softmaxGpu } from '../kernels/softmax.js';
import { medianMs, type BenchRecord } from './record.js';

interface MemoryBench {
  name: string;
  shape: string;
  /** bytes the kernel must read and write at least once */
  bytes: number;
  /** element counts of the buffers to allocate */
  buffers: number[];
  run: (gpu: Gpu, b: GPUBuffer[]) => void;
}

const f4 = 4;

function cases(): MemoryBench[] {
  const rows = 2048;
  const d = 2048;
  const ceV = 128_256;
  const ceN = 16;
  const nParams = 4 << 20;
  const [B, T, H, D] = [4, 256, 32, 64];
  return [
    // the most a shader can move: read and write each element once (x → 1·x, vec4 lanes)
    { name: 'shader copy', shape: `${rows}x${d}`, bytes: 2 * rows * d * f4, buffers: [rows * d, rows * d], run: (g, [x, o]) => unaryGpu(g, 'scale', x, o, rows * d, 1) },
    { name: 'rmsnorm', shape: `${rows}x${d}`, bytes: 2 * rows * d * f4, buffers: [rows * d, d, rows * d, rows], run: (g, [x, w, o, r]) => rmsNormGpu(g, x, w, o, r, rows, d, 1e-5) },
    { name: 'layernorm', shape: `${rows}x${d}`, bytes: 2 * rows * d * f4, buffers: [rows * d, d, d, rows * d, rows, rows], run: (g, [x, w, b, o, m, r]) => layerNormGpu(g, x, w, b, o, m, r, rows, d, 1e-5) },
    { name: 'softmax', shape: `${rows}x${d}`, bytes: 2 * rows * d * f4, buffers: [rows * d, rows * d], run: (g, [x, o]) => softmaxGpu(g, x, o, rows, d, false) },
    { name: 'cross_entropy', shape: `${ceN}x${ceV}`, bytes: ceN * ceV * f4, buffers: [ceN * ceV, ceN, ceN, ceN], run: (g, [x, t, l, s]) => crossEntropyGpu(g, x, t, l, s, ceN, ceV, -100) },
    { name: 'silu*mul', shape: `${rows}x${4 * d}`, bytes: 3 * rows * 4 * d * f4, buffers: [rows * 4 * d, rows * 4 * d, rows * 4 * d], run: (g, [a, b, o]) => binaryGpu(g, 'silu_mul', a, [rows * 4 * d], b, [rows * 4 * d], o, [rows * 4 * d]) },
    { name: 'rope', shape: `${B}x${T}x${H}x${D}`, bytes: 2 * B * T * H * D * f4, buffers: [B * T * H * D, B * T, D / 2, B * T * H * D], run: (g, [x, p, f, o]) => ropeGpu(g, x, p, f, o, B, T, H, D, false) },
    { name: 'adamw', shape: `${nParams}`, bytes: 7 * nParams * f4, buffers: [nParams, nParams, nParams, nParams], run: (g, [p, gr, m, v]) => adamwGpu(g, p, gr, m, v, nParams, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 }, null) },
  ];
}

export async function benchMemoryOps(gpu: Gpu, copyGbps: number): Promise<BenchRecord[]> {
  const records: BenchRecord[] = [];
  for (const c of cases()) {
    // zero-filled inputs: i32 zeros are valid ids/positions and f32 zeros valid values
    const buffers = c.buffers.map((n) => {
      const b = gpu.pool.acquire(n * f4);
      gpu.write(b, new Float32Array(n));
      return b;
    });
    const ms = await medianMs(() => c.run(gpu, buffers), () => gpu.sync());
    for (const b of buffers) gpu.pool.release(b);
    const gbps = c.bytes / (ms * 1e6);
    records.push({ name: c.name, shape: c.shape, backend: 'webgpu', adapter: gpu.adapterName, ms_median: ms, gbps, pct_of_ceiling: (100 * gbps) / copyGbps });
  }
  return records;
}
