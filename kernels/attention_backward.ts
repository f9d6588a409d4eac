// Attention backward, flash-style: the probabilities are recomputed from the saved
// log-sum-exp instead of stored, so memory stays O(T) per head.
//   pass 1, one invocation per query row:  D_i = dO_i·O_i;  dQ_i = scale · Σ_j P_ij (dO_i·V_j − D_i) K_j
//   pass 2, one invocation per key row:    dV_j = Σ_i P_ij dO_i;  dK_j = scale · Σ_i P_ij (dO_i·V_j − D_i) Q_i
// (i over the query heads that share the key's kv head). Both passes are deterministic: every
// output row is written by exactly one invocation, with no atomics.

import type { AttentionShape } from './attention.js';
import { WGSL_GROUP_INDEX, f32bits, type Gpu } from './gpu.js';

const WG = 32;
const MAX_D = 128;

const COMMON = /* wgsl */ `
struct Params { B: u32, T: u32, S: u32, H: u32, Hkv: u32, D: u32, scale: f32, causal: u32, cap: u32, hasMask: u32 }
@group(0) @binding(0) var<uniform> p: Params;
${WGSL_GROUP_INDEX}
fn q_row(b: u32, t: u32, h: u32) -> u32 { return ((b * p.T + t) * p.H + h) * p.D; }
fn kv_row(b: u32, j: u32, g: u32) -> u32 { return ((b * p.cap + j) * p.Hkv + g) * p.D; }
fn lse_at(b: u32, h: u32, t: u32) -> u32 { return (b * p.H + h) * p.T + t; }
fn sees(b: u32, t: u32, j: u32) -> bool {
  if (p.hasMask == 1u && mask[b * p.S + j] == 0.0) { return false; }
  return p.causal == 0u || j <= t + p.S - p.T;
}`;

const DQ_SOURCE = /* wgsl */ `
${COMMON}
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
@group(0) @binding(5) var<storage, read> o: array<f32>;
@group(0) @binding(6) var<storage, read> lse: array<f32>;
@group(0) @binding(7) var<storage, read> go: array<f32>;
@group(0) @binding(8) var<storage, read_write> gq: array<f32>;
@group(0) @binding(9) var<storage, read_write> delta: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nwg) * ${WG}u + lid;
  if (row >= p.B * p.T * p.H) { return; }
  let h = row % p.H;
  let t = (row / p.H) % p.T;
  let b = row / (p.H * p.T);
  let g = h / (p.H / p.Hkv);
  let qi = q_row(b, t, h);
  let l = lse[lse_at(b, h, t)];
  var d_i = 0.0;
  for (var d = 0u; d < p.D; d++) { d_i = fma(go[qi + d], o[qi + d], d_i); }
  delta[lse_at(b, h, t)] = d_i;
  var acc: array<f32, ${MAX_D}>;
  if (l > -3.0e38) {
    for (var j = 0u; j < p.S; j++) {
      if (!sees(b, t, j)) { continue; }
      let kj = kv_row(b, j, g);
      var s = 0.0;
      var dp = 0.0;
      for (var d = 0u; d < p.D; d++) {
        s = fma(q[qi + d], k[kj + d], s);
        dp = fma(go[qi + d], v[kj + d], dp);
      }
      let ds = exp(s * p.scale - l) * (dp - d_i) * p.scale;
      for (var d = 0u; d < p.D; d++) { acc[d] = fma(ds, k[kj + d], acc[d]); }
    }
  }
  for (var d = 0u; d < p.D; d++) { gq[qi + d] = acc[d]; }
}`;

const DKV_SOURCE = /* wgsl */ `
${COMMON}
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
@group(0) @binding(5) var<storage, read> lse: array<f32>;
@group(0) @binding(6) var<storage, read> go: array<f32>;
@group(0) @binding(7) var<storage, read> delta: array<f32>;
@group(0) @binding(8) var<storage, read_write> gk: array<f32>;
@group(0) @binding(9) var<storage, read_write> gv: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = group_index(wid, nwg) * ${WG}u + lid;
  if (row >= p.B * p.S * p.Hkv) { return; }
  let g = row % p.Hkv;
  let j = (row / p.Hkv) % p.S;
  let b = row / (p.Hkv * p.S);
  let kj = kv_row(b, j, g);
  let group = p.H / p.Hkv;
  var dk: array<f32, ${MAX_D}>;
  var dv: array<f32, ${MAX_D}>;
  for (var hh = 0u; hh < group; hh++) {
    let h = g * group + hh;
    for (var t = 0u; t < p.T; t++) {
      if (!sees(b, t, j)) { continue; }
      let l = lse[lse_at(b, h, t)];
      if (l <= -3.0e38) { continue; }
      let qi = q_row(b, t, h);
      var s = 0.0;
      var dp = 0.0;
      for (var d = 0u; d < p.D; d++) {
        s = fma(q[qi + d], k[kj + d], s);
        dp = fma(go[qi + d], v[kj + d], dp);
      }
      let pij = exp(s * p.scale - l);
      let ds = pij * (dp - delta[lse_at(b, h, t)]) * p.scale;
      for (var d = 0u; d < p.D; d++) {
        dv[d] = fma(pij, go[qi + d], dv[d]);
        dk[d] = fma(ds, q[qi + d], dk[d]);
      }
    }
  }
  let out = ((b * p.S + j) * p.Hkv + g) * p.D;
  for (var d = 0u; d < p.D; d++) {
    gk[out + d] = dk[d];
    gv[out + d] = dv[d];
  }
}`;

export function attentionBackwardGpu(
  gpu: Gpu, q: GPUBuffer, k: GPUBuffer, v: GPUBuffer, keyMask: GPUBuffer | null, out: GPUBuffer, lse: GPUBuffer,
  gOut: GPUBuffer, gq: GPUBuffer, gk: GPUBuffer, gv: GPUBuffer, s: AttentionShape,
): void {
  if (s.D > MAX_D) throw new Error(`attention backward: head dim ${s.D} exceeds ${MAX_D}`);
  const params = [s.B, s.T, s.S, s.H, s.Hkv, s.D, f32bits(s.scale), s.causal ? 1 : 0, s.kvCapacity ?? s.S, keyMask ? 1 : 0];
  // an unused mask binding still needs a buffer: any will do, it is never read
  const mask = keyMask ?? q;
  const delta = gpu.pool.acquire(s.B * s.H * s.T * 4);
  gpu.dispatch(gpu.pipeline('attention-bwd-dq', () => DQ_SOURCE), [q, k, v, mask, out, lse, gOut, gq, delta], params, Math.ceil((s.B * s.T * s.H) / WG));
  gpu.dispatch(gpu.pipeline('attention-bwd-dkv', () => DKV_SOURCE), [q, k, v, mask, lse, gOut, delta, gk, gv], params, Math.ceil((s.B * s.S * s.Hkv) / WG));
  gpu.pool.release(delta);
}
