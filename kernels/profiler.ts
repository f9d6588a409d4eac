// Per-dispatch kernel timing from GPU timestamp queries: while a profiler is attached, every
// dispatch runs in its own compute pass that writes a begin and an end timestamp. The queries
// are resolved at each submit and read back once, at collect().

const QUERIES_PER_SET = 4096; // pairs of (begin, end): 2048 dispatches a submit at most

export interface KernelTime {
  /** The pipeline's cache key (kernel name and its specialization). */
  kernel: string;
  ns: number;
}

export class KernelProfiler {
  private readonly querySet: GPUQuerySet;
  private labels: string[] = [];
  private readonly pending: { resolved: GPUBuffer; staging: GPUBuffer; labels: string[] }[] = [];

  constructor(private readonly device: GPUDevice) {
    if (!device.features.has('timestamp-query')) {
      throw new Error('kernel profiling needs the adapter feature timestamp-query, which this adapter lacks');
    }
    this.querySet = device.createQuerySet({ type: 'timestamp', count: QUERIES_PER_SET });
  }

  /** True when the current submit has no room for another dispatch. */
  get full(): boolean {
    return 2 * (this.labels.length + 1) > QUERIES_PER_SET;
  }

  /** The timestamp writes for one more dispatch of `kernel`. */
  timestampWrites(kernel: string): GPUComputePassTimestampWrites {
    const i = 2 * this.labels.length;
    this.labels.push(kernel);
    return { querySet: this.querySet, beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 };
  }

  /** Records the resolve of this submit's queries into `encoder` (call just before finish()). */
  resolve(encoder: GPUCommandEncoder): void {
    if (this.labels.length === 0) return;
    const bytes = 16 * this.labels.length;
    const resolved = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, 2 * this.labels.length, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
    this.pending.push({ resolved, staging, labels: this.labels });
    this.labels = [];
  }

  /** Every dispatch timed since the last collect, in submission order (call after a flush). */
  async collect(): Promise<KernelTime[]> {
    const out: KernelTime[] = [];
    for (const { resolved, staging, labels } of this.pending.splice(0)) {
      await staging.mapAsync(GPUMapMode.READ);
      const stamps = new BigUint64Array(staging.getMappedRange());
      labels.forEach((kernel, i) => out.push({ kernel, ns: Number(stamps[2 * i + 1] - stamps[2 * i]) }));
      staging.unmap();
      staging.destroy();
      resolved.destroy();
    }
    return out;
  }

  destroy(): void {
    this.querySet.destroy();
  }
}

/** Totals per kernel (pipeline key), or per whatever `group` maps a key to; largest first. */
export function summarizeKernelTimes(times: KernelTime[], group = (kernel: string) => kernel): { kernel: string; dispatches: number; ms: number }[] {
  const byKernel = new Map<string, { dispatches: number; ns: number }>();
  for (const { kernel, ns } of times) {
    const key = group(kernel);
    const entry = byKernel.get(key) ?? { dispatches: 0, ns: 0 };
    entry.dispatches++;
    entry.ns += ns;
    byKernel.set(key, entry);
  }
  return [...byKernel].map(([kernel, e]) => ({ kernel, dispatches: e.dispatches, ms: e.ns / 1e6 })).sort((a, b) => b.ms - a.ms);
}

// The first pattern a pipeline key matches names its family.
const FAMILIES: [RegExp, string][] = [
  [/^matmul-pack-/, 'matmul packing'],
  [/^matmul-/, 'matmul products'],
  [/^attention-/, 'attention'],
  [/^(rms-norm|layer-norm|column-sum)/, 'norms'],
  [/^cross-entropy/, 'cross-entropy'],
  [/^softmax/, 'softmax'],
  [/^rope/, 'rope'],
  [/^(unary|binary|where|fill|cast|copy-words|widen-bf16)\b/, 'elementwise'],
  [/^(gather-rows|scatter-add-rows)/, 'embedding rows'],
  [/^(reduce|argmax)/, 'reductions'],
  [/^(adamw|clip-scale)/, 'optimizer'],
  [/^copy-range/, 'layout'],
  [/^random/, 'random'],
];

/** The family of a kernel's pipeline key: matmul products, matmul packing, attention, norms, ... */
export function kernelFamily(kernel: string): string {
  return FAMILIES.find(([pattern]) => pattern.test(kernel))?.[1] ?? 'other';
}
