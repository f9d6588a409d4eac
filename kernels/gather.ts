// Row gather (embedding lookup) and its adjoint, a deterministic scatter-add of rows.
//
// gatherRows: one invocation per RUN items (words, or vec4s when rowLen % 4 == 0) of one
// output row. A table larger than one storage binding (an embedding of 128k x 2048 f32 is 1 GiB
// against lavapipe's 128 MiB) is bound in windows of whole rows, one dispatch per window; each
// writes the rows whose id falls inside it, and the first also zeroes the rows of invalid ids.
//
// A bf16 table (a frozen 16-bit embedding, two per u32 word) is gathered a word at a time and
// widened (exactly) into pairs of f32 outputs; its rows must have an even length.
//
// scatterAddRows: WGSL has no float atomics, and an order that depends on scheduling would make
// training irreproducible. So the (id, index) pairs are sorted instead (a bitonic sort, one
// dispatch per step; invalid ids sort last), which puts the occurrences of each id side by
// side in index order; then the first of each run adds the run's grad rows, in that order, into
// its dTable row, which no other invocation touches. Same order as the CPU reference.
// Cost: the sort is ½·log2(N)·(log2(N)+1) dispatches over N/2 pairs (N = nIds rounded up to a
// power of 2: 91 for 8192 ids); the accumulation reads each grad element once and each touched
// dTable element once. An all-pairs version (each id compared with every other, nIds² compares
// in vec4s) took 104 ms for 8192 ids where the sort takes 11.

import { wordsBinding } from './elementwise.js';
import { Gpu, WGSL_GROUP_INDEX } from './gpu.js';

// ---------------------------------------------------------------------------------------------
// CPU references.

export function gatherRowsCpu(table: Float64Array, ids: Int32Array, out: Float64Array, nIds: number, rowLen: number, nRows: number): void {
  for (let i = 0; i < nIds; i++) {
    const id = ids[i];
    if (id >= 0 && id < nRows) out.set(table.subarray(id * rowLen, (id + 1) * rowLen), i * rowLen);
    else out.fill(0, i * rowLen, (i + 1) * rowLen);
  }
}

export function scatterAddRowsCpu(grad: Float64Array, ids: Int32Array, dTable: Float64Array, nIds: number, rowLen: number, nRows: number): void {
  for (let i = 0; i < nIds; i++) {
    const id = ids[i];
    if (id < 0 || id >= nRows) continue;
    for (let k = 0; k < rowLen; k++) dTable[id * rowLen + k] += grad[i * rowLen + k];
  }
}

// ---------------------------------------------------------------------------------------------
// WGSL.

const WORKGROUP = 256;
/** items one invocation moves along a row */
const RUN = 8;

/** The vec4 width rows can move in, and the number of run chunks per row. */
function rowItems(rowLen: number): { width: 1 | 4; items: number; runsPerRow: number } {
  const width = rowLen % 4 === 0 ? 4 : 1;
  const items = rowLen / width;
  return { width, items, runsPerRow: Math.ceil(items / RUN) };
}

/** Row-run addressing shared by both kernels: invocation g -> row i, items [first, last). */
const ROW_RUN = /* wgsl */ `
  let g = group_index(wid, nwg) * ${WORKGROUP}u + lid;
  let i = g / p.runs_per_row;
  if (i >= p.n_ids) { return; }
  let first = (g % p.runs_per_row) * ${RUN}u;
  let last = min(first + ${RUN}u, p.row_items);`;

const WINDOW_PARAMS = 'n_ids: u32, row_items: u32, n_rows: i32, window_start: i32, window_end: i32, runs_per_row: u32';

/** width 'bf16': items are words of bf16 pairs, each widened into a vec2 of the output. */
function gatherSource(width: 1 | 4 | 'bf16'): string {
  const [T, O] = width === 'bf16' ? ['u32', 'vec2<f32>'] : width === 4 ? ['vec4<f32>', 'vec4<f32>'] : ['f32', 'f32'];
  const item = width === 'bf16' ? 'widen(table[table_row + k])' : 'table[table_row + k]';
  return /* wgsl */ `
struct Params { ${WINDOW_PARAMS}, zero_invalid: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<${T}>;
@group(0) @binding(2) var<storage, read> ids: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<${O}>;
fn widen(w: u32) -> vec2<f32> { return vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u)); }
${WGSL_GROUP_INDEX}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {${ROW_RUN}
  let id = ids[i];
  let out_row = i * p.row_items;
  if (id >= p.window_start && id < p.window_end) {
    let table_row = u32(id - p.window_start) * p.row_items;
    for (var k = first; k < last; k++) { out[out_row + k] = ${item}; }
  } else if (p.zero_invalid != 0u && (id < 0 || id >= p.n_rows)) {
    for (var k = first; k < last; k++) { out[out_row + k] = ${O}(0.0); }
  }
}`;
}

/** Sort keys (id, index), one per padded slot; invalid ids and padding get id 0xffffffff, which sorts last. */
const SORT_KEYS_SOURCE = /* wgsl */ `
struct Params { n_ids: u32, n_rows: i32, padded: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read_write> keys: array<vec2<u32>>;
${WGSL_GROUP_INDEX}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = group_index(wid, nwg) * ${WORKGROUP}u + lid;
  if (t >= p.padded) { return; }
  var key = vec2<u32>(0xffffffffu, t);
  if (t < p.n_ids) {
    let id = ids[t];
    if (id >= 0 && id < p.n_rows) { key.x = u32(id); }
  }
  keys[t] = key;
}`;

/** One bitonic step: compare-exchange the pairs `half_block` apart, ascending or descending by block. */
const BITONIC_STEP_SOURCE = /* wgsl */ `
struct Params { half_block: u32, block: u32, pairs: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> keys: array<vec2<u32>>;
${WGSL_GROUP_INDEX}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = group_index(wid, nwg) * ${WORKGROUP}u + lid;
  if (t >= p.pairs) { return; }
  let low = t & (p.half_block - 1u);
  let a = 2u * t - low;
  let b = a + p.half_block;
  let ka = keys[a];
  let kb = keys[b];
  let a_after_b = ka.x > kb.x || (ka.x == kb.x && ka.y > kb.y);
  if (a_after_b == ((a & p.block) == 0u)) {
    keys[a] = kb;
    keys[b] = ka;
  }
}`;

/** The first key of each run of equal valid ids adds the run's grad rows, in index order, into its dTable row. */
function accumulateSource(width: 1 | 4): string {
  const T = width === 4 ? 'vec4<f32>' : 'f32';
  return /* wgsl */ `
struct Params { ${WINDOW_PARAMS} }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<${T}>;
@group(0) @binding(2) var<storage, read> keys: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> d_table: array<${T}>;
${WGSL_GROUP_INDEX}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {${ROW_RUN}
  let id = keys[i].x;
  if (id >= u32(p.n_rows) || (i > 0u && keys[i - 1u].x == id)) { return; }
  if (i32(id) < p.window_start || i32(id) >= p.window_end) { return; }
  let table_row = (id - u32(p.window_start)) * p.row_items;
  for (var k = first; k < last; k++) {
    var acc = d_table[table_row + k];
    for (var t = i; t < p.n_ids && keys[t].x == id; t++) {
      acc += grad[keys[t].y * p.row_items + k];
    }
    d_table[table_row + k] = acc;
  }
}`;
}

// ---------------------------------------------------------------------------------------------
// Launches.

/** [first, end) row ranges of a table with rows of rowLen words, each bindable at an aligned offset. */
function rowWindows(gpu: Gpu, nRows: number, rowLen: number): [number, number][] {
  const rowBytes = 4 * rowLen;
  const alignment = gpu.limits.minStorageBufferOffsetAlignment;
  let unit = 1; // rows per aligned step
  while ((unit * rowBytes) % alignment !== 0) unit++;
  const perWindow = Math.floor(gpu.limits.maxStorageBufferBindingSize / rowBytes / unit) * unit;
  if (perWindow === 0) throw new Error(`table rows of ${rowLen} floats do not fit one storage binding`);
  const windows: [number, number][] = [];
  for (let start = 0; start < nRows; start += perWindow) windows.push([start, Math.min(nRows, start + perWindow)]);
  return windows;
}

/** `bf16`: the table holds bf16 pairs in u32 words (rowLen must be even); the output is f32. */
export function gatherRowsGpu(gpu: Gpu, table: GPUBuffer, ids: GPUBuffer, out: GPUBuffer, nIds: number, rowLen: number, nRows: number, bf16 = false): void {
  if (nIds * rowLen === 0) return;
  if (bf16 && rowLen % 2 !== 0) throw new Error(`gatherRows: a bf16 table needs rows of even length, got ${rowLen}`);
  const { width, items, runsPerRow } = bf16 ? { width: 'bf16' as const, items: rowLen / 2, runsPerRow: Math.ceil(rowLen / 2 / RUN) } : rowItems(rowLen);
  const rowWords = bf16 ? rowLen / 2 : rowLen;
  const pipe = gpu.pipeline(`gather-rows:${width}`, () => gatherSource(width));
  const groups = Math.ceil((nIds * runsPerRow) / WORKGROUP);
  // an empty table still needs a window: it writes the zero rows
  rowWindows(gpu, Math.max(nRows, 1), rowWords).forEach(([start, end], w) => {
    const window = wordsBinding(table, (end - start) * rowWords, start * rowWords);
    const bindings = [window, wordsBinding(ids, nIds), wordsBinding(out, nIds * rowLen)];
    gpu.dispatch(pipe, bindings, [nIds, items, nRows, start, Math.min(end, nRows), runsPerRow, w === 0 ? 1 : 0], groups);
  });
}

export function scatterAddRowsGpu(
  gpu: Gpu, grad: GPUBuffer, ids: GPUBuffer, dTable: GPUBuffer, nIds: number, rowLen: number, nRows: number,
): void {
  if (nIds * rowLen * nRows === 0) return;
  const padded = 2 ** Math.ceil(Math.log2(nIds));
  const keys = gpu.pool.acquire(8 * padded);
  const keysPipe = gpu.pipeline('scatter-add-rows:keys', () => SORT_KEYS_SOURCE);
  gpu.dispatch(keysPipe, [wordsBinding(ids, nIds), wordsBinding(keys, 2 * padded)], [nIds, nRows, padded], Math.ceil(padded / WORKGROUP));
  const stepPipe = gpu.pipeline('scatter-add-rows:bitonic-step', () => BITONIC_STEP_SOURCE);
  for (let block = 2; block <= padded; block *= 2) {
    for (let half = block / 2; half >= 1; half /= 2) {
      gpu.dispatch(stepPipe, [wordsBinding(keys, 2 * padded)], [half, block, padded / 2], Math.ceil(padded / 2 / WORKGROUP));
    }
  }
  const { width, items, runsPerRow } = rowItems(rowLen);
  const pipe = gpu.pipeline(`scatter-add-rows:accumulate:${width}`, () => accumulateSource(width));
  const groups = Math.ceil((nIds * runsPerRow) / WORKGROUP);
  for (const [start, end] of rowWindows(gpu, nRows, rowLen)) {
    const window = wordsBinding(dTable, (end - start) * rowLen, start * rowLen);
    const bindings = [wordsBinding(grad, nIds * rowLen), wordsBinding(keys, 2 * padded), window];
    gpu.dispatch(pipe, bindings, [nIds, items, nRows, start, end, runsPerRow], groups);
  }
  gpu.pool.release(keys);
}
