// The machinery the row-wise kernels share (softmax.ts, cross_entropy.ts, norm.ts, adamw.ts):
// one workgroup of ROW_THREADS invocations per row, vec4 loads where the row allows, tree
// reductions in workgroup memory, and runs of rows bound as byte ranges when a tensor is larger
// than one storage binding. softmax.ts's header has the measurements behind these choices.

import { WGSL_GROUP_INDEX, type Binding, type Gpu } from './gpu.js';

/** Invocations that cooperate on one row. */
export const ROW_THREADS = 8;

/** Rows whose length is a multiple of 4 are read as vec4 (aligned, four times fewer loads). */
export function vectorWidth(n: number): 1 | 4 {
  return n % 4 === 0 ? 4 : 1;
}

/**
 * WGSL shared by the row kernels: `vec` (f32 or vec4<f32>), horizontal sum/max, lane access,
 * and sum/max reductions over the ROW_THREADS invocations of a workgroup.
 */
export function wgslRowKit(width: 1 | 4): string {
  const vec4 = width === 4;
  return /* wgsl */ `
alias vec = ${vec4 ? 'vec4<f32>' : 'f32'};
const WIDTH = ${width}u;
const ROW_THREADS = ${ROW_THREADS}u;
fn hsum(v: vec) -> f32 { return ${vec4 ? '(v.x + v.y) + (v.z + v.w)' : 'v'}; }
fn hmax(v: vec) -> f32 { return ${vec4 ? 'max(max(v.x, v.y), max(v.z, v.w))' : 'v'}; }
fn lane(v: vec, k: u32) -> f32 { return ${vec4 ? 'v[k]' : 'v'}; }
var<workgroup> row_scratch: array<f32, ${ROW_THREADS}>;
// The trailing barrier lets the next reduction reuse row_scratch.
fn row_sum(lid: u32, v: f32) -> f32 {
  row_scratch[lid] = v;
  workgroupBarrier();
  for (var k = ROW_THREADS / 2u; k > 0u; k >>= 1u) {
    if (lid < k) { row_scratch[lid] += row_scratch[lid + k]; }
    workgroupBarrier();
  }
  let total = row_scratch[0];
  workgroupBarrier();
  return total;
}
fn row_max(lid: u32, v: f32) -> f32 {
  row_scratch[lid] = v;
  workgroupBarrier();
  for (var k = ROW_THREADS / 2u; k > 0u; k >>= 1u) {
    if (lid < k) { row_scratch[lid] = max(row_scratch[lid], row_scratch[lid + k]); }
    workgroupBarrier();
  }
  let top = row_scratch[0];
  workgroupBarrier();
  return top;
}
${WGSL_GROUP_INDEX}`;
}

/**
 * A whole row kernel: `header` (its Params, with `rows`, and bindings), the kit, and an entry
 * point in which ROW_THREADS invocations run `body` for one row, with `row` and `lid` in scope
 * and the row's range in a range-bound run (see RowBatch): 'dense' rows of `p.dim` give `len`,
 * `base` (in vecs) and `stat`, the row's index in per-row statistics (`p.first_row + row`);
 * 'slack' rows of `p.n` give `start` and `end`.
 */
export function wgslRowKernel(width: 1 | 4, header: string, range: 'dense' | 'slack', body: string): string {
  const rowRange = range === 'dense'
    ? 'let len = p.dim / WIDTH;\n  let base = p.slack / WIDTH + row * len;\n  let stat = p.first_row + row;'
    : 'let start = p.slack / WIDTH + row * (p.n / WIDTH);\n  let end = start + p.n / WIDTH;';
  return /* wgsl */ `${header}
${wgslRowKit(width)}
@compute @workgroup_size(${ROW_THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nwg);
  if (row >= p.rows) { return; }
  ${rowRange}
${body}
}`;
}

/** WGSL statements leaving the row's max `top` and `total` = Σ exp(v − top) over `array`[start, end), in one pass. */
export function wgslRowLogSumExp(array: string): string {
  return /* wgsl */ `  var m = -3.4e38;
  var s = 0.0;
  for (var i = start + lid; i < end; i += ROW_THREADS) {
    let v = ${array}[i];
    let m2 = max(m, hmax(v));
    s = s * exp(m - m2) + hsum(exp(v - m2));
    m = m2;
  }
  let top = row_max(lid, m);
  let total = row_sum(lid, s * exp(m - top));`;
}

/**
 * A run of whole rows and how to bind it. Row-major tensors larger than one storage binding
 * (128 MiB on lavapipe: [262, 128256] logits already are) are processed in runs bound as byte
 * ranges; `slack` is the element distance from the aligned range start to `firstRow`.
 */
export interface RowBatch {
  firstRow: number;
  rows: number;
  slack: number;
  bind(buffer: GPUBuffer): Binding;
}

/** `perBatch` forces the run length (two buffers with different rows split alike); it must fit. */
export function rowBatches(gpu: Gpu, rows: number, rowElements: number, maxBindingBytes: number, perBatch = rowsPerBinding(gpu, rowElements, maxBindingBytes)): RowBatch[] {
  const rowBytes = rowElements * 4;
  const align = gpu.limits.minStorageBufferOffsetAlignment;
  const batches: RowBatch[] = [];
  if (rowBytes === 0) return batches;
  if (perBatch < 1 || perBatch > rowsPerBinding(gpu, rowElements, maxBindingBytes)) {
    throw new Error(`${perBatch} rows of ${rowElements} floats do not fit one storage binding of ${maxBindingBytes} bytes`);
  }
  for (let firstRow = 0; firstRow < rows; firstRow += perBatch) {
    const count = Math.min(perBatch, rows - firstRow);
    const start = firstRow * rowBytes;
    const offset = start - (start % align);
    const size = start - offset + count * rowBytes;
    batches.push({ firstRow, rows: count, slack: (start - offset) / 4, bind: (buffer) => ({ buffer, offset, size }) });
  }
  return batches;
}

/** How many rows of `rowElements` floats one binding holds, whatever the offset alignment. */
export function rowsPerBinding(gpu: Gpu, rowElements: number, maxBindingBytes: number): number {
  return Math.floor((maxBindingBytes - gpu.limits.minStorageBufferOffsetAlignment) / Math.max(4, rowElements * 4));
}
