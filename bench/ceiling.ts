// The adapter's memory ceiling: buffer-to-buffer copy bandwidth (bytes read + written).
import type { Gpu } from '../kernels/gpu.js';
import { medianMs, type BenchRecord } from './record.js';

export async function benchCopyBandwidth(gpu: Gpu, bytes = 64 << 20): Promise<BenchRecord> {
  const src = gpu.pool.acquire(bytes);
  const dst = gpu.pool.acquire(bytes);
  const ms = await medianMs(() => gpu.copy(src, 0, dst, 0, bytes), () => gpu.sync());
  gpu.pool.release(src);
  gpu.pool.release(dst);
  return {
    name: 'copy', shape: `${bytes >> 20}MiB`, backend: 'webgpu', adapter: gpu.adapterName,
    ms_median: ms, gbps: (2 * bytes) / (ms * 1e6), pct_of_ceiling: 100,
  };
}
