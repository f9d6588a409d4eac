// What every benchmark emits, and how it times: warm-up runs, then repeats each waited for
// on the device, reporting the median. No assertions here: benchmarks measure, tests check.

export interface BenchRecord {
  name: string;
  shape: string;
  backend: 'webgpu' | 'cpu';
  adapter: string;
  ms_median: number;
  gflops?: number;
  gbps?: number;
  /** end-to-end throughput */
  tokens_per_s?: number;
  steps_per_s?: number;
  /** percentage of the adapter's measured ceiling for this kind of work (copy bandwidth or best matmul) */
  pct_of_ceiling?: number;
  /** profiles: percentage of the profiled step's wall time */
  pct_of_step?: number;
}

export interface TimingOptions {
  warmup?: number;
  repeats?: number;
}

/** Median wall time in ms of `run()` followed by `sync()` (which must wait for the device). */
export async function medianMs(run: () => void, sync: () => Promise<void>, opts: TimingOptions = {}): Promise<number> {
  const { warmup = 2, repeats = 5 } = opts;
  for (let i = 0; i < warmup; i++) {
    run();
    await sync();
  }
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    run();
    await sync();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
