// GPU buffers recycled by size class. A released buffer goes straight back to its class and
// may be handed out again before earlier dispatches that used it have run: that is safe,
// because every later use is recorded after them in the same queue order.

const MIN_BYTES = 256;

/** Rounds up to the next of 2^k · {1, 1.25, 1.5, 1.75}: at most 25% waste, few classes. */
export function sizeClass(bytes: number): number {
  const n = Math.max(MIN_BYTES, Math.ceil(bytes / 4) * 4);
  const pow = 2 ** Math.floor(Math.log2(n));
  for (const step of [1, 1.25, 1.5, 1.75, 2]) {
    const size = Math.ceil((pow * step) / 16) * 16;
    if (size >= n) return size;
  }
  return pow * 2;
}

export interface PoolStats {
  /** buffers created so far */
  created: number;
  /** bytes in all buffers the pool owns (in use or free) */
  bytesOwned: number;
  /** bytes in buffers currently handed out */
  bytesInUse: number;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly stats: PoolStats = { created: 0, bytesOwned: 0, bytesInUse: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
  ) {}

  acquire(bytes: number): GPUBuffer {
    if (bytes > this.maxBufferSize) {
      throw new Error(`buffer of ${bytes} bytes exceeds the adapter's maxBufferSize ${this.maxBufferSize}`);
    }
    // a buffer that fits the device is never refused for its class's rounding up
    const size = Math.min(sizeClass(bytes), Math.floor(this.maxBufferSize / 4) * 4);
    const buffer =
      this.free.get(size)?.pop() ??
      this.create(size);
    this.stats.bytesInUse += size;
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
    this.stats.bytesInUse -= size;
  }

  getStats(): PoolStats {
    return { ...this.stats };
  }

  /** Destroys the free buffers (those in use stay valid). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.stats.bytesOwned -= b.size;
        b.destroy();
      }
    }
    this.free.clear();
  }

  private create(size: number): GPUBuffer {
    this.stats.created++;
    this.stats.bytesOwned += size;
    return this.device.createBuffer({
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
  }
}
