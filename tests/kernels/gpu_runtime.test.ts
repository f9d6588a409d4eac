import { describe, expect, it } from 'vitest';
import { openDawn } from '../../kernels/dawn.js';
import { WGSL_GROUP_INDEX, f32bits } from '../../kernels/gpu.js';
import { BufferPool, sizeClass } from '../../kernels/buffer_pool.js';
import { summarizeKernelTimes } from '../../kernels/profiler.js';
import { download, nanBuffer, testGpu, upload } from '../helpers/gpu.js';

const AXPY = /* wgsl */ `
struct Params { n: u32, alpha: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${WGSL_GROUP_INDEX}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = group_index(wid, nwg) * 64u + lid;
  if (i < p.n) { y[i] = p.alpha * x[i] + y[i]; }
}`;

// y[i] += 1 with no params: dispatches that take no parameter slot, so nothing but the
// profiler's query budget splits their submits
const INCREMENT = /* wgsl */ `
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) { if (g.x < 4096u) { y[g.x] = y[g.x] + 1.0; } }`;

describe('gpu runtime', () => {
  it('records dispatches in order, with per-dispatch params, across batches and 2-D grids', async () => {
    const gpu = await testGpu();
    const n = 64 * 70_000 + 3; // more than 65535 workgroups: exercises the 2-D grid
    const x = upload(gpu, new Float32Array(n).fill(1));
    const y = upload(gpu, new Float32Array(n).fill(0));
    const pipe = gpu.pipeline('test-axpy', () => AXPY);
    const groups = Math.ceil(n / 64);
    for (let k = 1; k <= 3; k++) gpu.dispatch(pipe, [x, y], [n, f32bits(k)], groups);
    const big = await download(gpu, y, n);
    expect([big[0], big[n - 1]]).toEqual([6, 6]);
    // 600 small dispatches span two batches of parameter slots
    for (let k = 1; k <= 600; k++) gpu.dispatch(pipe, [x, y], [100, f32bits(k % 3)], 2);
    const out = await download(gpu, y, n);
    let expected = 6;
    for (let k = 1; k <= 600; k++) expected += k % 3;
    expect([out[0], out[99], out[100]]).toEqual([expected, expected, 6]);
    gpu.pool.release(x);
    gpu.pool.release(y);
  });

  it('times every dispatch while profiling, in order, past one submit of queries, with results unchanged', async () => {
    const gpu = await testGpu();
    const n = 4096;
    const x = upload(gpu, new Float32Array(n).fill(1));
    const y = upload(gpu, new Float32Array(n).fill(0));
    const a = gpu.pipeline('test-axpy', () => AXPY);
    const b = gpu.pipeline('test-increment', () => INCREMENT);
    const label = (k: number) => (k % 5 === 0 ? 'test-axpy' : 'test-increment');
    gpu.startProfiling();
    // 500 parameter slots never fill a batch: only the 2,048 query pairs a submit holds split these
    for (let k = 0; k < 2500; k++) {
      if (label(k) === 'test-axpy') gpu.dispatch(a, [x, y], [n, f32bits(1)], n / 64);
      else gpu.dispatch(b, [y], null, n / 64);
    }
    const times = await gpu.stopProfiling();
    expect(times.map((t) => t.kernel)).toEqual(Array.from({ length: 2500 }, (_, k) => label(k)));
    expect(times.every((t) => Number.isFinite(t.ns) && t.ns >= 0)).toBe(true);
    expect(times.reduce((s, t) => s + t.ns, 0)).toBeGreaterThan(0);
    expect(summarizeKernelTimes(times).map((k) => [k.kernel, k.dispatches]).sort()).toEqual([['test-axpy', 500], ['test-increment', 2000]]);
    expect((await download(gpu, y, n))[n - 1]).toBe(2500);
    // profiling is off again: dispatches share one pass, nothing is timed
    gpu.dispatch(a, [x, y], [n, f32bits(1)], n / 64);
    expect((await download(gpu, y, n))[0]).toBe(2501);
    await expect(gpu.stopProfiling()).rejects.toThrow(/without startProfiling/);
    gpu.pool.release(x);
    gpu.pool.release(y);
  });

  it('reads back a buffer larger than a readback slice, from an offset, in order', async () => {
    const gpu = await testGpu();
    const n = (80 << 20) / 4 + 3; // 80 MiB and a word: two 64 MiB slices, the last one short
    const data = new Int32Array(n).map((_, i) => i);
    const buffer = upload(gpu, data);
    const back = new Int32Array(await gpu.read(buffer, 4 * 5, 4 * (n - 5)));
    expect([back.length, back[0], back.at(-1), back.findIndex((v, i) => v !== i + 5)]).toEqual([n - 5, 5, n - 1, -1]);
    gpu.pool.release(buffer);
  });

  it('fails loudly on a kernel that does not compile', async () => {
    const gpu = (await openDawn())!; // its own device: the error leaves it unusable
    const pipe = gpu.pipeline('test-broken', () => 'fn main( {');
    const out = nanBuffer(gpu, 4);
    gpu.dispatch(pipe, [out], null, 1);
    await expect(gpu.read(out, 0, 16)).rejects.toThrow(/test-broken/);
    await gpu.close();
  });

  it('rounds sizes to classes with bounded waste', () => {
    for (const bytes of [1, 255, 256, 257, 1000, 4096, 5000, 1 << 20, 3_000_001]) {
      const size = sizeClass(bytes);
      expect(size).toBeGreaterThanOrEqual(bytes);
      expect(size).toBeLessThanOrEqual(Math.max(256, bytes * 1.25 + 16));
    }
  });

  it('gives a buffer that fits the device even when its class would not (a page has small limits)', async () => {
    const gpu = await testGpu();
    const pool = new BufferPool(gpu.device, 1000);
    expect(sizeClass(1000)).toBeGreaterThan(1000);
    const buffer = pool.acquire(1000);
    expect(buffer.size).toBe(1000);
    expect(() => pool.acquire(1004)).toThrow(/buffer of 1004 bytes exceeds the adapter's maxBufferSize 1000/);
    pool.release(buffer);
    pool.trim();
  });
});
