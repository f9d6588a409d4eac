// Softmax and log-softmax over the last axis of [rows, n], forward and backward.
//
// One workgroup of ROW_THREADS = 8 invocations per row (one SIMD batch on lavapipe, where
// barriers are cheapest: the variants measured are in bench/NOTES.md). Each invocation keeps a running (max, sum of exp) over its
// strided share of the row, loaded as vec4 when n % 4 == 0; two tree reductions in workgroup
// memory combine the shares; a second sweep writes the output while the row is still in cache.

import { type Gpu } from './gpu.js';
import { rowBatches, vectorWidth, wgslRowKernel, wgslRowLogSumExp } from './row_kit.js';

// ---------------------------------------------------------------------------------------------
// Forward

export function softmaxCpu(x: Float64Array, out: Float64Array, rows: number, n: number, log: boolean): void {
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, x[base + i]);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.exp(x[base + i] - max);
    const logSum = Math.log(sum);
    for (let i = 0; i < n; i++) {
      const shifted = x[base + i] - max;
      out[base + i] = log ? shifted - logSum : Math.exp(shifted) / sum;
    }
  }
}

function softmaxSource(width: 1 | 4, log: boolean): string {
  const write = log ? '(x[i] - top) - log(total)' : 'exp(x[i] - top) * (1.0 / total)';
  return wgslRowKernel(width, /* wgsl */ `
struct Params { rows: u32, n: u32, slack: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec>;
@group(0) @binding(2) var<storage, read_write> y: array<vec>;`, 'slack', /* wgsl */ `
  // running max and sum of exp(x - max) over this invocation's share of the row
${wgslRowLogSumExp('x')}
  for (var i = start + lid; i < end; i += ROW_THREADS) { y[i] = ${write}; }`);
}

/** `maxBindingBytes` only shrinks the row batches (tests exercise the batching with it). */
export function softmaxGpu(
  gpu: Gpu, x: GPUBuffer, out: GPUBuffer, rows: number, n: number, log: boolean,
  maxBindingBytes = gpu.limits.maxStorageBufferBindingSize,
): void {
  const width = vectorWidth(n);
  const pipe = gpu.pipeline(`softmax-w${width}-${log ? 'log' : 'exp'}`, () => softmaxSource(width, log));
  for (const b of rowBatches(gpu, rows, n, maxBindingBytes)) {
    gpu.dispatch(pipe, [b.bind(x), b.bind(out)], [b.rows, n, b.slack], b.rows);
  }
}

// ---------------------------------------------------------------------------------------------
// Backward

export function softmaxBackwardCpu(y: Float64Array, gy: Float64Array, gx: Float64Array, rows: number, n: number, log: boolean): void {
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += log ? gy[base + i] : gy[base + i] * y[base + i];
    for (let i = 0; i < n; i++) {
      const k = base + i;
      gx[k] = log ? gy[k] - Math.exp(y[k]) * sum : y[k] * (gy[k] - sum);
    }
  }
}

function softmaxBackwardSource(width: 1 | 4, log: boolean): string {
  // softmax: gx = y (gy - Σ gy·y); log-softmax: gx = gy - exp(y) Σ gy
  const term = log ? 'gy[i]' : 'gy[i] * y[i]';
  const write = log ? 'gy[i] - exp(y[i]) * total' : 'y[i] * (gy[i] - total)';
  return wgslRowKernel(width, /* wgsl */ `
struct Params { rows: u32, n: u32, slack: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<vec>;
@group(0) @binding(2) var<storage, read> gy: array<vec>;
@group(0) @binding(3) var<storage, read_write> gx: array<vec>;`, 'slack', /* wgsl */ `
  var acc = vec(0.0);
  for (var i = start + lid; i < end; i += ROW_THREADS) { acc += ${term}; }
  let total = row_sum(lid, hsum(acc));
  for (var i = start + lid; i < end; i += ROW_THREADS) { gx[i] = ${write}; }`);
}

export function softmaxBackwardGpu(
  gpu: Gpu, y: GPUBuffer, gy: GPUBuffer, gx: GPUBuffer, rows: number, n: number, log: boolean,
  maxBindingBytes = gpu.limits.maxStorageBufferBindingSize,
): void {
  const width = vectorWidth(n);
  const pipe = gpu.pipeline(`softmax-backward-w${width}-${log ? 'log' : 'exp'}`, () => softmaxBackwardSource(width, log));
  for (const b of rowBatches(gpu, rows, n, maxBindingBytes)) {
    gpu.dispatch(pipe, [b.bind(y), b.bind(gy), b.bind(gx)], [b.rows, n, b.slack], b.rows);
  }
}
