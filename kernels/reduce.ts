// Reductions along one axis of x viewed as [outer, n, inner] (sum, max, min, sum of squares),
// and argmax along the last axis.
//
// On lavapipe workgroup barriers are costly and vec4 loads cheap (kernels/README.md), so no
// workgroup trees: in each pass every invocation reduces one chunk of the axis on its own, with
// vec4 loads where the layout allows, into [outer, chunks, inner] partials, and passes repeat
// until one chunk is left. The chunk bounds each float32 accumulation chain (rows: 4
// interleaved chains of 64, columns: 64), so the error of a sum grows like 64·log_64(n), not n:
// a full sum of 10^6 floats takes 3 passes and is off by 8e-8·Σ|x| (a sequential float32 sum:
// 3.6e-5·Σ|x|).
//   rows   (inner == 1): one invocation per (row, 256-element chunk), a vec4 accumulator;
//   columns (inner > 1): one invocation per (outer, 64-row chunk, column or vec4 of columns).
// Argmax uses the same chunked passes over (value, index) pairs; ties keep the lowest index.

import { fillGpu, wordsBinding } from './elementwise.js';
import { Gpu, WGSL_GROUP_INDEX } from './gpu.js';

export type ReduceOp = 'sum' | 'max' | 'min' | 'sum_squares';

// ---------------------------------------------------------------------------------------------
// CPU references (float64 accumulation).

const IDENTITY: Record<ReduceOp, number> = { sum: 0, sum_squares: 0, max: -Infinity, min: Infinity };

export function reduceCpu(op: ReduceOp, x: Float64Array, out: Float64Array, outer: number, n: number, inner: number): void {
  out.fill(IDENTITY[op], 0, outer * inner);
  for (let o = 0; o < outer; o++) {
    const acc = o * inner;
    for (let j = 0; j < n; j++) {
      const row = (o * n + j) * inner;
      for (let i = 0; i < inner; i++) {
        const v = x[row + i];
        if (op === 'sum') out[acc + i] += v;
        else if (op === 'sum_squares') out[acc + i] += v * v;
        else if (op === 'max') out[acc + i] = Math.max(out[acc + i], v);
        else out[acc + i] = Math.min(out[acc + i], v);
      }
    }
  }
}

export function argmaxCpu(x: Float64Array, out: Int32Array, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < n; j++) if (x[r * n + j] > x[r * n + best]) best = j;
    out[r] = best;
  }
}

// ---------------------------------------------------------------------------------------------
// WGSL.

const WORKGROUP = 64;
/** elements one invocation reduces along a row (inner == 1): 4 chains of 64 */
const ROW_CHUNK = 256;
/** elements one invocation reduces along a column (inner > 1) */
const COLUMN_CHUNK = 64;

type Combine = 'sum' | 'max' | 'min';

function combine(op: Combine, a: string, b: string): string {
  return op === 'sum' ? `${a} + ${b}` : `${op}(${a}, ${b})`;
}

/**
 * One pass: partial[o, c, i] = reduce over the c-th chunk of x[o, :, i]. `square` maps x to
 * x² first (sum_squares' first pass). Rows reduce 4 elements at a time into a vec4
 * accumulator (one vec4 load when n % 4 == 0); columns move a vec4 of columns when
 * inner % 4 == 0.
 */
function reducePassSource(op: Combine, square: boolean, layout: 'rows' | 'rows4' | 'columns' | 'columns4'): string {
  const vecIn = layout === 'rows4' || layout === 'columns4';
  const vecOut = layout === 'columns4';
  const load = (index: string) => {
    const v = `x[${index}]`;
    return square ? `sq(${v})` : v;
  };
  const T = vecIn ? 'vec4<f32>' : 'f32';
  const header = /* wgsl */ `
struct Params { outer: u32, n: u32, inner: u32, chunk: u32, chunks: u32, o_first: u32, c_first: u32, all_chunks: u32, slack: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<${T}>;
@group(0) @binding(2) var<storage, read_write> partial: array<${vecOut ? 'vec4<f32>' : 'f32'}>;
${WGSL_GROUP_INDEX}
fn sq(v: ${T}) -> ${T} { return v * v; }
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = group_index(wid, nwg) * ${WORKGROUP}u + lid;`;
  if (layout === 'columns' || layout === 'columns4') {
    const width = vecIn ? 4 : 1;
    return /* wgsl */ `${header}
  let columns = p.inner / ${width}u;
  if (g >= p.outer * p.chunks * columns) { return; }
  let column = g % columns;
  let c = (g / columns) % p.chunks;
  let o = g / columns / p.chunks;
  let start = c * p.chunk;
  let end = min(start + p.chunk, p.n);
  let base = o * p.n * columns + column;
  var acc = ${op === 'sum' ? `${T}(0.0)` : load(`base + start * columns`)};
  for (var j = start; j < end; j++) {
    acc = ${combine(op, 'acc', load('base + j * columns'))};
  }
  partial[(o * p.chunks + c) * columns + column] = acc;
}`;
  }
  // rows: x is bound from a window's first element (row o_first, chunk c_first) less `slack`;
  // element j of window row o sits at base + j - skip (j >= skip, so no u32 underflow)
  const body =
    layout === 'rows4'
      ? /* wgsl */ `
  let base = (p.slack + o * p.n) / 4u;
  let skip = p.c_first * p.chunk / 4u;
  var acc = ${op === 'sum' ? 'vec4<f32>(0.0)' : load('base + start / 4u - skip')};
  for (var j = start / 4u; j < end / 4u; j++) {
    acc = ${combine(op, 'acc', load('base + j - skip'))};
  }`
      : /* wgsl */ `
  let base = p.slack + o * p.n;
  let skip = p.c_first * p.chunk;
  var acc = vec4<f32>(${op === 'sum' ? '0.0' : load('base + start - skip')});
  var j = start;
  for (; j + 4u <= end; j += 4u) {
    let k = base + j - skip;
    acc = ${combine(op, 'acc', `vec4<f32>(${[0, 1, 2, 3].map((d) => load(`k + ${d}u`)).join(', ')})`)};
  }
  for (; j < end; j++) {
    acc.x = ${combine(op, 'acc.x', load('base + j - skip'))};
  }`;
  return /* wgsl */ `${header}
  if (g >= p.outer * p.chunks) { return; }
  let c = p.c_first + g % p.chunks;
  let o = g / p.chunks;
  let start = c * p.chunk;
  let end = min(start + p.chunk, p.n);${body}
  partial[(p.o_first + o) * p.all_chunks + c] = ${combine(op, combine(op, 'acc.x', 'acc.y'), combine(op, 'acc.z', 'acc.w'))};
}`;
}

/**
 * One argmax pass over rows of [rows, n]: the first maximum of each chunk, as a value and its
 * index in the row. The first pass reads x (indices are positions); later passes merge
 * (value, index) partials in chunk order, so a strict `>` keeps the lowest index on ties.
 */
function argmaxPassSource(merge: boolean): string {
  const indexOf = (j: string) => (merge ? `index_in[base + ${j}]` : `i32(${j})`);
  return /* wgsl */ `
struct Params { rows: u32, n: u32, chunk: u32, chunks: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
${merge ? '@group(0) @binding(2) var<storage, read> index_in: array<i32>;' : ''}
@group(0) @binding(${merge ? 3 : 2}) var<storage, read_write> best_value: array<f32>;
@group(0) @binding(${merge ? 4 : 3}) var<storage, read_write> best_index: array<i32>;
${WGSL_GROUP_INDEX}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = group_index(wid, nwg) * ${WORKGROUP}u + lid;
  if (g >= p.rows * p.chunks) { return; }
  let start = (g % p.chunks) * p.chunk;
  let end = min(start + p.chunk, p.n);
  let base = (g / p.chunks) * p.n;
  var value = x[base + start];
  var index = ${indexOf('start')};
  for (var j = start + 1u; j < end; j++) {
    let v = x[base + j];
    if (v > value) {
      value = v;
      index = ${indexOf('j')};
    }
  }
  best_value[g] = value;
  best_index[g] = index;
}`;
}

// ---------------------------------------------------------------------------------------------
// Launches.

/**
 * Windows of a row-layout pass that each bind at most `maxBindingBytes` of x: runs of whole rows,
 * or, for rows longer than a binding, runs of chunks within one row.
 */
function rowWindows(gpu: Gpu, outer: number, n: number, chunk: number, maxBindingBytes: number) {
  const align = gpu.limits.minStorageBufferOffsetAlignment;
  const fit = Math.floor((maxBindingBytes - align - 16) / 4);
  const allChunks = Math.ceil(n / chunk);
  const windows: Array<{ o0: number; rows: number; c0: number; chunks: number; start: number; elements: number }> = [];
  if (n <= fit) {
    const rowsPer = Math.floor(fit / n);
    for (let o0 = 0; o0 < outer; o0 += rowsPer) {
      const rows = Math.min(rowsPer, outer - o0);
      windows.push({ o0, rows, c0: 0, chunks: allChunks, start: o0 * n, elements: rows * n });
    }
    return windows;
  }
  const chunksPer = Math.floor(fit / chunk);
  if (chunksPer < 1) throw new Error(`reduce: a chunk of ${chunk} floats does not fit one storage binding of ${maxBindingBytes} bytes`);
  for (let o0 = 0; o0 < outer; o0++) {
    for (let c0 = 0; c0 < allChunks; c0 += chunksPer) {
      const chunks = Math.min(chunksPer, allChunks - c0);
      windows.push({ o0, rows: 1, c0, chunks, start: o0 * n + c0 * chunk, elements: Math.min(n, (c0 + chunks) * chunk) - c0 * chunk });
    }
  }
  return windows;
}

/**
 * out[o, i] = op over x[o, :, i]. Row layouts (inner == 1: sums of squares for the gradient norm,
 * losses) bind x in windows, so tensors past one storage binding reduce; column layouts bind
 * whole tensors. `maxBindingBytes` lets tests shrink the windows.
 */
export function reduceGpu(gpu: Gpu, op: ReduceOp, x: GPUBuffer, out: GPUBuffer, outer: number, n: number, inner: number, maxBindingBytes = gpu.limits.maxStorageBufferBindingSize): void {
  if (outer * inner === 0) return;
  if (n === 0) return fillGpu(gpu, out, outer * inner, IDENTITY[op], 'f32');
  const combineOp: Combine = op === 'sum_squares' ? 'sum' : op;
  let square = op === 'sum_squares';
  let input = x;
  while (true) {
    const layout = inner === 1 ? (n % 4 === 0 ? 'rows4' : 'rows') : inner % 4 === 0 ? 'columns4' : 'columns';
    const chunk = inner === 1 ? ROW_CHUNK : COLUMN_CHUNK;
    const chunks = Math.ceil(n / chunk);
    const partial = chunks === 1 ? out : gpu.pool.acquire(4 * outer * chunks * inner);
    const pipe = gpu.pipeline(`reduce:${combineOp}:${square}:${layout}`, () => reducePassSource(combineOp, square, layout));
    const partialBinding = wordsBinding(partial, outer * chunks * inner);
    if (inner === 1) {
      const align = gpu.limits.minStorageBufferOffsetAlignment;
      for (const w of rowWindows(gpu, outer, n, chunk, maxBindingBytes)) {
        const offset = 4 * w.start - ((4 * w.start) % align);
        const slack = w.start - offset / 4;
        const binding = { buffer: input, offset, size: Math.min(input.size - offset, Math.ceil((4 * (slack + w.elements)) / 16) * 16) };
        const params = [w.rows, n, inner, chunk, w.chunks, w.o0, w.c0, chunks, slack];
        gpu.dispatch(pipe, [binding, partialBinding], params, Math.ceil((w.rows * w.chunks) / WORKGROUP));
      }
    } else {
      const invocations = outer * chunks * (layout === 'columns4' ? inner / 4 : inner);
      gpu.dispatch(pipe, [wordsBinding(input, outer * n * inner), partialBinding], [outer, n, inner, chunk, chunks, 0, 0, chunks, 0], Math.ceil(invocations / WORKGROUP));
    }
    // released buffers are only reused by work recorded later, so this is safe right after recording
    if (input !== x) gpu.pool.release(input);
    if (chunks === 1) return;
    input = partial;
    n = chunks;
    square = false;
  }
}

export function argmaxGpu(gpu: Gpu, x: GPUBuffer, out: GPUBuffer, rows: number, n: number): void {
  if (rows === 0) return;
  if (n === 0) return fillGpu(gpu, out, rows, 0, 'i32');
  let values = x;
  let indices: GPUBuffer | null = null;
  while (true) {
    const chunks = Math.ceil(n / ROW_CHUNK);
    const bestValue = gpu.pool.acquire(4 * rows * chunks);
    const bestIndex = chunks === 1 ? out : gpu.pool.acquire(4 * rows * chunks);
    const pipe = gpu.pipeline(`argmax:${indices !== null}`, () => argmaxPassSource(indices !== null));
    const inputs = [wordsBinding(values, rows * n), ...(indices ? [wordsBinding(indices, rows * n)] : [])];
    const outputs = [wordsBinding(bestValue, rows * chunks), wordsBinding(bestIndex, rows * chunks)];
    gpu.dispatch(pipe, [...inputs, ...outputs], [rows, n, ROW_CHUNK, chunks], Math.ceil((rows * chunks) / WORKGROUP));
    if (values !== x) gpu.pool.release(values);
    if (indices) gpu.pool.release(indices);
    if (chunks === 1) return gpu.pool.release(bestValue);
    values = bestValue;
    indices = bestIndex;
    n = chunks;
  }
}
