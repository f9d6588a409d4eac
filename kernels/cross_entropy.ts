// Cross-entropy from logits: a fused log-softmax + NLL per row of [N, V], and its gradient.
//
// Forward: one workgroup of ROW_THREADS (8) invocations per row streams the vocabulary in
// chunks of 8 vec4s, each invocation keeping a running (max, sum of exp) that is rescaled when
// its max grows (the online softmax), so any V works without holding the row; two tree
// reductions give lse = max + log Σ exp(x - max), and invocation 0 writes lse and the loss.
// Measured on lavapipe: [8, 128256] takes ~4 ms (the softmax.ts variants table applies).
// Backward: elementwise, (exp(x - lse) - onehot) · gLoss; a workgroup takes a chunk of one row,
// so the row's target, lse and gLoss are workgroup-uniform loads rather than per-lane gathers
// ([32, 128256] on lavapipe, ±30% from other jobs: one vec4 per invocation over the flat index
// 41 ms; row chunks of 64 × 4 vec4s (kept) 26-28 ms; 256 × 1, 256 × 2, 256 × 4 vec4s 24-33 ms).
// Logits above one storage binding (128 MiB: [262, 128256] already is) run in row ranges.
//
// The forward has a second variant for hardware GPUs, 'split': one workgroup per row leaves a
// GPU idle (an H100 ran [16, 128256] at 0.3 % of its copy bandwidth), so each row's vocabulary
// is split into chunks over wide workgroups, each writing its chunk's (max, Σ exp(x - max)),
// and a combine pass merges a row's chunks as the online softmax does and writes lse and loss.
// The backward already splits rows over workgroups. crossEntropyVariant has the rule.

import { crossEntropyShapeClass, tunedVariant } from './autotune.js';
import { type Gpu } from './gpu.js';
import { rowBatches, vectorWidth, wgslRowKernel, wgslRowKit, wgslRowLogSumExp } from './row_kit.js';
import { forcedVariant, type VariantOf } from './variants.js';

export type CrossEntropyVariant = VariantOf<'cross-entropy'>;

/**
 * COLAR_KERNELS, else the tuner's winner for this adapter and shape class, else 'split' on a
 * hardware GPU (which one workgroup of 8 per row leaves idle) when a row makes several chunks,
 * and 'row' on lavapipe, whose few cores the rows already fill: 3.5-30x faster there, from 1 to
 * 128 rows of 128,256 (bench/NOTES.md).
 */
export function crossEntropyVariant(gpu: Gpu, N: number, V: number): CrossEntropyVariant {
  const chosen = forcedVariant('cross-entropy') ?? tunedVariant(gpu, 'cross-entropy', crossEntropyShapeClass(N, V));
  if (chosen) return chosen;
  return !gpu.isSoftware && splitChunks(N, V / vectorWidth(V)).chunks > 1 ? 'split' : 'row';
}

export function crossEntropyCpu(
  logits: Float64Array, targets: Int32Array, loss: Float64Array, lse: Float64Array, N: number, V: number, ignoreIndex: number,
): void {
  for (let r = 0; r < N; r++) {
    const base = r * V;
    let max = -Infinity;
    for (let j = 0; j < V; j++) max = Math.max(max, logits[base + j]);
    let sum = 0;
    for (let j = 0; j < V; j++) sum += Math.exp(logits[base + j] - max);
    lse[r] = max + Math.log(sum);
    loss[r] = targets[r] === ignoreIndex ? 0 : lse[r] - logits[base + targets[r]];
  }
}

function crossEntropySource(width: 1 | 4): string {
  return wgslRowKernel(width, /* wgsl */ `
struct Params { rows: u32, n: u32, slack: u32, first_row: u32, ignore_index: i32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<vec>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;`, 'slack', /* wgsl */ `
${wgslRowLogSumExp('logits')}
  if (lid == 0u) {
    let r = p.first_row + row;
    ${wgslWriteRowLoss('start')}
  }`);
}

/**
 * WGSL that writes row r's lse (top + log total) and loss (lse − the target's logit, 0 for an
 * ignored row); `rowStart` is the row's first vector in `logits`.
 */
function wgslWriteRowLoss(rowStart: string): string {
  return /* wgsl */ `let row_lse = top + log(total);
  lse[r] = row_lse;
  let t = targets[r];
  if (t == p.ignore_index) {
    loss[r] = 0.0;
  } else {
    let tu = u32(t);
    loss[r] = row_lse - lane(logits[${rowStart} + tu / WIDTH], tu % WIDTH);
  }`;
}

/** `maxBindingBytes` only shrinks the row ranges (tests exercise them with it). */
export function crossEntropyGpu(
  gpu: Gpu, logits: GPUBuffer, targets: GPUBuffer, loss: GPUBuffer, lse: GPUBuffer, N: number, V: number, ignoreIndex: number,
  maxBindingBytes = gpu.limits.maxStorageBufferBindingSize, variant = crossEntropyVariant(gpu, N, V),
): void {
  if (variant === 'split') {
    crossEntropySplitGpu(gpu, logits, targets, loss, lse, N, V, ignoreIndex, maxBindingBytes);
    return;
  }
  const width = vectorWidth(V);
  const pipe = gpu.pipeline(`cross-entropy-w${width}`, () => crossEntropySource(width));
  for (const b of rowBatches(gpu, N, V, maxBindingBytes)) {
    gpu.dispatch(pipe, [b.bind(logits), targets, loss, lse], [b.rows, V, b.slack, b.firstRow, ignoreIndex], b.rows);
  }
}

// ---------------------------------------------------------------------------------------------
// Forward, vocabulary split over workgroups

const SPLIT_THREADS = 256;
/** Workgroups a launch aims for: several per multiprocessor of a large GPU. */
const SPLIT_TARGET_GROUPS = 1024;
/** Loads per invocation a chunk gives at least: shorter chunks cost more in merging than they add. */
const SPLIT_MIN_LOADS = 4;

/** Chunk partials: (max, Σ exp(x - max)) over chunk `group % chunks` of row `group / chunks`. */
function crossEntropyChunkSource(width: 1 | 4): string {
  return /* wgsl */ `
struct Params { rows: u32, n: u32, slack: u32, first_row: u32, chunks: u32, chunk_len: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<vec>;
@group(0) @binding(2) var<storage, read_write> partial: array<vec2<f32>>;
${wgslRowKit(width)}
var<workgroup> tops: array<f32, ${SPLIT_THREADS}>;
var<workgroup> sums: array<f32, ${SPLIT_THREADS}>;

@compute @workgroup_size(${SPLIT_THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = group_index(wid, nwg);
  let row = group / p.chunks;
  if (row >= p.rows) { return; }
  let chunk = group % p.chunks;
  let start = p.slack / WIDTH + row * (p.n / WIDTH);
  let begin = chunk * p.chunk_len;
  let end = min(begin + p.chunk_len, p.n / WIDTH);
  var m = -3.4e38;
  var s = 0.0;
  for (var i = begin + lid; i < end; i += ${SPLIT_THREADS}u) {
    let v = logits[start + i];
    let m2 = max(m, hmax(v));
    s = s * exp(m - m2) + hsum(exp(v - m2));
    m = m2;
  }
  tops[lid] = m;
  sums[lid] = s;
  workgroupBarrier();
  for (var k = ${SPLIT_THREADS / 2}u; k > 0u; k >>= 1u) {
    if (lid < k) {
      let top = max(tops[lid], tops[lid + k]);
      sums[lid] = sums[lid] * exp(tops[lid] - top) + sums[lid + k] * exp(tops[lid + k] - top);
      tops[lid] = top;
    }
    workgroupBarrier();
  }
  if (lid == 0u) { partial[(p.first_row + row) * p.chunks + chunk] = vec2(tops[0], sums[0]); }
}`;
}

/** One invocation per row merges the row's chunk partials into lse and the loss. */
function crossEntropyCombineSource(width: 1 | 4): string {
  return /* wgsl */ `
struct Params { rows: u32, n: u32, slack: u32, first_row: u32, ignore_index: i32, chunks: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<vec>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read> partial: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;
${wgslRowKit(width)}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nwg) * 64u + lid;
  if (row >= p.rows) { return; }
  let r = p.first_row + row;
  var top = -3.4e38;
  for (var c = 0u; c < p.chunks; c++) { top = max(top, partial[r * p.chunks + c].x); }
  var total = 0.0;
  for (var c = 0u; c < p.chunks; c++) {
    let part = partial[r * p.chunks + c];
    total += part.y * exp(part.x - top);
  }
  ${wgslWriteRowLoss('p.slack / WIDTH + row * (p.n / WIDTH)')}
}`;
}

/** Chunks per row: enough workgroups to fill a GPU, none shorter than SPLIT_MIN_LOADS loads per invocation. */
function splitChunks(N: number, vecs: number): { chunks: number; chunkLen: number } {
  const most = Math.max(1, Math.ceil(vecs / (SPLIT_THREADS * SPLIT_MIN_LOADS)));
  const chunkLen = Math.ceil(vecs / Math.min(most, Math.ceil(SPLIT_TARGET_GROUPS / Math.max(1, N))));
  return { chunks: Math.ceil(vecs / chunkLen), chunkLen };
}

function crossEntropySplitGpu(
  gpu: Gpu, logits: GPUBuffer, targets: GPUBuffer, loss: GPUBuffer, lse: GPUBuffer, N: number, V: number, ignoreIndex: number,
  maxBindingBytes: number,
): void {
  if (N === 0 || V === 0) return;
  const width = vectorWidth(V);
  const { chunks, chunkLen } = splitChunks(N, V / width);
  const chunkPipe = gpu.pipeline(`cross-entropy-chunks-w${width}`, () => crossEntropyChunkSource(width));
  const combinePipe = gpu.pipeline(`cross-entropy-combine-w${width}`, () => crossEntropyCombineSource(width));
  const partial = gpu.pool.acquire(N * chunks * 8);
  for (const b of rowBatches(gpu, N, V, maxBindingBytes)) {
    gpu.dispatch(chunkPipe, [b.bind(logits), partial], [b.rows, V, b.slack, b.firstRow, chunks, chunkLen], b.rows * chunks);
    gpu.dispatch(combinePipe, [b.bind(logits), targets, partial, loss, lse], [b.rows, V, b.slack, b.firstRow, ignoreIndex, chunks], Math.ceil(b.rows / 64));
  }
  gpu.pool.release(partial);
}

export function crossEntropyBackwardCpu(
  logits: Float64Array, targets: Int32Array, lse: Float64Array, gLoss: Float64Array, gLogits: Float64Array, N: number, V: number, ignoreIndex: number,
): void {
  for (let r = 0; r < N; r++) {
    const base = r * V;
    const ignored = targets[r] === ignoreIndex;
    for (let j = 0; j < V; j++) {
      gLogits[base + j] = ignored ? 0 : (Math.exp(logits[base + j] - lse[r]) - (j === targets[r] ? 1 : 0)) * gLoss[r];
    }
  }
}

const BACKWARD_WORKGROUP = 64;
const BACKWARD_ITEMS = 4;

function crossEntropyBackwardSource(width: 1 | 4): string {
  const columns = width === 4 ? 'vec4<u32>(first, first + 1u, first + 2u, first + 3u)' : 'first';
  const target = width === 4 ? 'vec4<u32>(u32(t))' : 'u32(t)';
  return /* wgsl */ `
struct Params { rows: u32, n: u32, slack: u32, first_row: u32, ignore_index: i32, chunks: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<vec>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> g_loss: array<f32>;
@group(0) @binding(5) var<storage, read_write> g_logits: array<vec>;
${wgslRowKit(width)}
@compute @workgroup_size(${BACKWARD_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = group_index(wid, nwg);
  let row = group / p.chunks;
  if (row >= p.rows) { return; }
  let r = p.first_row + row;
  let t = targets[r];
  let ignored = t == p.ignore_index;
  let shift = lse[r];
  let g = g_loss[r];
  let len = p.n / WIDTH;
  let base = p.slack / WIDTH + row * len;
  let chunk_start = (group % p.chunks) * ${BACKWARD_WORKGROUP * BACKWARD_ITEMS}u + lid;
  for (var k = 0u; k < ${BACKWARD_ITEMS}u; k++) {
    let c = chunk_start + k * ${BACKWARD_WORKGROUP}u;
    if (c < len) {
      let first = c * WIDTH;
      let onehot = select(vec(0.0), vec(1.0), ${columns} == ${target});
      g_logits[base + c] = select((exp(logits[base + c] - shift) - onehot) * g, vec(0.0), ignored);
    }
  }
}`;
}

export function crossEntropyBackwardGpu(
  gpu: Gpu, logits: GPUBuffer, targets: GPUBuffer, lse: GPUBuffer, gLoss: GPUBuffer, gLogits: GPUBuffer, N: number, V: number, ignoreIndex: number,
  maxBindingBytes = gpu.limits.maxStorageBufferBindingSize,
): void {
  const width = vectorWidth(V);
  const pipe = gpu.pipeline(`cross-entropy-backward-w${width}`, () => crossEntropyBackwardSource(width));
  const chunks = Math.ceil(V / width / (BACKWARD_WORKGROUP * BACKWARD_ITEMS));
  for (const b of rowBatches(gpu, N, V, maxBindingBytes)) {
    const params = [b.rows, V, b.slack, b.firstRow, ignoreIndex, chunks];
    gpu.dispatch(pipe, [b.bind(logits), targets, lse, gLoss, b.bind(gLogits)], params, b.rows * chunks);
  }
}
