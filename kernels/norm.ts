// RMSNorm and LayerNorm over rows of length dim, forward and backward.
//
// Row kernels follow softmax.ts: one workgroup of ROW_THREADS (8) invocations per row, vec4
// loads when dim % 4 == 0, tree reductions in workgroup memory, and the per-row statistics
// (rstd, and mean for LayerNorm) saved for the backward pass. LayerNorm takes the variance in
// a second sweep over the cached row, Σ (x - mean)², rather than Σ x² - n·mean², which cancels,
// and corrects the rounded mean in the same sweep (the corrected two-pass algorithm).
//
// The weight and bias gradients are column sums over all rows. One invocation owns a column
// (a vec4 of columns on the vec4 path, so a SIMD batch reads contiguous memory) and a block of
// COLUMN_BLOCK_ROWS rows, summed as runs of 16 rows added into a block total: the rounding
// error grows like 16 + rows/16 ulps instead of rows ulps. Blocks write partial sums that the
// same kernel then sums over blocks, so [4096, dim] reduces in two dispatches with
// dim/4 · 16 invocations in flight.
//
// Rows past one storage binding run in runs of rows (rowBatches), the column sums too.

import { WGSL_GROUP_INDEX, f32bits, type Gpu } from './gpu.js';
import { rowBatches, vectorWidth, wgslRowKernel, type RowBatch } from './row_kit.js';

// ---------------------------------------------------------------------------------------------
// RMSNorm

export function rmsNormCpu(x: Float64Array, weight: Float64Array, out: Float64Array, rstd: Float64Array, rows: number, dim: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    let squares = 0;
    for (let i = 0; i < dim; i++) squares += x[base + i] * x[base + i];
    const inv = 1 / Math.sqrt(squares / dim + eps);
    rstd[r] = inv;
    for (let i = 0; i < dim; i++) out[base + i] = x[base + i] * inv * weight[i];
  }
}

function rmsNormSource(width: 1 | 4): string {
  return wgslRowKernel(width, /* wgsl */ `
struct Params { rows: u32, dim: u32, eps: f32, first_row: u32, slack: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec>;
@group(0) @binding(2) var<storage, read> weight: array<vec>;
@group(0) @binding(3) var<storage, read_write> out: array<vec>;
@group(0) @binding(4) var<storage, read_write> rstd: array<f32>;`, 'dense', /* wgsl */ `
  var squares = vec(0.0);
  for (var i = lid; i < len; i += ROW_THREADS) { let v = x[base + i]; squares = fma(v, v, squares); }
  let inv = 1.0 / sqrt(row_sum(lid, hsum(squares)) / f32(p.dim) + p.eps);
  for (var i = lid; i < len; i += ROW_THREADS) { out[base + i] = x[base + i] * inv * weight[i]; }
  if (lid == 0u) { rstd[stat] = inv; }`);
}

export function rmsNormGpu(
  gpu: Gpu, x: GPUBuffer, weight: GPUBuffer, out: GPUBuffer, rstd: GPUBuffer, rows: number, dim: number, eps: number,
  maxBindingBytes = gpu.limits.maxStorageBufferBindingSize,
): void {
  const width = vectorWidth(dim);
  const pipe = gpu.pipeline(`rms-norm-w${width}`, () => rmsNormSource(width));
  for (const run of rowBatches(gpu, rows, dim, maxBindingBytes)) {
    gpu.dispatch(pipe, [run.bind(x), weight, run.bind(out), rstd], [run.rows, dim, f32bits(eps), run.firstRow, run.slack], run.rows);
  }
}

// y = x·r·w with r = (Σx²/dim + eps)^-½, so gx = r·(gy·w - x·r²·Σ(gy·w·x)/dim); gw = Σ_rows gy·x·r.
export function rmsNormBackwardCpu(
  x: Float64Array, weight: Float64Array, rstd: Float64Array, gy: Float64Array, gx: Float64Array, gw: Float64Array | null, rows: number, dim: number,
): void {
  gw?.fill(0);
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    const inv = rstd[r];
    let dot = 0;
    for (let i = 0; i < dim; i++) dot += gy[base + i] * weight[i] * x[base + i];
    const c = (inv * inv * dot) / dim;
    for (let i = 0; i < dim; i++) {
      const k = base + i;
      gx[k] = inv * (gy[k] * weight[i] - x[k] * c);
      if (gw) gw[i] += gy[k] * x[k] * inv;
    }
  }
}

function rmsNormBackwardSource(width: 1 | 4): string {
  return wgslRowKernel(width, /* wgsl */ `
struct Params { rows: u32, dim: u32, first_row: u32, slack: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec>;
@group(0) @binding(2) var<storage, read> weight: array<vec>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> gy: array<vec>;
@group(0) @binding(5) var<storage, read_write> gx: array<vec>;`, 'dense', /* wgsl */ `
  var dot = vec(0.0);
  for (var i = lid; i < len; i += ROW_THREADS) { dot = fma(gy[base + i] * weight[i], x[base + i], dot); }
  let inv = rstd[stat];
  let c = inv * inv * row_sum(lid, hsum(dot)) / f32(p.dim);
  for (var i = lid; i < len; i += ROW_THREADS) { gx[base + i] = inv * (gy[base + i] * weight[i] - x[base + i] * c); }`);
}

export function rmsNormBackwardGpu(
  gpu: Gpu, x: GPUBuffer, weight: GPUBuffer, rstd: GPUBuffer, gy: GPUBuffer, gx: GPUBuffer, gw: GPUBuffer | null, rows: number, dim: number,
  maxBindingBytes = gpu.limits.maxStorageBufferBindingSize,
): void {
  const width = vectorWidth(dim);
  const pipe = gpu.pipeline(`rms-norm-backward-w${width}`, () => rmsNormBackwardSource(width));
  const runs = rowBatches(gpu, rows, dim, maxBindingBytes);
  for (const run of runs) gpu.dispatch(pipe, [run.bind(x), weight, rstd, run.bind(gy), run.bind(gx)], [run.rows, dim, run.firstRow, run.slack], run.rows);
  if (gw) columnSum(gpu, 'rmsWeight', [x, rstd, gy], gw, runs, dim);
}

// ---------------------------------------------------------------------------------------------
// LayerNorm (biased variance, as PyTorch)

export function layerNormCpu(
  x: Float64Array, weight: Float64Array, bias: Float64Array, out: Float64Array, mean: Float64Array, rstd: Float64Array, rows: number, dim: number, eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += x[base + i];
    const mu = sum / dim;
    let squares = 0;
    for (let i = 0; i < dim; i++) squares += (x[base + i] - mu) ** 2;
    const inv = 1 / Math.sqrt(squares / dim + eps);
    mean[r] = mu;
    rstd[r] = inv;
    for (let i = 0; i < dim; i++) out[base + i] = (x[base + i] - mu) * inv * weight[i] + bias[i];
  }
}

function layerNormSource(width: 1 | 4): string {
  return wgslRowKernel(width, /* wgsl */ `
struct Params { rows: u32, dim: u32, eps: f32, first_row: u32, slack: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec>;
@group(0) @binding(2) var<storage, read> weight: array<vec>;
@group(0) @binding(3) var<storage, read> bias: array<vec>;
@group(0) @binding(4) var<storage, read_write> out: array<vec>;
@group(0) @binding(5) var<storage, read_write> mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> rstd: array<f32>;`, 'dense', /* wgsl */ `
  var sum = vec(0.0);
  for (var i = lid; i < len; i += ROW_THREADS) { sum += x[base + i]; }
  let mu = row_sum(lid, hsum(sum)) / f32(p.dim);
  // mu is rounded; the mean of x - mu recovers the rounding (mu_low), which matters when the
  // spread of the row is small beside its mean
  var residual = vec(0.0);
  var squares = vec(0.0);
  for (var i = lid; i < len; i += ROW_THREADS) {
    let d = x[base + i] - mu;
    residual += d;
    squares = fma(d, d, squares);
  }
  let mu_low = row_sum(lid, hsum(residual)) / f32(p.dim);
  let variance = max(0.0, row_sum(lid, hsum(squares)) / f32(p.dim) - mu_low * mu_low);
  let inv = 1.0 / sqrt(variance + p.eps);
  for (var i = lid; i < len; i += ROW_THREADS) { out[base + i] = ((x[base + i] - mu) - mu_low) * inv * weight[i] + bias[i]; }
  if (lid == 0u) {
    mean[stat] = mu + mu_low;
    rstd[stat] = inv;
  }`);
}

export function layerNormGpu(
  gpu: Gpu, x: GPUBuffer, weight: GPUBuffer, bias: GPUBuffer, out: GPUBuffer, mean: GPUBuffer, rstd: GPUBuffer, rows: number, dim: number, eps: number,
  maxBindingBytes = gpu.limits.maxStorageBufferBindingSize,
): void {
  const width = vectorWidth(dim);
  const pipe = gpu.pipeline(`layer-norm-w${width}`, () => layerNormSource(width));
  for (const run of rowBatches(gpu, rows, dim, maxBindingBytes)) {
    gpu.dispatch(pipe, [run.bind(x), weight, bias, run.bind(out), mean, rstd], [run.rows, dim, f32bits(eps), run.firstRow, run.slack], run.rows);
  }
}

// With x̂ = (x - mean)·r and g = gy·w: gx = r·(g - Σg/dim - x̂·Σ(g·x̂)/dim); gw = Σ_rows gy·x̂; gb = Σ_rows gy.
export function layerNormBackwardCpu(
  x: Float64Array, weight: Float64Array, mean: Float64Array, rstd: Float64Array, gy: Float64Array,
  gx: Float64Array, gw: Float64Array | null, gb: Float64Array | null, rows: number, dim: number,
): void {
  gw?.fill(0);
  gb?.fill(0);
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    const [mu, inv] = [mean[r], rstd[r]];
    let sumG = 0;
    let sumGXhat = 0;
    for (let i = 0; i < dim; i++) {
      const g = gy[base + i] * weight[i];
      sumG += g;
      sumGXhat += g * (x[base + i] - mu) * inv;
    }
    for (let i = 0; i < dim; i++) {
      const k = base + i;
      const xhat = (x[k] - mu) * inv;
      gx[k] = inv * (gy[k] * weight[i] - sumG / dim - (xhat * sumGXhat) / dim);
      if (gw) gw[i] += gy[k] * xhat;
      if (gb) gb[i] += gy[k];
    }
  }
}

function layerNormBackwardSource(width: 1 | 4): string {
  return wgslRowKernel(width, /* wgsl */ `
struct Params { rows: u32, dim: u32, first_row: u32, slack: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec>;
@group(0) @binding(2) var<storage, read> weight: array<vec>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;
@group(0) @binding(5) var<storage, read> gy: array<vec>;
@group(0) @binding(6) var<storage, read_write> gx: array<vec>;`, 'dense', /* wgsl */ `
  let mu = mean[stat];
  let inv = rstd[stat];
  var sum_g = vec(0.0);
  var sum_g_xhat = vec(0.0);
  for (var i = lid; i < len; i += ROW_THREADS) {
    let g = gy[base + i] * weight[i];
    sum_g += g;
    sum_g_xhat = fma(g, (x[base + i] - mu) * inv, sum_g_xhat);
  }
  let mean_g = row_sum(lid, hsum(sum_g)) / f32(p.dim);
  let mean_g_xhat = row_sum(lid, hsum(sum_g_xhat)) / f32(p.dim);
  for (var i = lid; i < len; i += ROW_THREADS) {
    let xhat = (x[base + i] - mu) * inv;
    gx[base + i] = inv * (gy[base + i] * weight[i] - mean_g - xhat * mean_g_xhat);
  }`);
}

export function layerNormBackwardGpu(
  gpu: Gpu, x: GPUBuffer, weight: GPUBuffer, mean: GPUBuffer, rstd: GPUBuffer, gy: GPUBuffer,
  gx: GPUBuffer, gw: GPUBuffer | null, gb: GPUBuffer | null, rows: number, dim: number,
  maxBindingBytes = gpu.limits.maxStorageBufferBindingSize,
): void {
  const width = vectorWidth(dim);
  const pipe = gpu.pipeline(`layer-norm-backward-w${width}`, () => layerNormBackwardSource(width));
  const runs = rowBatches(gpu, rows, dim, maxBindingBytes);
  for (const run of runs) gpu.dispatch(pipe, [run.bind(x), weight, mean, rstd, run.bind(gy), run.bind(gx)], [run.rows, dim, run.firstRow, run.slack], run.rows);
  if (gw) columnSum(gpu, 'layerWeight', [x, mean, rstd, gy], gw, runs, dim);
  if (gb) columnSum(gpu, 'layerBias', [gy], gb, runs, dim);
}

// ---------------------------------------------------------------------------------------------
// Column sums for the weight and bias gradients

const COLUMN_BLOCK_ROWS = 256;
const COLUMN_RUN_ROWS = 16;
const COLUMN_WORKGROUP = 64;

/**
 * What each column sum adds up: the term at flat vec index `k` (row `stat` of the per-row
 * statistics), and the buffers it reads: row arrays (`array<vec>`, bound per run) or statistics.
 */
const COLUMN_TERMS = {
  rmsWeight: { inputs: ['x: array<vec>', 'rstd: array<f32>', 'gy: array<vec>'], term: 'gy[k] * x[k] * rstd[stat]' },
  layerWeight: { inputs: ['x: array<vec>', 'mean: array<f32>', 'rstd: array<f32>', 'gy: array<vec>'], term: 'gy[k] * (x[k] - mean[stat]) * rstd[stat]' },
  layerBias: { inputs: ['gy: array<vec>'], term: 'gy[k]' },
  partials: { inputs: ['partials: array<vec>'], term: 'partials[k]' },
} as const;
type ColumnTerm = keyof typeof COLUMN_TERMS;

function columnSumSource(kind: ColumnTerm, width: 1 | 4): string {
  const { inputs, term } = COLUMN_TERMS[kind];
  const bindings = inputs.map((decl, i) => `@group(0) @binding(${i + 1}) var<storage, read> ${decl};`).join('\n');
  return /* wgsl */ `
struct Params { rows: u32, cols: u32, first_row: u32, slack: u32, block_offset: u32 }
@group(0) @binding(0) var<uniform> p: Params;
${bindings}
@group(0) @binding(${inputs.length + 1}) var<storage, read_write> sums: array<vec>;
alias vec = ${width === 4 ? 'vec4<f32>' : 'f32'};
${WGSL_GROUP_INDEX}
@compute @workgroup_size(${COLUMN_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let index = group_index(wid, nwg) * ${COLUMN_WORKGROUP}u + lid;
  let blocks = max(1u, (p.rows + ${COLUMN_BLOCK_ROWS - 1}u) / ${COLUMN_BLOCK_ROWS}u);
  if (index >= blocks * p.cols) { return; }
  let col = index % p.cols;
  let block = index / p.cols;
  let first = block * ${COLUMN_BLOCK_ROWS}u;
  let last = min(p.rows, first + ${COLUMN_BLOCK_ROWS}u);
  var total = vec(0.0);
  for (var run = first; run < last; run += ${COLUMN_RUN_ROWS}u) {
    var part = vec(0.0);
    for (var r = run; r < min(last, run + ${COLUMN_RUN_ROWS}u); r++) {
      let k = p.slack / ${width}u + r * p.cols + col;
      let stat = p.first_row + r;
      part += ${term};
    }
    total += part;
  }
  sums[(p.block_offset + block) * p.cols + col] = total;
}`;
}

/**
 * out[j] = Σ_rows term(row, j): each run of rows writes its blocks' partial sums, then partials
 * are summed by blocks while more than one remains.
 */
function columnSum(gpu: Gpu, kind: ColumnTerm, inputs: GPUBuffer[], out: GPUBuffer, runs: RowBatch[], dim: number): void {
  const width = vectorWidth(dim);
  const cols = dim / width;
  const blocksOf = (rows: number) => Math.max(1, Math.ceil(rows / COLUMN_BLOCK_ROWS));
  const scratch: GPUBuffer[] = [];
  let blocks = runs.reduce((n, run) => n + blocksOf(run.rows), 0);
  let sums = blocks === 1 ? out : gpu.pool.acquire(blocks * dim * 4);
  const first = gpu.pipeline(`column-sum-${kind}-w${width}`, () => columnSumSource(kind, width));
  const rowArrays = COLUMN_TERMS[kind].inputs.map((decl) => decl.includes('array<vec>'));
  let offset = 0;
  for (const run of runs) {
    const bound = inputs.map((buffer, i) => (rowArrays[i] ? run.bind(buffer) : buffer));
    gpu.dispatch(first, [...bound, sums], [run.rows, cols, run.firstRow, run.slack, offset], Math.ceil((blocksOf(run.rows) * cols) / COLUMN_WORKGROUP));
    offset += blocksOf(run.rows);
  }
  const partials = gpu.pipeline(`column-sum-partials-w${width}`, () => columnSumSource('partials', width));
  while (blocks > 1) {
    scratch.push(sums);
    const rows = blocks;
    blocks = blocksOf(rows);
    sums = blocks === 1 ? out : gpu.pool.acquire(blocks * dim * 4);
    gpu.dispatch(partials, [scratch[scratch.length - 1], sums], [rows, cols, 0, 0, 0], Math.ceil((blocks * cols) / COLUMN_WORKGROUP));
  }
  // safe to release now: later users of these buffers are recorded after the reads above
  for (const buffer of scratch) gpu.pool.release(buffer);
}
