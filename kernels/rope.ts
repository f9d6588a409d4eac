// Rotary position embeddings as in HF Llama (rotate_half: element i pairs with i + D/2), on x
// laid out [B, T, H, D] with positions i32 [B, T]; the inverse rotation is the backward pass.
//
// One invocation per (token, frequency) computes the rotation once and applies it to that pair
// in every head; neighbouring invocations take neighbouring i, so a SIMD batch reads and writes
// contiguous memory. When D/2 % 4 == 0 an invocation takes four neighbouring frequencies as
// vec4: [1, 512, 32, 64] on lavapipe went from 3.0 ms (one pair per invocation) to 1.7 ms.
//
// The angle is not rounded to f32 as a whole: position·invFreq in f32 is off by up to
// angle·2^-24, 5e-4 rad at position 8192 (HF's float32 angles carry that error). The frequency
// is split into three parts of at most 9 significant bits; the first two times a position below
// 2^15 are exact, the third is tiny, and the three rotations are composed. cos/sin on lavapipe
// are within 1e-7 for arguments up to 1e4, so the result is within ~3e-7 of the exact rotation
// (measured: 2.2e-7 for positions below 32768; 2.5e-3 at 100000, where the split stops being exact).

import { WGSL_GROUP_INDEX, f32bits, type Gpu } from './gpu.js';
import { rowBatches } from './row_kit.js';

export interface RopeScaling {
  type: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

/**
 * inv_freq[i] = theta^(-2i/D) for i < D/2; llama3 scaling divides the frequencies whose
 * wavelength exceeds original/lowFreqFactor by `factor`, keeps those below
 * original/highFreqFactor, and interpolates smoothly between.
 */
export function ropeInvFreq(headDim: number, theta: number, scaling?: RopeScaling): Float64Array {
  const inv = Float64Array.from({ length: headDim / 2 }, (_, i) => theta ** ((-2 * i) / headDim));
  if (!scaling) return inv;
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: original } = scaling;
  const longWavelength = original / lowFreqFactor;
  const shortWavelength = original / highFreqFactor;
  return inv.map((freq) => {
    const wavelength = (2 * Math.PI) / freq;
    if (wavelength < shortWavelength) return freq;
    if (wavelength > longWavelength) return freq / factor;
    const smooth = (original / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    return ((1 - smooth) * freq) / factor + smooth * freq;
  });
}

export function ropeCpu(
  x: Float64Array, positions: Int32Array, invFreq: Float64Array, out: Float64Array,
  B: number, T: number, H: number, D: number, inverse: boolean,
): void {
  const half = D / 2;
  const direction = inverse ? -1 : 1;
  for (let token = 0; token < B * T; token++) {
    for (let i = 0; i < half; i++) {
      const angle = positions[token] * invFreq[i];
      const [c, s] = [Math.cos(angle), direction * Math.sin(angle)];
      for (let h = 0; h < H; h++) {
        const k = (token * H + h) * D + i;
        const [a, b] = [x[k], x[k + half]];
        out[k] = a * c - b * s;
        out[k + half] = b * c + a * s;
      }
    }
  }
}

const WORKGROUP = 64;

/** Four neighbouring frequencies per invocation (vec4 loads) when D/2 is a multiple of 4. */
function ropeSource(width: 1 | 4): string {
  const [vec, uvec] = width === 4 ? ['vec4<f32>', 'vec4<u32>'] : ['f32', 'u32'];
  return /* wgsl */ `
alias vec = ${vec};
alias uvec = ${uvec};
struct Params { tokens: u32, heads: u32, head_dim: u32, direction: f32, first_token: u32, slack: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec>;
@group(0) @binding(2) var<storage, read> positions: array<i32>;
@group(0) @binding(3) var<storage, read> inv_freq: array<vec>;
@group(0) @binding(4) var<storage, read_write> out: array<vec>;
${WGSL_GROUP_INDEX}
// the leading 9 significant bits (sign, exponent and 8 mantissa bits)
fn high_bits(v: vec) -> vec { return bitcast<vec>(bitcast<uvec>(v) & uvec(0xffff8000u)); }
// rotate (cos a, sin a) further by angle b
fn compose(c: vec, s: vec, angle: vec) -> array<vec, 2> {
  let cb = cos(angle);
  let sb = sin(angle);
  return array<vec, 2>(c * cb - s * sb, s * cb + c * sb);
}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let half = p.head_dim / ${2 * width}u;
  let index = group_index(wid, nwg) * ${WORKGROUP}u + lid;
  if (index >= p.tokens * half) { return; }
  let token = index / half;
  let i = index % half;
  let pos = f32(positions[p.first_token + token]);
  let freq = inv_freq[i];
  let f1 = high_bits(freq);
  let f2 = high_bits(freq - f1);
  let f3 = (freq - f1) - f2;
  let first = pos * f1;
  let r2 = compose(cos(first), sin(first), pos * f2);
  let r3 = compose(r2[0], r2[1], pos * f3);
  let c = r3[0];
  let s = r3[1] * p.direction;
  for (var h = 0u; h < p.heads; h++) {
    let k = p.slack / ${width}u + (token * p.heads + h) * (p.head_dim / ${width}u) + i;
    let a = x[k];
    let b = x[k + half];
    out[k] = a * c - b * s;
    out[k + half] = b * c + a * s;
  }
}`;
}

/** Tensors past one storage binding are rotated in runs of tokens (`maxBindingBytes` lets tests shrink them). */
export function ropeGpu(
  gpu: Gpu, x: GPUBuffer, positions: GPUBuffer, invFreq: GPUBuffer, out: GPUBuffer,
  B: number, T: number, H: number, D: number, inverse: boolean, maxBindingBytes = gpu.limits.maxStorageBufferBindingSize,
): void {
  const width = (D / 2) % 4 === 0 ? 4 : 1;
  const pipe = gpu.pipeline(`rope-w${width}`, () => ropeSource(width));
  for (const run of rowBatches(gpu, B * T, H * D, maxBindingBytes)) {
    const params = [run.rows, H, D, f32bits(inverse ? -1 : 1), run.firstRow, run.slack];
    gpu.dispatch(pipe, [run.bind(x), positions, invFreq, run.bind(out)], params, Math.ceil((run.rows * (D / 2 / width)) / WORKGROUP));
  }
}
