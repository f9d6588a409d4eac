// Attention backward, flash-style: the probabilities are recomputed from the saved
// log-sum-exp instead of stored, so memory stays O(T) per head.
//   pass 1, one invocation per query row:  D_i = dO_i·O_i;  dQ_i = scale · Σ_j P_ij (dO_i·V_j − D_i) K_j
//   pass 2, one invocation per key row:    dV_j = Σ_i P_ij dO_i;  dK_j = scale · Σ_i P_ij (dO_i·V_j − D_i) Q_i
// (i over the query heads that share the key's kv head). Both passes are deterministic: every
// output row is written by exactly one invocation, with no atomics.
// The head dim is a pipeline constant: with it known, llvmpipe unrolls the d-loops and keeps
// the accumulators in registers. (A first version with a runtime D and array<f32, 128>
// accumulators spent 1.4 s of a 2 s tiny-preset step here: dynamically indexed private arrays
// live in scratch memory.)

import type { AttentionShape } from './attention.js';
import { WGSL_GROUP_INDEX, f32bits, type Gpu } from './gpu.js';

const WG = 32;
const MAX_D = 128;

function common(D: number): string {
  return /* wgsl */ `
const D = ${D}u;
struct Params { B: u32, T: u32, S: u32, H: u32, Hkv: u32, D: u32, scale: f32, causal: u32, cap: u32, hasMask: u32 }
@group(0) @binding(0) var<uniform> p: Params;
${WGSL_GROUP_INDEX}
fn q_row(b: u32, t: u32, h: u32) -> u32 { return ((b * p.T + t) * p.H + h) * D; }
fn kv_row(b: u32, j: u32, g: u32) -> u32 { return ((b * p.cap + j) * p.Hkv + g) * D; }
fn lse_at(b: u32, h: u32, t: u32) -> u32 { return (b * p.H + h) * p.T + t; }
fn sees(b: u32, t: u32, j: u32) -> bool {
  if (p.hasMask == 1u && mask[b * p.S + j] == 0.0) { return false; }
  return p.causal == 0u || j <= t + p.S - p.T;
}`;
}

function dqSource(D: number): string {
  return /* wgsl */ `
${common(D)}
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
  // lanes are consecutive queries t of one (b, h): every lane reads the same key row
  let tilesT = (p.T + ${WG}u - 1u) / ${WG}u;
  let tile = group_index(wid, nwg);
  if (tile >= p.B * p.H * tilesT) { return; }
  let t = (tile % tilesT) * ${WG}u + lid;
  let h = (tile / tilesT) % p.H;
  let b = tile / (tilesT * p.H);
  let live = t < p.T;
  let tt = min(t, p.T - 1u);
  let g = h / (p.H / p.Hkv);
  let qi = q_row(b, tt, h);
  let l = lse[lse_at(b, h, tt)];
  var qv: array<f32, ${D}>;
  var gov: array<f32, ${D}>;
  var acc: array<f32, ${D}>;
  var d_i = 0.0;
  for (var d = 0u; d < D; d++) {
    qv[d] = q[qi + d];
    gov[d] = go[qi + d];
    d_i = fma(gov[d], o[qi + d], d_i);
  }
  let last = select(p.S, min(p.S, (tile % tilesT) * ${WG}u + ${WG}u + p.S - p.T), p.causal == 1u);
  for (var j = 0u; j < last; j++) {
    let kj = kv_row(b, j, g);
    var s = 0.0;
    var dp = 0.0;
    for (var d = 0u; d < D; d++) {
      s = fma(qv[d], k[kj + d], s);
      dp = fma(gov[d], v[kj + d], dp);
    }
    let ok = live && l > -3.0e38 && sees(b, tt, j);
    let ds = select(0.0, exp(s * p.scale - l) * (dp - d_i) * p.scale, ok);
    for (var d = 0u; d < D; d++) { acc[d] = fma(ds, k[kj + d], acc[d]); }
  }
  if (!live) { return; }
  delta[lse_at(b, h, tt)] = d_i;
  for (var d = 0u; d < D; d++) { gq[qi + d] = acc[d]; }
}`;
}

function dkvSource(D: number): string {
  return /* wgsl */ `
${common(D)}
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
  // lanes are consecutive keys j of one (b, kv head): every lane reads the same query row
  let tilesS = (p.S + ${WG}u - 1u) / ${WG}u;
  let tile = group_index(wid, nwg);
  if (tile >= p.B * p.Hkv * tilesS) { return; }
  let j0 = (tile % tilesS) * ${WG}u;
  let j = j0 + lid;
  let g = (tile / tilesS) % p.Hkv;
  let b = tile / (tilesS * p.Hkv);
  let live = j < p.S;
  let jj = min(j, p.S - 1u);
  let kj = kv_row(b, jj, g);
  var kv: array<f32, ${D}>;
  var vv: array<f32, ${D}>;
  var dk: array<f32, ${D}>;
  var dv: array<f32, ${D}>;
  for (var d = 0u; d < D; d++) {
    kv[d] = k[kj + d];
    vv[d] = v[kj + d];
  }
  let group = p.H / p.Hkv;
  // causal: query t sees key j when t >= j - (S - T); the first such t over this tile's keys
  let first = select(0u, u32(max(i32(j0) - i32(p.S - p.T), 0)), p.causal == 1u);
  for (var hh = 0u; hh < group; hh++) {
    let h = g * group + hh;
    for (var t = first; t < p.T; t++) {
      let qi = q_row(b, t, h);
      let l = lse[lse_at(b, h, t)];
      var s = 0.0;
      var dp = 0.0;
      for (var d = 0u; d < D; d++) {
        s = fma(q[qi + d], kv[d], s);
        dp = fma(go[qi + d], vv[d], dp);
      }
      let ok = live && l > -3.0e38 && sees(b, t, jj);
      let pij = select(0.0, exp(s * p.scale - l), ok);
      let ds = pij * (dp - delta[lse_at(b, h, t)]) * p.scale;
      for (var d = 0u; d < D; d++) {
        dv[d] = fma(pij, go[qi + d], dv[d]);
        dk[d] = fma(ds, q[qi + d], dk[d]);
      }
    }
  }
  if (!live) { return; }
  let out = ((b * p.S + jj) * p.Hkv + g) * D;
  for (var d = 0u; d < D; d++) {
    gk[out + d] = dk[d];
    gv[out + d] = dv[d];
  }
}`;
}

export function attentionBackwardGpu(
  gpu: Gpu, q: GPUBuffer, k: GPUBuffer, v: GPUBuffer, keyMask: GPUBuffer | null, out: GPUBuffer, lse: GPUBuffer,
  gOut: GPUBuffer, gq: GPUBuffer, gk: GPUBuffer, gv: GPUBuffer, s: AttentionShape,
): void {
  if (s.D > MAX_D) throw new Error(`attention backward: head dim ${s.D} exceeds ${MAX_D}`);
  const params = [s.B, s.T, s.S, s.H, s.Hkv, s.D, f32bits(s.scale), s.causal ? 1 : 0, s.kvCapacity ?? s.S, keyMask ? 1 : 0];
  // an unused mask binding still needs a buffer: any will do, it is never read
  const mask = keyMask ?? q;
  const delta = gpu.pool.acquire(s.B * s.H * s.T * 4);
  gpu.dispatch(gpu.pipeline(`attention-bwd-dq-d${s.D}`, () => dqSource(s.D)), [q, k, v, mask, out, lse, gOut, gq, delta], params, s.B * s.H * Math.ceil(s.T / WG));
  gpu.dispatch(gpu.pipeline(`attention-bwd-dkv-d${s.D}`, () => dkvSource(s.D)), [q, k, v, mask, lse, gOut, delta, gk, gv], params, s.B * s.Hkv * Math.ceil(s.S / WG));
  gpu.pool.release(delta);
}
