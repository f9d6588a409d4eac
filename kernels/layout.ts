// Data movement that ignores the dtype (4-byte words): permute, and copyRange (slice, concat and
// slice-backward are all one strided block copy).
//
// permute is a strided gather: the output walks the permuted input strides. Dims that stay
// adjacent are merged first, so [B,T,H,D] -> [B,H,T,D] is a 4-d gather moving vec4s of D, and
// a permute that merges to the identity is a plain buffer copy. It rides on the strided map of
// elementwise.ts (its WGSL lives there); the innermost output dim is walked in runs, one index
// decomposition per run. A permute that moves the innermost dim gathers single words (2x
// slower than a vec4 permute, below); matmul reads transposed operands itself (transA/transB),
// so a shared-memory tiled transpose has not been worth its code.
// copyRange moves, per outer index, one contiguous run of len·inner words: one invocation per
// run chunk, vec4 words when every offset is a multiple of 4, a buffer copy when the whole
// block is contiguous.

import { collapseDims, copyStridedGpu, forEachRow, product } from './elementwise.js';
import { Gpu, WGSL_GROUP_INDEX } from './gpu.js';
import { rowBatches, rowsPerBinding } from './row_kit.js';

type Words = Float64Array | Int32Array | Uint16Array;

function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= shape[d];
  }
  return strides;
}

/** The output dims of a permute and, along each, the stride of the input it walks. */
function permutedView(shape: readonly number[], perm: readonly number[]): { dims: number[]; strides: number[] } {
  const inputStrides = contiguousStrides(shape);
  return { dims: perm.map((p) => shape[p]), strides: perm.map((p) => inputStrides[p]) };
}

// ---------------------------------------------------------------------------------------------
// permute

export function permuteCpu(x: Words, shape: number[], perm: number[], out: Words): void {
  const { dims, strides } = permutedView(shape, perm);
  if (product(dims) === 0) return;
  const view = collapseDims(dims, [strides]);
  const rowLen = view.dims[view.dims.length - 1];
  const step = view.strides[0][view.strides[0].length - 1];
  forEachRow(view, (o, [start]) => {
    for (let j = 0; j < rowLen; j++) out[o + j] = x[start + j * step];
  });
}

export function permuteGpu(gpu: Gpu, x: GPUBuffer, shape: number[], perm: number[], out: GPUBuffer): void {
  const { dims, strides } = permutedView(shape, perm);
  copyStridedGpu(gpu, x, product(shape), out, dims, strides);
}

// ---------------------------------------------------------------------------------------------
// copyRange

export function copyRangeCpu(
  src: Words, dst: Words, outer: number, srcN: number, dstN: number, inner: number, srcStart: number, dstStart: number, len: number,
): void {
  const run = len * inner;
  for (let o = 0; o < outer; o++) {
    const from = (o * srcN + srcStart) * inner;
    (dst as Float64Array).set(src.subarray(from, from + run), (o * dstN + dstStart) * inner);
  }
}

const WORKGROUP = 256;
/** items one invocation copies: the division that finds its row is paid once per RUN items */
const RUN = 8;

/** One invocation per RUN items of one outer index's run; offsets and lengths arrive in items (words or vec4s). */
function copyRangeSource(width: 1 | 4): string {
  const T = width === 4 ? 'vec4<u32>' : 'u32';
  return /* wgsl */ `
struct Params { outer: u32, run: u32, src_row: u32, dst_row: u32, src_start: u32, dst_start: u32, runs_per_row: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<${T}>;
@group(0) @binding(2) var<storage, read_write> dst: array<${T}>;
${WGSL_GROUP_INDEX}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = group_index(wid, nwg) * ${WORKGROUP}u + lid;
  let o = g / p.runs_per_row;
  if (o >= p.outer) { return; }
  let first = (g % p.runs_per_row) * ${RUN}u;
  let last = min(first + ${RUN}u, p.run);
  let read_at = o * p.src_row + p.src_start;
  let write_at = o * p.dst_row + p.dst_start;
  for (var k = first; k < last; k++) {
    dst[write_at + k] = src[read_at + k];
  }
}`;
}

/** Tensors past one storage binding are copied in runs of outer rows (`maxBindingBytes` lets tests shrink them). */
export function copyRangeGpu(
  gpu: Gpu, src: GPUBuffer, dst: GPUBuffer, outer: number, srcN: number, dstN: number, inner: number, srcStart: number, dstStart: number,
  len: number, maxBindingBytes = gpu.limits.maxStorageBufferBindingSize,
): void {
  const run = len * inner;
  if (outer * run === 0) return;
  if (outer === 1 || (len === srcN && len === dstN)) {
    gpu.copy(src, 4 * srcStart * inner, dst, 4 * dstStart * inner, 4 * outer * run);
    return;
  }
  const words = [run, srcN * inner, dstN * inner, srcStart * inner, dstStart * inner];
  const width = words.every((w) => w % 4 === 0) ? 4 : 1;
  const [runItems, srcRow, dstRow, srcFrom, dstFrom] = words.map((w) => w / width);
  const runsPerRow = Math.ceil(runItems / RUN);
  const pipe = gpu.pipeline(`copy-range:${width}`, () => copyRangeSource(width));
  // src and dst rows differ in length: both split into the same runs of outer rows
  const perRun = Math.min(rowsPerBinding(gpu, srcN * inner, maxBindingBytes), rowsPerBinding(gpu, dstN * inner, maxBindingBytes));
  const srcRuns = rowBatches(gpu, outer, srcN * inner, maxBindingBytes, perRun);
  const dstRuns = rowBatches(gpu, outer, dstN * inner, maxBindingBytes, perRun);
  srcRuns.forEach((s, i) => {
    const d = dstRuns[i];
    const params = [s.rows, runItems, srcRow, dstRow, srcFrom + s.slack / width, dstFrom + d.slack / width, runsPerRow];
    gpu.dispatch(pipe, [s.bind(src), d.bind(dst)], params, Math.ceil((s.rows * runsPerRow) / WORKGROUP));
  });
}
