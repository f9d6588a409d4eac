// AdamW with decoupled weight decay, in PyTorch's order, and the global grad-norm clipping
// factor that feeds it without a CPU read.
//
// One invocation per vec4 (per element when n % 4 != 0), no workgroup memory: the update is
// memory-bound, and vec4 loads are what make lavapipe fast. Measured on lavapipe (2 busy cores),
// 4M parameters: one vec4 per invocation 39-44 ms (a plain vec4 copy of one stream: 12-25 ms);
// four or eight vec4s per invocation 62-100 ms. The clipping factor arrives as a buffer
// (element 0) so clipping, grad scaling and the step stay on the GPU stream.

import { WGSL_GROUP_INDEX, f32bits, type Gpu } from './gpu.js';
import { bindingWindows, wordsBinding } from './elementwise.js';
import { vectorWidth } from './row_kit.js';

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1 for the first update */
  step: number;
}

export function adamwCpu(param: Float64Array, grad: Float64Array, m: Float64Array, v: Float64Array, n: number, h: AdamWHyper, gradScale: number): void {
  const correction1 = 1 - h.beta1 ** h.step;
  const correction2 = 1 - h.beta2 ** h.step;
  for (let i = 0; i < n; i++) {
    const g = grad[i] * gradScale;
    param[i] *= 1 - h.lr * h.weightDecay;
    m[i] = h.beta1 * m[i] + (1 - h.beta1) * g;
    v[i] = h.beta2 * v[i] + (1 - h.beta2) * g * g;
    param[i] -= (h.lr * (m[i] / correction1)) / (Math.sqrt(v[i] / correction2) + h.eps);
  }
}

const WORKGROUP = 64;

function adamwSource(width: 1 | 4, scaled: boolean): string {
  const vec = width === 4 ? 'vec4<f32>' : 'f32';
  return /* wgsl */ `
struct Params { n: u32, beta1: f32, one_minus_beta1: f32, beta2: f32, one_minus_beta2: f32, eps: f32, decay: f32, step_size: f32, correction2_sqrt: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<${vec}>;
@group(0) @binding(2) var<storage, read> grad: array<${vec}>;
@group(0) @binding(3) var<storage, read_write> m: array<${vec}>;
@group(0) @binding(4) var<storage, read_write> v: array<${vec}>;
${scaled ? '@group(0) @binding(5) var<storage, read> grad_scale: array<f32>;' : ''}
${WGSL_GROUP_INDEX}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = group_index(wid, nwg) * ${WORKGROUP}u + lid;
  if (i >= p.n / ${width}u) { return; }
  let g = grad[i]${scaled ? ' * grad_scale[0]' : ''};
  let m_next = p.beta1 * m[i] + p.one_minus_beta1 * g;
  let v_next = p.beta2 * v[i] + p.one_minus_beta2 * g * g;
  m[i] = m_next;
  v[i] = v_next;
  // PyTorch: denom = sqrt(v)/sqrt(1 - beta2^t) + eps; p -= lr/(1 - beta1^t) · m/denom
  param[i] = param[i] * p.decay - p.step_size * m_next / (sqrt(v_next) / p.correction2_sqrt + p.eps);
}`;
}

/** gradScale: a buffer whose element 0 is the f32 multiplier, or null for 1. */
/** Tensors past one storage binding are updated in windows (`maxBindingBytes` lets tests shrink them). */
export function adamwGpu(
  gpu: Gpu, param: GPUBuffer, grad: GPUBuffer, m: GPUBuffer, v: GPUBuffer, n: number, h: AdamWHyper, gradScale: GPUBuffer | null,
  maxBindingBytes = gpu.limits.maxStorageBufferBindingSize,
): void {
  const width = vectorWidth(n);
  const scaled = gradScale !== null;
  const pipe = gpu.pipeline(`adamw-w${width}${scaled ? '-scaled' : ''}`, () => adamwSource(width, scaled));
  const hyper = [
    // 1 - beta is taken in float64: f32(1 - f32(0.999)) is off by 1.3e-5 relative
    f32bits(h.beta1),
    f32bits(1 - h.beta1),
    f32bits(h.beta2),
    f32bits(1 - h.beta2),
    f32bits(h.eps),
    f32bits(1 - h.lr * h.weightDecay),
    f32bits(h.lr / (1 - h.beta1 ** h.step)),
    f32bits(Math.sqrt(1 - h.beta2 ** h.step)),
  ];
  for (const { start, len } of bindingWindows(gpu, n, maxBindingBytes)) {
    const bind = (buffer: GPUBuffer) => wordsBinding(buffer, len, start);
    const buffers = [param, grad, m, v].map(bind);
    gpu.dispatch(pipe, gradScale ? [...buffers, gradScale] : buffers, [len, ...hyper], Math.ceil(len / width / WORKGROUP));
  }
}

// ---------------------------------------------------------------------------------------------
// Global grad-norm clipping

export function clipScaleCpu(sumSquares: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (Math.sqrt(sumSquares) + 1e-6));
}

function clipScaleSource(): string {
  return /* wgsl */ `
struct Params { max_norm: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> sum_squares: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1)
fn main() {
  let norm = sqrt(sum_squares[0]);
  out[0] = min(1.0, p.max_norm / (norm + 1e-6));
  out[1] = norm;
}`;
}

/** out[0] = the clipping factor min(1, maxNorm / (norm + 1e-6)), out[1] = norm = sqrt(sumSquares[0]). */
export function clipScaleGpu(gpu: Gpu, sumSquares: GPUBuffer, out: GPUBuffer, maxNorm: number): void {
  gpu.dispatch(gpu.pipeline('clip-scale', clipScaleSource), [sumSquares, out], [f32bits(maxNorm)], 1);
}
