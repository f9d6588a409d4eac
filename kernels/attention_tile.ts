// Attention shaped for a hardware GPU: wide workgroups, one row per invocation, and the rows
// every invocation reads staged in workgroup memory, so each global load serves a whole tile.
// Forward: a workgroup of TILE_ROWS invocations owns a tile of query rows of one (batch row,
// key/value head) and streams the keys in tiles of K, V and which keys are real; each
// invocation keeps its row's running (max, sum, acc) and rescales once per key tile (the online
// softmax). Backward (P recomputed from lse, dS = P ∘ (dP − rowsum(dO ∘ O))): a stats pass,
// then dQ with the same query tiles over K/V tiles, and dK/dV with a workgroup owning a tile of
// keys over tiles of Q, dO and the query rows' statistics. Scores are in log2 units (q or k is
// scaled by scale · log2 e) so the kernels use exp2. Grouped-query heads share a tile: row r is
// query r / G of head g·G + r % G, as in attention.ts, whose out, lse and gradients these are.
// The lavapipe-shaped kernels (attention.ts) move data by subgroup shuffles in 8-lane
// workgroups; on an H100 their forward ran 2-3x slower than unfused matmuls (bench/NOTES.md).

import type { AttentionShape } from './attention.js';
import { WGSL_GROUP_INDEX, f32bits, type Binding, type Gpu } from './gpu.js';

/** Rows (queries, or keys in dK/dV) per workgroup: one per invocation. */
export const TILE_ROWS = 64;
/** Workgroup memory for the two staged row tiles: WebGPU's guaranteed minimum, so every adapter has it. */
const TILE_BYTES = 16384;
/** At most one staged row per invocation: each stages one row's flag or statistics. */
const MAX_TILE_COLUMNS = TILE_ROWS;

/** Rows per staged tile (keys, or queries in dK/dV): as many pairs of head rows as TILE_BYTES holds. */
function tileColumns(D: number): number {
  return Math.max(1, Math.min(MAX_TILE_COLUMNS, Math.floor(TILE_BYTES / (2 * 4 * D))));
}

/**
 * What the tile kernels share: vec of the head dim, the constants, Params, the staged tiles.
 * Loops over a head row's vectors run to vectors(): the constant VECTORS for a GPU's compiler
 * to unroll (the row arrays then live in registers), or with `rolled` (lavapipe) the same
 * value as a runtime parameter, since llvmpipe compiles each unrolled load site into a branch
 * per lane and component: the D = 64 and 128 kernels took about a minute each to compile.
 */
function prelude(D: number, rolled: boolean, tiles: [string, string] | null): string {
  const width = D % 4 === 0 ? 4 : 1;
  const n = D / width;
  const columns = tileColumns(D);
  return /* wgsl */ `
alias vec = ${width === 4 ? 'vec4<f32>' : 'f32'};
fn vdot(a: vec, b: vec) -> f32 { return ${width === 4 ? 'dot(a, b)' : 'a * b'}; }
const VECTORS = ${n}u;
fn vectors() -> u32 { return ${rolled ? 'p.vectors' : 'VECTORS'}; }
const TILE_ROWS = ${TILE_ROWS}u;
const TILE_COLUMNS = ${columns}u;
// masked scores use a finite floor so that exp2 of differences never meets inf - inf
const FLOOR = -1e30;
const LN2 = 0.6931471805599453;
const LOG2E = 1.4426950408889634;
${WGSL_GROUP_INDEX}
struct Params { B: u32, T: u32, S: u32, H: u32, Hkv: u32, G: u32, cap: u32, causal: u32, masked: u32, blocks: u32, vectors: u32, scale2: f32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
${tiles ? tiles.map((name) => `var<workgroup> ${name}: array<vec, ${columns * n}>;`).join('\n') : ''}
fn neg_inf() -> f32 {
  var bits = 0xff800000u; // a runtime value: -inf is not a WGSL constant
  return bitcast<f32>(bits);
}`;
}

/** Storage bindings from 1, each given as 'name access type'. */
function bindings(list: string[]): string {
  return list.map((b, i) => {
    const [name, access, type] = b.split(' ');
    return `@group(0) @binding(${i + 1}) var<storage, ${access}> ${name}: ${type};`;
  }).join('\n');
}

/** WGSL placing the workgroup over (b, g, block of TILE_ROWS rows of `rows`); overshoot redoes the last block. */
const WGSL_TILE_PLACE = /* wgsl */ `
  // grid overshoot redoes the last tile rather than returning before the barriers
  var wg = min(group_index(wid, nwg), p.B * p.Hkv * p.blocks - 1u);
  let block = wg % p.blocks; wg /= p.blocks;
  let g = wg % p.Hkv;
  let b = wg / p.Hkv;`;

/** WGSL for the query-tile kernels: this invocation's query row r, its t, h, q/out row and lse slot. */
const WGSL_QUERY_ROW = /* wgsl */ `${WGSL_TILE_PLACE}
  let rows = p.T * p.G;
  let r = block * TILE_ROWS + lid;
  let t = min(r, rows - 1u) / p.G;
  let h = g * p.G + min(r, rows - 1u) % p.G;
  let q_row = ((b * p.T + t) * p.H + h) * VECTORS;
  let stat = (b * p.H + h) * p.T + t;
  // keys this row sees, and the most any row of the tile sees (the loop bound all invocations share)
  let row_end = select(p.S, t + p.S - p.T + 1u, p.causal != 0u);
  let tile_end = select(p.S, (min(block * TILE_ROWS + TILE_ROWS, rows) - 1u) / p.G + p.S - p.T + 1u, p.causal != 0u);`;

/** WGSL staging keys j0 .. j0 + TILE_COLUMNS of k and v, and whether each is real, between barriers. */
const WGSL_STAGE_KEYS = /* wgsl */ `
    workgroupBarrier(); // the previous tile is consumed
    for (var i = lid; i < TILE_COLUMNS * vectors(); i += TILE_ROWS) {
      let at = ((b * p.cap + min(j0 + i / VECTORS, p.S - 1u)) * p.Hkv + g) * VECTORS + i % VECTORS;
      k_tile[i] = k[at];
      v_tile[i] = v[at];
    }
    if (lid < TILE_COLUMNS) { real_tile[lid] = u32(key_real(b, j0 + lid)); }
    workgroupBarrier();
    let count = min(TILE_COLUMNS, row_end - min(j0, row_end));`;

/** Whether key j of batch row b exists and is not masked (the mask binding holds something else when unmasked). */
const WGSL_KEY_REAL = /* wgsl */ `
fn key_real(b: u32, j: u32) -> bool { return j < p.S && (p.masked == 0u || key_mask[select(0u, b * p.S + min(j, p.S - 1u), p.masked != 0u)] != 0.0); }`;

/**
 * The opening of a kernel in which a workgroup owns a tile of query rows and streams K/V tiles:
 * q, k, v and the key mask bound first, then `outputs`; up to main's query row.
 */
function queryTileKernel(D: number, rolled: boolean, outputs: string[]): string {
  return /* wgsl */ `${prelude(D, rolled, ['k_tile', 'v_tile'])}
${bindings(['q read array<vec>', 'k read array<vec>', 'v read array<vec>', 'key_mask read array<f32>', ...outputs])}
var<workgroup> real_tile: array<u32, TILE_COLUMNS>;
${WGSL_KEY_REAL}

@compute @workgroup_size(TILE_ROWS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${WGSL_QUERY_ROW}`;
}

// ---------------------------------------------------------------------------------------------
// Forward

function forwardSource(D: number, rolled: boolean): string {
  const n = D % 4 === 0 ? D / 4 : D;
  return /* wgsl */ `${queryTileKernel(D, rolled, ['out read_write array<vec>', 'lse read_write array<f32>'])}
  var qr: array<vec, ${n}>;
  var acc: array<vec, ${n}>;
  for (var c = 0u; c < vectors(); c++) { qr[c] = q[q_row + c] * p.scale2; }
  var m = FLOOR;
  var l = 0.0;
  for (var j0 = 0u; j0 < tile_end; j0 += TILE_COLUMNS) {
    ${WGSL_STAGE_KEYS}
    var scores: array<f32, TILE_COLUMNS>;
    var top = m;
    for (var u = 0u; u < count; u++) {
      var s = 0.0;
      for (var c = 0u; c < vectors(); c++) { s += vdot(qr[c], k_tile[u * VECTORS + c]); }
      scores[u] = select(FLOOR, s, real_tile[u] != 0u);
      top = max(top, scores[u]);
    }
    let rescale = exp2(m - top);
    m = top;
    l *= rescale;
    for (var c = 0u; c < vectors(); c++) { acc[c] *= rescale; }
    for (var u = 0u; u < count; u++) {
      let w = select(0.0, exp2(scores[u] - m), real_tile[u] != 0u);
      l += w;
      for (var c = 0u; c < vectors(); c++) { acc[c] = fma(vec(w), v_tile[u * VECTORS + c], acc[c]); }
    }
  }
  if (r < rows) {
    let inv = select(0.0, 1.0 / l, l > 0.0);
    for (var c = 0u; c < vectors(); c++) { out[q_row + c] = acc[c] * inv; }
    lse[stat] = select(neg_inf(), (m + log2(l)) * LN2, l > 0.0);
  }
}`;
}

function params(s: AttentionShape, masked: boolean, blocks: number): number[] {
  return [
    s.B, s.T, s.S, s.H, s.Hkv, s.H / s.Hkv, s.kvCapacity ?? s.S, s.causal ? 1 : 0, masked ? 1 : 0, blocks,
    s.D % 4 === 0 ? s.D / 4 : s.D, f32bits(s.scale * Math.LOG2E), f32bits(s.scale),
  ];
}

/** The pipeline specialization: head dim, and whether the row loops stay rolled (see prelude). */
function key(s: AttentionShape, rolled: boolean): string {
  return `d${s.D}${rolled ? '-rolled' : ''}`;
}

function queryBlocks(s: AttentionShape): number {
  return Math.ceil((s.T * (s.H / s.Hkv)) / TILE_ROWS);
}

/**
 * attention.ts's forward as query tiles, on its bindings (the mask's is any buffer when `masked`
 * is false). `rolled` (see prelude) is for tests to run the unrolled form on lavapipe.
 */
export function attentionTileGpu(
  gpu: Gpu, q: Binding, k: Binding, v: Binding, keyMask: Binding, out: Binding, lse: Binding, s: AttentionShape, masked: boolean,
  rolled = gpu.isSoftware,
): void {
  const pipe = gpu.pipeline(`attention-tile-${key(s, rolled)}`, () => forwardSource(s.D, rolled));
  gpu.dispatch(pipe, [q, k, v, keyMask, out, lse], params(s, masked, queryBlocks(s)), s.B * s.Hkv * queryBlocks(s));
}

// ---------------------------------------------------------------------------------------------
// Backward

/** stats[row] = (lse · log2 e, rowsum(dO ∘ O)) per query row in lse order [B, H, T]: one invocation each. */
function statsSource(D: number, rolled: boolean): string {
  return /* wgsl */ `${prelude(D, rolled, null)}
${bindings(['out read array<vec>', 'g_out read array<vec>', 'lse read array<f32>', 'stats read_write array<vec2<f32>>'])}

@compute @workgroup_size(TILE_ROWS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = group_index(wid, nwg) * TILE_ROWS + lid;
  if (i >= p.B * p.H * p.T) { return; }
  let t = i % p.T;
  let bh = i / p.T;
  let row = (((bh / p.H) * p.T + t) * p.H + bh % p.H) * VECTORS;
  var delta = 0.0;
  for (var c = 0u; c < vectors(); c++) { delta += vdot(out[row + c], g_out[row + c]); }
  stats[i] = vec2(lse[i] * LOG2E, delta);
}`;
}

/** dQ = scale · Σ_j dS_tj k_j, per query row over K/V tiles. */
function dqSource(D: number, rolled: boolean): string {
  const n = D % 4 === 0 ? D / 4 : D;
  return /* wgsl */ `${queryTileKernel(D, rolled, ['g_out read array<vec>', 'stats read array<vec2<f32>>', 'g_q read_write array<vec>'])}
  var qr: array<vec, ${n}>;
  var dor: array<vec, ${n}>;
  var dq: array<vec, ${n}>;
  for (var c = 0u; c < vectors(); c++) { qr[c] = q[q_row + c] * p.scale2; dor[c] = g_out[q_row + c]; }
  let st = stats[stat];
  for (var j0 = 0u; j0 < tile_end; j0 += TILE_COLUMNS) {
    ${WGSL_STAGE_KEYS}
    for (var u = 0u; u < count; u++) {
      var s = 0.0;
      var dp = 0.0;
      for (var c = 0u; c < vectors(); c++) {
        s += vdot(qr[c], k_tile[u * VECTORS + c]);
        dp += vdot(dor[c], v_tile[u * VECTORS + c]);
      }
      // an empty row's lse is -inf, but none of its keys is real
      let ds = select(0.0, exp2(s - st.x), real_tile[u] != 0u) * (dp - st.y);
      for (var c = 0u; c < vectors(); c++) { dq[c] = fma(vec(ds), k_tile[u * VECTORS + c], dq[c]); }
    }
  }
  if (r < rows) {
    for (var c = 0u; c < vectors(); c++) { g_q[q_row + c] = dq[c] * p.scale; }
  }
}`;
}

/** dK = scale · Σ_t dS_tj q_t and dV = Σ_t P_tj dO_t, per key row over tiles of the group's query rows. */
function dkdvSource(D: number, rolled: boolean): string {
  const n = D % 4 === 0 ? D / 4 : D;
  return /* wgsl */ `${prelude(D, rolled, ['q_tile', 'o_tile'])}
${bindings(['q read array<vec>', 'k read array<vec>', 'v read array<vec>', 'key_mask read array<f32>', 'g_out read array<vec>', 'stats read array<vec2<f32>>', 'g_k read_write array<vec>', 'g_v read_write array<vec>'])}
var<workgroup> stats_tile: array<vec2<f32>, TILE_COLUMNS>;
${WGSL_KEY_REAL}

@compute @workgroup_size(TILE_ROWS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${WGSL_TILE_PLACE}
  let j = block * TILE_ROWS + lid;
  let jr = min(j, p.S - 1u);
  let real = key_real(b, j);
  let kv_row = ((b * p.cap + jr) * p.Hkv + g) * VECTORS;
  var kr: array<vec, ${n}>;
  var vr: array<vec, ${n}>;
  var dk: array<vec, ${n}>;
  var dv: array<vec, ${n}>;
  for (var c = 0u; c < vectors(); c++) { kr[c] = k[kv_row + c] * p.scale2; vr[c] = v[kv_row + c]; }
  // query rows (t, head of the group) from the first t that sees the tile's first key
  let rows = p.T * p.G;
  let first_key = block * TILE_ROWS;
  let t_begin = select(0u, first_key - (p.S - p.T), p.causal != 0u && first_key > p.S - p.T);
  for (var r0 = min(t_begin, p.T) * p.G; r0 < rows; r0 += TILE_COLUMNS) {
    workgroupBarrier(); // the previous tile is consumed
    for (var i = lid; i < TILE_COLUMNS * vectors(); i += TILE_ROWS) {
      let rr = min(r0 + i / VECTORS, rows - 1u);
      let at = ((b * p.T + rr / p.G) * p.H + g * p.G + rr % p.G) * VECTORS + i % VECTORS;
      q_tile[i] = q[at];
      o_tile[i] = g_out[at];
    }
    if (lid < TILE_COLUMNS) {
      let rr = min(r0 + lid, rows - 1u);
      stats_tile[lid] = stats[(b * p.H + g * p.G + rr % p.G) * p.T + rr / p.G];
    }
    workgroupBarrier();
    for (var u = 0u; u < min(TILE_COLUMNS, rows - r0); u++) {
      let t = (r0 + u) / p.G;
      var s = 0.0;
      var dp = 0.0;
      for (var c = 0u; c < vectors(); c++) {
        s += vdot(kr[c], q_tile[u * VECTORS + c]);
        dp += vdot(vr[c], o_tile[u * VECTORS + c]);
      }
      let st = stats_tile[u];
      let pr = select(0.0, exp2(s - st.x), real && (p.causal == 0u || j <= t + p.S - p.T));
      let ds = pr * (dp - st.y);
      for (var c = 0u; c < vectors(); c++) {
        dv[c] = fma(vec(pr), o_tile[u * VECTORS + c], dv[c]);
        dk[c] = fma(vec(ds), q_tile[u * VECTORS + c], dk[c]);
      }
    }
  }
  if (j < p.S) {
    let grad_row = ((b * p.S + j) * p.Hkv + g) * VECTORS;
    for (var c = 0u; c < vectors(); c++) { g_k[grad_row + c] = dk[c] * p.scale; g_v[grad_row + c] = dv[c]; }
  }
}`;
}

/** attention.ts's backward as tiles: gq, gk and gv written; bindings as for attentionTileGpu, plus `stats` (2 floats per query row). */
export function attentionTileBackwardGpu(
  gpu: Gpu, q: Binding, k: Binding, v: Binding, keyMask: Binding, out: Binding, lse: Binding, gOut: Binding,
  stats: Binding, gq: Binding, gk: Binding, gv: Binding, s: AttentionShape, masked: boolean, rolled = gpu.isSoftware,
): void {
  const rows = s.B * s.H * s.T;
  const statsPipe = gpu.pipeline(`attention-tile-stats-${key(s, rolled)}`, () => statsSource(s.D, rolled));
  gpu.dispatch(statsPipe, [out, gOut, lse, stats], params(s, masked, 1), Math.ceil(rows / TILE_ROWS));
  const inputs = [q, k, v, keyMask, gOut, stats];
  const dq = gpu.pipeline(`attention-tile-dq-${key(s, rolled)}`, () => dqSource(s.D, rolled));
  gpu.dispatch(dq, [...inputs, gq], params(s, masked, queryBlocks(s)), s.B * s.Hkv * queryBlocks(s));
  const keyBlocks = Math.ceil(s.S / TILE_ROWS);
  const dkdv = gpu.pipeline(`attention-tile-dkdv-${key(s, rolled)}`, () => dkdvSource(s.D, rolled));
  gpu.dispatch(dkdv, [...inputs, gk, gv], params(s, masked, keyBlocks), s.B * s.Hkv * keyBlocks);
}
