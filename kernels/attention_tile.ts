// Attention forward shaped for a hardware GPU: one workgroup of TILE_QUERIES invocations owns a
// tile of query rows of one (batch row, key/value head), one row per invocation, and streams
// the keys in tiles that the workgroup stages in workgroup memory (K, V and which keys are
// real), so every K/V load serves the whole tile. Each invocation keeps its row's running
// (max, sum, acc) and rescales once per key tile (the online softmax); scores are in log2
// units (q is scaled by scale · log2 e) so the kernel uses exp2. Grouped-query heads share a
// tile: row r is query r / G of head g·G + r % G, as in attention.ts. It writes the same out
// and lse as attention.ts's forward, which the backward there consumes.
// The lavapipe-shaped forward (attention.ts) moves data by subgroup shuffles in 8-lane
// workgroups; on an H100 it ran 2-3x slower than unfused matmuls (bench/NOTES.md).

import type { AttentionShape } from './attention.js';
import { WGSL_GROUP_INDEX, f32bits, type Binding, type Gpu } from './gpu.js';

/** Query rows per workgroup: one per invocation. */
export const TILE_QUERIES = 64;
/** Workgroup memory for the K and V tiles: WebGPU's guaranteed minimum, so every adapter has it. */
const TILE_BYTES = 16384;
const MAX_TILE_KEYS = 64;

/** Keys per tile: as many rows of K and V as TILE_BYTES holds, up to MAX_TILE_KEYS. */
function tileKeys(D: number): number {
  return Math.max(1, Math.min(MAX_TILE_KEYS, Math.floor(TILE_BYTES / (2 * 4 * D))));
}

function tileSource(D: number): string {
  const width = D % 4 === 0 ? 4 : 1;
  const n = D / width;
  const keys = tileKeys(D);
  return /* wgsl */ `
alias vec = ${width === 4 ? 'vec4<f32>' : 'f32'};
fn vdot(a: vec, b: vec) -> f32 { return ${width === 4 ? 'dot(a, b)' : 'a * b'}; }
const VECTORS = ${n}u;
const TILE_QUERIES = ${TILE_QUERIES}u;
const TILE_KEYS = ${keys}u;
// masked scores use a finite floor so that exp2 of differences never meets inf - inf
const FLOOR = -1e30;
const LN2 = 0.6931471805599453;
${WGSL_GROUP_INDEX}
struct Params { B: u32, T: u32, S: u32, H: u32, Hkv: u32, G: u32, cap: u32, causal: u32, masked: u32, blocks: u32, scale2: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec>;
@group(0) @binding(2) var<storage, read> k: array<vec>;
@group(0) @binding(3) var<storage, read> v: array<vec>;
@group(0) @binding(4) var<storage, read> key_mask: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<vec>;
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;
var<workgroup> k_tile: array<vec, ${keys * n}>;
var<workgroup> v_tile: array<vec, ${keys * n}>;
var<workgroup> real_tile: array<u32, ${keys}>;

fn neg_inf() -> f32 {
  var bits = 0xff800000u; // a runtime value: -inf is not a WGSL constant
  return bitcast<f32>(bits);
}

@compute @workgroup_size(${TILE_QUERIES})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // grid overshoot redoes the last tile rather than returning before the barriers
  var wg = min(group_index(wid, nwg), p.B * p.Hkv * p.blocks - 1u);
  let block = wg % p.blocks; wg /= p.blocks;
  let g = wg % p.Hkv;
  let b = wg / p.Hkv;
  let rows = p.T * p.G;
  let r = block * TILE_QUERIES + lid;
  let t = min(r, rows - 1u) / p.G;
  let h = g * p.G + min(r, rows - 1u) % p.G;
  let q_row = ((b * p.T + t) * p.H + h) * VECTORS;
  var qr: array<vec, ${n}>;
  var acc: array<vec, ${n}>;
  for (var c = 0u; c < VECTORS; c++) { qr[c] = q[q_row + c] * p.scale2; }
  var m = FLOOR;
  var l = 0.0;
  // keys this row sees, and the most any row of the tile sees (the loop bound every invocation shares)
  let row_end = select(p.S, t + p.S - p.T + 1u, p.causal != 0u);
  let tile_end = select(p.S, (min(block * TILE_QUERIES + TILE_QUERIES, rows) - 1u) / p.G + p.S - p.T + 1u, p.causal != 0u);
  for (var j0 = 0u; j0 < tile_end; j0 += TILE_KEYS) {
    workgroupBarrier(); // the previous tile is consumed
    for (var i = lid; i < TILE_KEYS * VECTORS; i += TILE_QUERIES) {
      let j = min(j0 + i / VECTORS, p.S - 1u);
      let at = ((b * p.cap + j) * p.Hkv + g) * VECTORS + i % VECTORS;
      k_tile[i] = k[at];
      v_tile[i] = v[at];
    }
    if (lid < TILE_KEYS) {
      let j = j0 + lid;
      real_tile[lid] = u32(j < p.S && (p.masked == 0u || key_mask[select(0u, b * p.S + min(j, p.S - 1u), p.masked != 0u)] != 0.0));
    }
    workgroupBarrier();
    let count = min(TILE_KEYS, row_end - min(j0, row_end));
    var scores: array<f32, ${keys}>;
    var top = m;
    for (var u = 0u; u < count; u++) {
      var s = 0.0;
      for (var c = 0u; c < VECTORS; c++) { s += vdot(qr[c], k_tile[u * VECTORS + c]); }
      scores[u] = select(FLOOR, s, real_tile[u] != 0u);
      top = max(top, scores[u]);
    }
    let rescale = exp2(m - top);
    m = top;
    l *= rescale;
    for (var c = 0u; c < VECTORS; c++) { acc[c] *= rescale; }
    for (var u = 0u; u < count; u++) {
      let w = select(0.0, exp2(scores[u] - m), real_tile[u] != 0u);
      l += w;
      for (var c = 0u; c < VECTORS; c++) { acc[c] = fma(vec(w), v_tile[u * VECTORS + c], acc[c]); }
    }
  }
  if (r < rows) {
    let inv = select(0.0, 1.0 / l, l > 0.0);
    for (var c = 0u; c < VECTORS; c++) { out[q_row + c] = acc[c] * inv; }
    lse[(b * p.H + h) * p.T + t] = select(neg_inf(), (m + log2(l)) * LN2, l > 0.0);
  }
}`;
}

/** attention.ts's forward as query tiles, on its bindings (the mask's is any buffer when `masked` is false). */
export function attentionTileGpu(
  gpu: Gpu, q: Binding, k: Binding, v: Binding, keyMask: Binding, out: Binding, lse: Binding, s: AttentionShape, masked: boolean,
): void {
  const G = s.H / s.Hkv;
  const blocks = Math.ceil((s.T * G) / TILE_QUERIES);
  const pipe = gpu.pipeline(`attention-tile-d${s.D}`, () => tileSource(s.D));
  const params = [
    s.B, s.T, s.S, s.H, s.Hkv, G, s.kvCapacity ?? s.S, s.causal ? 1 : 0, masked ? 1 : 0, blocks, f32bits(s.scale * Math.LOG2E),
  ];
  gpu.dispatch(pipe, [q, k, v, keyMask, out, lse], params, s.B * s.Hkv * blocks);
}
