// Seeded counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11), identical u32
// streams on CPU and GPU. Element i of stream (seed, offset) is the block of counter
// [offset + i (mod 2^32), 0, 0, 0] under key [seed mod 2^32, seed / 2^32]; nothing is stateful,
// so any element can be recomputed anywhere.
// - uniform: 23 bits of word 0 as (2m + 1)·2^-24, strictly inside (0, 1) and exact in f32, so
//   CPU and GPU uniforms are equal;
// - normal: Box-Muller on words 0 and 1, z = sqrt(-2 ln u1)·sin(π(u2 - 1/2)): sin of an angle
//   uniform on (-π/2, π/2) is distributed as sin of one uniform on the circle, and the small
//   argument keeps f32 sin accurate; ln u1 near 1 uses the series of elementwise.ts, since the
//   builtin's absolute error there becomes a large error of small draws. GPU draws are within
//   1.4e-7·(1 + |z|) of the CPU's over 10^6 samples;
// - multinomial: one uniform per row (element = row), the first index whose running sum
//   exceeds u·total. The GPU runs one 64-invocation workgroup per row: chunk sums, a prefix
//   that every invocation computes in the same order (so the chunks tile [0, total) exactly),
//   then one invocation scans its chunk. Its f32 running sums differ from the CPU's float64 ones
//   only within rounding, so both pick the same index unless u·total sits that close to a bucket
//   edge. A row with no positive weight gives -1.
// WGSL has no 64-bit integers: the 32x32 -> 64-bit products are assembled from 16-bit halves.

import { bindingWindows, wgslAccurateLog, wordsBinding } from './elementwise.js';
import { f32bits, Gpu, WGSL_GROUP_INDEX } from './gpu.js';

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;
const ROUNDS = 10;

// ---------------------------------------------------------------------------------------------
// CPU.

/** The high 32 bits of a 32x32-bit product, exactly (every partial product fits a double). */
function mulhi(a: number, b: number): number {
  const [aLo, aHi, bLo, bHi] = [a & 0xffff, a >>> 16, b & 0xffff, b >>> 16];
  const ll = aLo * bLo;
  const lh = aLo * bHi;
  const hl = aHi * bLo;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aHi * bHi + Math.floor(lh / 0x10000) + Math.floor(hl / 0x10000) + Math.floor(mid / 0x10000)) >>> 0;
}

/** One Philox4x32-10 block: four u32 words from a 4-word counter and a 2-word key. */
export function philox4x32(counter: readonly number[], key: readonly number[]): [number, number, number, number] {
  let [c0, c1, c2, c3] = counter.map((c) => c >>> 0);
  let [k0, k1] = key.map((k) => k >>> 0);
  for (let round = 0; round < ROUNDS; round++) {
    const hi0 = mulhi(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + PHILOX_W0) >>> 0;
    k1 = (k1 + PHILOX_W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

function seedKey(seed: number): [number, number] {
  return [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0];
}

/** The block of stream element `counter` (already offset) under `seed`. */
export function philoxCpu(seed: number, counter: number): [number, number, number, number] {
  return philox4x32([counter >>> 0, 0, 0, 0], seedKey(seed));
}

/** 23 random bits as an odd multiple of 2^-24: strictly inside (0, 1), exact in f32. */
function unit(word: number): number {
  return ((word >>> 9) * 2 + 1) / 2 ** 24;
}

function normalFromWords(w0: number, w1: number): number {
  return Math.sqrt(-2 * Math.log(unit(w0))) * Math.sin(Math.PI * (unit(w1) - 0.5));
}

export function randomUniformCpu(out: Float64Array, n: number, seed: number, offset: number): void {
  for (let i = 0; i < n; i++) out[i] = unit(philoxCpu(seed, offset + i)[0]);
}

export function randomNormalCpu(out: Float64Array, n: number, seed: number, offset: number, mean: number, std: number): void {
  for (let i = 0; i < n; i++) {
    const [w0, w1] = philoxCpu(seed, offset + i);
    out[i] = mean + std * normalFromWords(w0, w1);
  }
}

export function multinomialCpu(weights: Float64Array, out: Int32Array, rows: number, n: number, seed: number, offset: number): void {
  for (let r = 0; r < rows; r++) {
    const row = weights.subarray(r * n, (r + 1) * n);
    const total = row.reduce((s, w) => s + w, 0);
    const target = unit(philoxCpu(seed, offset + r)[0]) * total;
    let pick = -1;
    let running = 0;
    for (let j = 0; j < n; j++) {
      if (row[j] > 0) pick = j; // rounding fallback: the last positive weight
      running += row[j];
      if (running > target) break;
    }
    out[r] = total > 0 ? pick : -1;
  }
}

// ---------------------------------------------------------------------------------------------
// WGSL.

const WGSL_PHILOX = /* wgsl */ `
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
  let ll = (a & 0xffffu) * (b & 0xffffu);
  let lh = (a & 0xffffu) * (b >> 16u);
  let hl = (a >> 16u) * (b & 0xffffu);
  let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  return vec2<u32>((a >> 16u) * (b >> 16u) + (lh >> 16u) + (hl >> 16u) + (mid >> 16u), a * b);
}
fn philox(counter: u32, key: vec2<u32>) -> vec4<u32> {
  var c = vec4<u32>(counter, 0u, 0u, 0u);
  var k = key;
  for (var round = 0u; round < ${ROUNDS}u; round++) {
    let p0 = mulhilo(${PHILOX_M0}u, c.x);
    let p1 = mulhilo(${PHILOX_M1}u, c.z);
    c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    k += vec2<u32>(${PHILOX_W0}u, ${PHILOX_W1}u);
  }
  return c;
}
fn unit(word: u32) -> f32 { return f32((word >> 9u) * 2u + 1u) * ${2 ** -24}; }
${wgslAccurateLog('log_accurate', 'f32')}`;

/** element kernels: 256-wide workgroups of ITEMS elements each amortize lavapipe's per-group cost */
const ELEMENT_WORKGROUP = 256;
const ITEMS = 4;
/** multinomial: one workgroup per row, one chunk of the row per invocation */
const ROW_WORKGROUP = 64;

type Distribution = 'bits' | 'uniform' | 'normal';

/** ITEMS elements per invocation, strided by the workgroup: each its Philox block, turned into the distribution. */
function elementSource(distribution: Distribution): string {
  const store = {
    bits: 'out[4u * i] = w.x; out[4u * i + 1u] = w.y; out[4u * i + 2u] = w.z; out[4u * i + 3u] = w.w;',
    uniform: 'out[i] = unit(w.x);',
    normal: `out[i] = p.mean + p.stddev * sqrt(-2.0 * log_accurate(unit(w.x))) * sin(${Math.PI} * (unit(w.y) - 0.5));`,
  }[distribution];
  return /* wgsl */ `
struct Params { n: u32, seed_lo: u32, seed_hi: u32, offset: u32, mean: f32, stddev: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<${distribution === 'bits' ? 'u32' : 'f32'}>;
${WGSL_GROUP_INDEX}
${WGSL_PHILOX}
@compute @workgroup_size(${ELEMENT_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let first = group_index(wid, nwg) * ${ELEMENT_WORKGROUP * ITEMS}u + lid;
  for (var k = 0u; k < ${ITEMS}u; k++) {
    let i = first + k * ${ELEMENT_WORKGROUP}u;
    if (i >= p.n) { return; }
    let w = philox(p.offset + i, vec2<u32>(p.seed_lo, p.seed_hi));
    ${store}
  }
}`;
}

const MULTINOMIAL_SOURCE = /* wgsl */ `
struct Params { rows: u32, n: u32, seed_lo: u32, seed_hi: u32, offset: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;
${WGSL_GROUP_INDEX}
${WGSL_PHILOX}
var<workgroup> chunk_sum: array<f32, ${ROW_WORKGROUP}>;
@compute @workgroup_size(${ROW_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nwg);
  if (row >= p.rows) { return; }
  let per = (p.n + ${ROW_WORKGROUP - 1}u) / ${ROW_WORKGROUP}u;
  let start = min(lid * per, p.n);
  let end = min(start + per, p.n);
  let base = row * p.n;
  var sum = 0.0;
  for (var j = start; j < end; j++) { sum += weights[base + j]; }
  chunk_sum[lid] = sum;
  workgroupBarrier();
  // every invocation adds the chunk sums in the same order, so chunk c covers exactly [before_c, before_c + sum_c)
  var before = 0.0;
  var total = 0.0;
  var last_positive = 0u;
  for (var c = 0u; c < ${ROW_WORKGROUP}u; c++) {
    if (c == lid) { before = total; }
    if (chunk_sum[c] > 0.0) { last_positive = c; }
    total += chunk_sum[c];
  }
  if (!(total > 0.0)) {
    if (lid == 0u) { out[row] = -1; }
    return;
  }
  let threshold = unit(philox(p.offset + row, vec2<u32>(p.seed_lo, p.seed_hi)).x) * total;
  // the last positive chunk also takes a threshold that rounding pushed to the total
  let mine = sum > 0.0 && before <= threshold && (threshold < before + sum || lid == last_positive);
  if (!mine) { return; }
  var pick = -1;
  var running = before;
  for (var j = start; j < end; j++) {
    let w = weights[base + j];
    if (w > 0.0) { pick = i32(j); }
    running += w;
    if (running > threshold) { break; }
  }
  out[row] = pick;
}`;

// ---------------------------------------------------------------------------------------------
// Launches.

/** Outputs past one storage binding are filled in windows; element i draws counter offset + i either way. */
function launchElements(gpu: Gpu, distribution: Distribution, out: GPUBuffer, n: number, seed: number, offset: number, mean = 0, std = 1, maxBindingBytes = gpu.limits.maxStorageBufferBindingSize): void {
  if (n === 0) return;
  const pipe = gpu.pipeline(`random:${distribution}`, () => elementSource(distribution));
  const wordsPer = distribution === 'bits' ? 4 : 1;
  // window starts are multiples of the (≥ 16-byte) offset alignment, so whole elements
  for (const w of bindingWindows(gpu, wordsPer * n, maxBindingBytes)) {
    const [first, count] = [w.start / wordsPer, w.len / wordsPer];
    const params = [count, ...seedKey(seed), (offset + first) >>> 0, f32bits(mean), f32bits(std)];
    gpu.dispatch(pipe, [wordsBinding(out, w.len, w.start)], params, Math.ceil(count / (ELEMENT_WORKGROUP * ITEMS)));
  }
}

/** The raw stream: out[4i .. 4i+3] = the Philox block of element i (u32 words). */
export function randomBitsGpu(gpu: Gpu, out: GPUBuffer, n: number, seed: number, offset: number, maxBindingBytes?: number): void {
  launchElements(gpu, 'bits', out, n, seed, offset, 0, 1, maxBindingBytes);
}

export function randomUniformGpu(gpu: Gpu, out: GPUBuffer, n: number, seed: number, offset: number, maxBindingBytes?: number): void {
  launchElements(gpu, 'uniform', out, n, seed, offset, 0, 1, maxBindingBytes);
}

export function randomNormalGpu(gpu: Gpu, out: GPUBuffer, n: number, seed: number, offset: number, mean: number, std: number, maxBindingBytes?: number): void {
  launchElements(gpu, 'normal', out, n, seed, offset, mean, std, maxBindingBytes);
}

export function multinomialGpu(gpu: Gpu, weights: GPUBuffer, out: GPUBuffer, rows: number, n: number, seed: number, offset: number): void {
  if (rows === 0) return;
  const pipe = gpu.pipeline('random:multinomial', () => MULTINOMIAL_SOURCE);
  const params = [rows, n, ...seedKey(seed), offset >>> 0];
  gpu.dispatch(pipe, [wordsBinding(weights, rows * n), wordsBinding(out, rows)], params, rows);
}
