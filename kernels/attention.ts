// Fused scaled-dot-product attention (flash-style), forward and backward, with grouped-query
// heads, causal masking, key-padding masks with holes and a KV cache larger than the keys used.
// The forward keeps a running (max, sum, acc) per query and saves the log-sum-exp: memory O(T)
// per head. The backward recomputes P from it, with D_i = rowsum(dO ∘ O) precomputed, in one
// pass over the queries per block of keys: dK and dV accumulate in registers, and each block's
// share of dQ (from the k rows it holds) goes to a buffer of key blocks × dQ that a reduce
// kernel sums (no float atomics in WGSL). Past a size cap, dQ instead takes its own pass over
// the keys per block of queries and memory stays O(T). Decode (few queries, long cache) splits
// the keys over workgroups and merges the partial (max, sum, acc) in a second dispatch.
// Why this layout: on lavapipe a storage load with a computed address is a per-lane loop, and
// subgroupMax/Add a branch per lane, while subgroupShuffle is one instruction; so each load
// fetches vectors every lane uses, data moves between lanes only by shuffles, and the forward
// rescales its accumulators only when a score passes the running max by more than SLACK.
// Versions and timings: bench/NOTES.md.

import { WGSL_GROUP_INDEX, f32bits, type Binding, type Gpu } from './gpu.js';

export interface AttentionShape {
  B: number;
  /** queries per batch row */
  T: number;
  /** keys/values visible (S >= T when causal) */
  S: number;
  /** query heads; head h reads key/value head floor(h / (H / Hkv)) */
  H: number;
  Hkv: number;
  /** head dim (up to 128) */
  D: number;
  /** usually 1/sqrt(D) */
  scale: number;
  /** query t sits at absolute position t + (S - T) and sees keys j <= that */
  causal: boolean;
  /** rows allocated per batch in k/v (a KV cache); default S */
  kvCapacity?: number;
}

// ---------------------------------------------------------------------------------------------
// CPU reference

/** Whether query t of batch row b sees key j. */
function visible(s: AttentionShape, keyMask: Float64Array | null, b: number, t: number, j: number): boolean {
  if (keyMask && keyMask[b * s.S + j] === 0) return false;
  return !s.causal || j <= t + s.S - s.T;
}

/** Visits every (b, t, h) query with the offsets of its q/out row, its k/v rows and its lse slot. */
function forEachQuery(s: AttentionShape, visit: (b: number, t: number, qRow: number, kvHead: number, lseAt: number) => void): void {
  const group = s.H / s.Hkv;
  for (let b = 0; b < s.B; b++) {
    for (let t = 0; t < s.T; t++) {
      for (let h = 0; h < s.H; h++) visit(b, t, ((b * s.T + t) * s.H + h) * s.D, Math.floor(h / group), (b * s.H + h) * s.T + t);
    }
  }
}

function kvRow(s: AttentionShape, b: number, j: number, kvHead: number): number {
  return ((b * (s.kvCapacity ?? s.S) + j) * s.Hkv + kvHead) * s.D;
}

function dot(x: Float64Array, xAt: number, y: Float64Array, yAt: number, n: number): number {
  let sum = 0;
  for (let d = 0; d < n; d++) sum += x[xAt + d] * y[yAt + d];
  return sum;
}

export function attentionCpu(
  q: Float64Array, k: Float64Array, v: Float64Array, keyMask: Float64Array | null,
  out: Float64Array, lse: Float64Array, s: AttentionShape,
): void {
  const scores = new Float64Array(s.S);
  forEachQuery(s, (b, t, qRow, g, lseAt) => {
    let top = -Infinity;
    for (let j = 0; j < s.S; j++) {
      scores[j] = visible(s, keyMask, b, t, j) ? s.scale * dot(q, qRow, k, kvRow(s, b, j, g), s.D) : -Infinity;
      top = Math.max(top, scores[j]);
    }
    out.fill(0, qRow, qRow + s.D);
    if (top === -Infinity) {
      lse[lseAt] = -Infinity;
      return;
    }
    let total = 0;
    for (let j = 0; j < s.S; j++) {
      if (scores[j] === -Infinity) continue;
      const weight = Math.exp(scores[j] - top);
      total += weight;
      const vAt = kvRow(s, b, j, g);
      for (let d = 0; d < s.D; d++) out[qRow + d] += weight * v[vAt + d];
    }
    for (let d = 0; d < s.D; d++) out[qRow + d] /= total;
    lse[lseAt] = top + Math.log(total);
  });
}

/**
 * Gradients of attention, written (not accumulated): gq [B,T,H,D], gk and gv [B,S,Hkv,D].
 * P is recomputed from lse; dS = P ∘ (dP − rowsum(dO ∘ O)).
 */
export function attentionBackwardCpu(
  q: Float64Array, k: Float64Array, v: Float64Array, keyMask: Float64Array | null,
  out: Float64Array, lse: Float64Array, gOut: Float64Array,
  gq: Float64Array, gk: Float64Array, gv: Float64Array, s: AttentionShape,
): void {
  const D = s.D;
  gq.fill(0, 0, s.B * s.T * s.H * D);
  gk.fill(0, 0, s.B * s.S * s.Hkv * D);
  gv.fill(0, 0, s.B * s.S * s.Hkv * D);
  forEachQuery(s, (b, t, qRow, g, lseAt) => {
    const rowDot = dot(gOut, qRow, out, qRow, D);
    for (let j = 0; j < s.S; j++) {
      if (!visible(s, keyMask, b, t, j)) continue;
      const kvAt = kvRow(s, b, j, g);
      const gradAt = ((b * s.S + j) * s.Hkv + g) * D;
      const prob = Math.exp(s.scale * dot(q, qRow, k, kvAt, D) - lse[lseAt]);
      const dScore = prob * (dot(gOut, qRow, v, kvAt, D) - rowDot) * s.scale;
      for (let d = 0; d < D; d++) {
        gq[qRow + d] += dScore * k[kvAt + d];
        gk[gradAt + d] += dScore * q[qRow + d];
        gv[gradAt + d] += prob * gOut[qRow + d];
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// WGSL pieces shared by the kernels
//
// A workgroup is one subgroup of L lanes working on R "rows" (queries in the forward and dQ
// kernels, keys in the dK/dV kernel) against a stream of "columns" (keys, or queries). Rows
// live spread over the lanes: lane ℓ holds vectors ℓ, ℓ + L, ... of each row. Two loops
// alternate per block of L columns:
//   dot loop:        lane ℓ takes column ℓ; vector c of each row comes round by shuffle;
//   accumulate loop: lane ℓ takes vectors ℓ, ℓ + L, ... of each column; the column's weight
//                    comes round by shuffle.
// So every load fetches L useful vectors, accumulators stay exact (no per-lane partials), and
// the loops stay loops: llvmpipe expands each load site into a branch per lane and component,
// and unrolled kernels took minutes to compile.

/** One specialization of the head dim: vec4 rows when D % 4 == 0, else scalar. */
interface Layout {
  D: number;
  width: 1 | 4;
  /** vectors per head row */
  n: number;
  /** invocations per workgroup: the adapter's subgroup size */
  lanes: number;
}

function layoutOf(gpu: Gpu, D: number): Layout {
  const width = D % 4 === 0 ? 4 : 1;
  return { D, width, n: D / width, lanes: laneCount(gpu) };
}

/** The subgroup size every kernel here assumes for its workgroup (one subgroup per workgroup). */
function laneCount(gpu: Gpu): number {
  const lanes = gpu.info.subgroupMinSize;
  if (!gpu.features.has('subgroups') || !lanes) throw new Error('attention kernels need the WebGPU "subgroups" feature');
  return lanes;
}

function layoutKey(l: Layout): string {
  return `d${l.D}-l${l.lanes}`;
}

function wgslKit(l: Layout): string {
  return /* wgsl */ `
enable subgroups;
// the forward branches on a subgroup-wide value (the lanes agree, the analysis cannot know it)
diagnostic(off, subgroup_uniformity);
alias vec = ${l.width === 4 ? 'vec4<f32>' : 'f32'};
// Masked scores use a finite floor so that exp2 of differences never meets inf - inf.
const FLOOR = -1e30;
// How far (log2 units) the forward's running max may lag the scores before it is raised
const SLACK = 8.0;
const LOG2E = 1.4426950408889634;
const LN2 = 0.6931471805599453;
${WGSL_GROUP_INDEX}
fn neg_inf() -> f32 {
  var bits = 0xff800000u; // a runtime value: -inf is not a WGSL constant
  return bitcast<f32>(bits);
}
// Butterflies of shuffles: llvmpipe turns a shuffle into one permute, but subgroupMax/Add into a
// branch per lane.
fn lane_max(x: f32) -> f32 {
  var y = x;
  ${butterfly(l.lanes, 'y = max(y, subgroupShuffleXor(y, STEP));')}
  return y;
}
fn lane_sum(x: f32) -> f32 {
  var y = x;
  ${butterfly(l.lanes, 'y += subgroupShuffleXor(y, STEP);')}
  return y;
}`;
}

function butterfly(lanes: number, step: string): string {
  const lines: string[] = [];
  for (let d = lanes / 2; d >= 1; d /= 2) lines.push(step.replace('STEP', `${d}u`));
  return lines.join(' ');
}

function spreadRegs(l: Layout): number {
  return Math.ceil(l.n / l.lanes);
}

function each(n: number, line: (i: number) => string, sep = '\n  '): string {
  return Array.from({ length: n }, (_, i) => line(i)).join(sep);
}

/** Declares spread row `name_0 ...` from `array[base ...]`; lanes past the row's end hold zeros. */
function loadSpread(l: Layout, name: string, array: string, base: string, scale = ''): string {
  return each(spreadRegs(l), (m) => {
    const load = `${array}[${base} + min(${m * l.lanes}u + lane, ${l.n - 1}u)]${scale}`;
    const value = (m + 1) * l.lanes <= l.n ? load : `select(vec(0.0), ${load}, ${m * l.lanes}u + lane < ${l.n}u)`;
    return `let ${name}_${m} = ${value};`;
  }, ' ');
}

function zeroSpread(l: Layout, name: string): string {
  return each(spreadRegs(l), (m) => `var ${name}_${m} = vec(0.0);`, ' ');
}

/** Stores spread row `name`: every lane writes its own vectors. */
function storeSpread(l: Layout, name: string, array: string, base: string, scale = ''): string {
  return each(spreadRegs(l), (m) => {
    const store = `${array}[${base} + ${m * l.lanes}u + lane] = ${name}_${m}${scale};`;
    return (m + 1) * l.lanes <= l.n ? store : `if (${m * l.lanes}u + lane < ${l.n}u) { ${store} }`;
  }, ' ');
}

interface DotTerm {
  /** the column array and the spread rows dotted with it: `acc_i += row_i · array[base + c]` */
  array: string;
  rows: string[];
  accs: string[];
}

/** The dot loop: lane ℓ's column starts at `base` in each term's array. */
function dotLoop(l: Layout, base: string, terms: DotTerm[]): string {
  // acc += a · b as a chain of fma (dot() would multiply and add separately)
  const dotInto = (acc: string, a: string, b: string) => (l.width === 4
    ? `{ let x = ${a}; ${acc} = fma(x.x, ${b}.x, fma(x.y, ${b}.y, fma(x.z, ${b}.z, fma(x.w, ${b}.w, ${acc})))); }`
    : `${acc} = fma(${a}, ${b}, ${acc});`);
  // one loop per spread register, so that vector c of a row is a single shuffle; the bounds are
  // runtime values so that the compiler keeps the loops
  return each(spreadRegs(l), (m) => `for (var c = 0u; c < min(p.lanes, p.vectors - ${m * l.lanes}u); c++) {
      ${terms.map((t) => `{
        let col = ${t.array}[${base} + ${m * l.lanes}u + c];
        ${t.rows.map((row, i) => dotInto(t.accs[i], `subgroupShuffle(${row}_${m}, c)`, 'col')).join('\n        ')}
      }`).join('\n      ')}
    }`, '\n    ');
}

interface AccumulateTerm {
  /** `acc_i += weight_i(column u) * array[column u's row]`, weights being per-lane values */
  array: string;
  weights: string[];
  accs: string[];
}

/** The accumulate loop over the block's `count` columns; `rowBase` gives column u's row start. */
function accumulateLoop(l: Layout, count: string, rowBase: (u: string) => string, terms: AccumulateTerm[]): string {
  return `for (var u = 0u; u < ${count}; u++) {
      let base = ${rowBase('u')};
      ${terms.map((t) => `{
        ${loadSpread(l, 'col', t.array, 'base')}
        ${t.weights.map((w, i) => `{ let w = vec(subgroupShuffle(${w}, u)); ${each(spreadRegs(l), (m) => `${t.accs[i]}_${m} = fma(w, col_${m}, ${t.accs[i]}_${m});`, ' ')} }`).join('\n        ')}
      }`).join('\n      ')}
    }`;
}

/**
 * Declares spread rows `name{r}` for r < R, filled by a loop over the first `count` rows (a
 * runtime bound): one load site per register instead of R, and rows past `count` stay zero.
 */
function loadRows(l: Layout, R: number, count: string, name: string, array: string, baseOf: (i: string) => string, scale = ''): string {
  return `${each(R, (r) => zeroSpread(l, `${name}${r}`), ' ')}
  for (var i = 0u; i < ${count}; i++) {
    ${loadSpread(l, 'row', array, baseOf('i'), scale)}
    ${each(R, (r) => each(spreadRegs(l), (m) => `${name}${r}_${m} = select(${name}${r}_${m}, row_${m}, i == ${r}u);`, ' '), '\n    ')}
  }`;
}

/**
 * Stores spread rows `name{r}` for the first `count` rows, times `scale`: an expression, or with
 * `perRow` the prefix of per-row scalars `scale{r}`.
 */
function storeRows(l: Layout, R: number, count: string, name: string, array: string, baseOf: (i: string) => string, scale = '', perRow = false): string {
  const term = (r: number, m: number) => `${name}${r}_${m}${scale && ` * ${perRow ? `${scale}${r}` : scale}`}`;
  const pick = (m: number) => {
    let x = term(0, m);
    for (let r = 1; r < R; r++) x = `select(${x}, ${term(r, m)}, i == ${r}u)`;
    return x;
  };
  return `for (var i = 0u; i < ${count}; i++) {
    let base = ${baseOf('i')};
    ${each(spreadRegs(l), (m) => `let row_${m} = ${pick(m)};`, ' ')}
    ${storeSpread(l, 'row', array, 'base')}
  }`;
}

/** Declares `name = prefix{i}` for the runtime row index i, for each [name, prefix]. */
function pickRow(R: number, pairs: [string, string][]): string {
  return pairs.map(([name, prefix]) => {
    let x = `${prefix}0`;
    for (let r = 1; r < R; r++) x = `select(${x}, ${prefix}${r}, i == ${r}u)`;
    return `let ${name} = ${x};`;
  }).join(' ');
}

/**
 * The workgroup index, with grid overshoot redoing the last group (same values written twice)
 * rather than returning: code after a conditional return runs under an execution mask.
 */
function lastGroup(count: string): string {
  return `min(group_index(wid, nwg), ${count} - 1u)`;
}

/** A storage binding: name, access, WGSL type. */
type Bound = [string, 'read' | 'read_write', string];

/** Storage bindings from 1 in order. */
function bindings(list: Bound[]): string {
  return list.map(([name, access, type], i) => `@group(0) @binding(${i + 1}) var<storage, ${access}> ${name}: ${type};`).join('\n');
}

/** The forward and backward row kernels' header: the kit, Params, storage bindings, key masking. */
function rowKernelHeader(l: Layout, list: Bound[]): string {
  return `${wgslKit(l)}
struct Params { ${ROW_PARAMS} }
@group(0) @binding(0) var<uniform> p: Params;
${bindings(list)}
${WGSL_KEY_REAL}`;
}

/** prefix0 … prefix{R-1}: one name per row a workgroup owns. */
function rowNames(prefix: string, R: number): string[] {
  return Array.from({ length: R }, (_, i) => `${prefix}${i}`);
}

/** The flat index expression of query row i of this workgroup's block of R. */
function queryRow(R: number): (i: string) => string {
  return (i) => `query_row(b, g, block, ${R}u, ${i})`;
}

/**
 * Params shared by the row kernels. `causal` and `masked` are runtime flags (fewer pipelines);
 * `vectors`, `lanes` and `rows` repeat the specialization as runtime values, because loops
 * whose trip count the compiler cannot bound stay rolled (every unrolled load site costs a
 * compile-time branch per lane and component).
 */
const ROW_PARAMS = `B: u32, T: u32, S: u32, H: u32, Hkv: u32, G: u32, cap: u32, vectors: u32, lanes: u32, rows: u32,
  causal: u32, masked: u32, blocks: u32, chunks: u32, chunk_keys: u32, scale2: f32, scale: f32`;

function rowParams(s: AttentionShape, l: Layout, R: number, masked: boolean, blocks: number, chunks: number, chunkKeys: number): number[] {
  return [
    s.B, s.T, s.S, s.H, s.Hkv, s.H / s.Hkv, s.kvCapacity ?? s.S, l.n, l.lanes, R, s.causal ? 1 : 0, masked ? 1 : 0,
    blocks, chunks, chunkKeys, f32bits(s.scale * Math.LOG2E), f32bits(s.scale),
  ];
}

/** Whether key j of batch row b is a real key (the mask binding holds something else when unmasked). */
const WGSL_KEY_REAL = /* wgsl */ `
fn key_real(b: u32, j: u32) -> bool { return p.masked == 0u || key_mask[select(0u, b * p.S + j, p.masked != 0u)] != 0.0; }`;

/** WGSL placing workgroups over (b, g, block of R query rows, key chunk), with row helpers. */
function queryBlock(R: number): string {
  return `var wg = ${lastGroup('p.B * p.Hkv * p.blocks * p.chunks')};
  let chunk = wg % p.chunks; wg /= p.chunks;
  let block = wg % p.blocks; wg /= p.blocks;
  let g = wg % p.Hkv;
  let b = wg / p.Hkv;
  // row r of this (b, g) is query t = r / G of head g * G + r % G; rows past the end repeat the last
  let rows = p.T * p.G;
  let count = min(p.rows, rows - block * ${R}u);
  ${each(R, (i) => `let t${i} = min(block * ${R}u + ${i}u, rows - 1u) / p.G;`, ' ')}`;
}

const WGSL_QUERY_ROW = /* wgsl */ `
/** The q/out row (b, t, h) of row i of a query block, and its lse slot [b, h, t]. */
fn query_row(b: u32, g: u32, block: u32, rows_per_block: u32, i: u32) -> vec2<u32> {
  let r = block * rows_per_block + i;
  let t = r / p.G;
  let h = g * p.G + r % p.G;
  return vec2((b * p.T + t) * p.H + h, (b * p.H + h) * p.T + t);
}`;

/** The last key any of the block's queries sees, plus one. */
function keysSeen(R: number): string {
  return `select(p.S, t${R - 1} + p.S - p.T + 1u, p.causal != 0u)`;
}

function seenBy(t: string): string {
  return `(p.causal == 0u || j <= ${t} + p.S - p.T)`;
}

// ---------------------------------------------------------------------------------------------
// Forward

interface ForwardSpec {
  l: Layout;
  /** query rows (query, head-of-group pairs) per workgroup */
  rows: number;
  /** keys split over workgroups: write unnormalized partials for the combine kernel */
  split: boolean;
}

function forwardSource(f: ForwardSpec): string {
  const { l, rows: R } = f;
  const L = l.lanes;
  const rowsOf = (prefix: string) => rowNames(prefix, R);
  const row = queryRow(R);
  return /* wgsl */ `${rowKernelHeader(l, [
    ['q', 'read', 'array<vec>'], ['k', 'read', 'array<vec>'], ['v', 'read', 'array<vec>'], ['key_mask', 'read', 'array<f32>'],
    ['out', 'read_write', 'array<vec>'], ['lse', 'read_write', 'array<f32>'],
  ])}
${WGSL_QUERY_ROW}

@compute @workgroup_size(${L})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  ${queryBlock(R)}
  ${loadRows(l, R, 'count', 'q', 'q', (i) => `${row(i)}.x * ${l.n}u`, ' * p.scale2')}
  ${each(R, (i) => `var m${i} = FLOOR; var l${i} = 0.0; ${zeroSpread(l, `a${i}`)}`)}
  let k_begin = chunk * p.chunk_keys;
  let k_end = min(${keysSeen(R)}, k_begin + p.chunk_keys);
  for (var j0 = k_begin; j0 < k_end; j0 += ${L}u) {
    let j = j0 + lane;
    let jr = min(j, p.S - 1u);
    let live = j < k_end && key_real(b, jr);
    ${each(R, (i) => `var s${i} = 0.0;`, ' ')}
    ${dotLoop(l, `((b * p.cap + jr) * p.Hkv + g) * ${l.n}u`, [{ array: 'k', rows: rowsOf('q'), accs: rowsOf('s') }])}
    // online softmax: the lanes share each row's running max, which may lag the true one by
    // up to SLACK (weights stay below 2^SLACK); the rescaling (a butterfly, an exp2 and the
    // accumulators' multiplies, every row) runs only when some score passes its row's max by more
    ${each(R, (i) => `let seen${i} = live && ${seenBy(`t${i}`)}; let sc${i} = select(FLOOR, s${i}, seen${i});`, '\n    ')}
    var grow = false;
    ${each(R, (i) => `grow = grow | (sc${i} > m${i} + SLACK);`, ' ')}
    if (lane_max(select(0.0, 1.0, grow)) > 0.0) {
      ${each(R, (i) => `let top${i} = max(m${i}, lane_max(sc${i})); let rescale${i} = exp2(m${i} - top${i}); m${i} = top${i}; l${i} *= rescale${i}; ${each(spreadRegs(l), (m) => `a${i}_${m} *= rescale${i};`, ' ')}`, '\n      ')}
    }
    ${each(R, (i) => `let w${i} = select(0.0, exp2(sc${i} - m${i}), seen${i}); l${i} += w${i};`, '\n    ')}
    ${accumulateLoop(l, 'min(p.lanes, k_end - j0)', (u) => `((b * p.cap + j0 + ${u}) * p.Hkv + g) * ${l.n}u`, [{ array: 'v', weights: rowsOf('w'), accs: rowsOf('a') }])}
  }
  ${each(R, (i) => `let total${i} = lane_sum(l${i});`, ' ')}
  ${f.split
    ? `${storeRows(l, R, 'count', 'a', 'out', (i) => `(${row(i)}.x * p.chunks + chunk) * ${l.n}u`)}
  for (var i = 0u; i < count; i++) {
    let slot = ${row('i')}.x * p.chunks + chunk;
    ${pickRow(R, [['top', 'm'], ['total', 'total']])}
    if (lane < 2u) { lse[slot * 2u + lane] = select(top, total, lane == 1u); }
  }`
    : `${each(R, (i) => `let inv${i} = select(0.0, 1.0 / total${i}, total${i} > 0.0);`, ' ')}
  ${storeRows(l, R, 'count', 'a', 'out', (i) => `${row(i)}.x * ${l.n}u`, 'inv', true)}
  for (var i = 0u; i < count; i++) {
    ${pickRow(R, [['top', 'm'], ['total', 'total']])}
    if (lane == 0u) { lse[${row('i')}.y] = select(neg_inf(), (top + log2(total)) * LN2, total > 0.0); }
  }`}
}`;
}

/** Merges the per-chunk partials of a split forward: one invocation per output vector. */
function combineSource(l: Layout): string {
  return /* wgsl */ `${wgslKit(l)}
struct Params { rows: u32, T: u32, H: u32, chunks: u32 }
@group(0) @binding(0) var<uniform> p: Params;
${bindings([['part', 'read', 'array<vec>'], ['part_stats', 'read', 'array<f32>'], ['out', 'read_write', 'array<vec>'], ['lse', 'read_write', 'array<f32>']])}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = min(group_index(wid, nwg) * 64u + lid, p.rows * ${l.n}u - 1u);
  let row = i / ${l.n}u;
  let c = i % ${l.n}u;
  var top = FLOOR;
  for (var ch = 0u; ch < p.chunks; ch++) { top = max(top, part_stats[(row * p.chunks + ch) * 2u]); }
  var total = 0.0;
  var acc = vec(0.0);
  for (var ch = 0u; ch < p.chunks; ch++) {
    let slot = row * p.chunks + ch;
    let w = exp2(part_stats[slot * 2u] - top);
    total += part_stats[slot * 2u + 1u] * w;
    acc += part[slot * ${l.n}u + c] * w;
  }
  out[i] = acc * select(0.0, 1.0 / total, total > 0.0);
  if (c == 0u) {
    // row = (b * T + t) * H + h; lse is [B, H, T]
    let t = (row / p.H) % p.T;
    let bh = (row / (p.H * p.T)) * p.H + row % p.H;
    lse[bh * p.T + t] = select(neg_inf(), (top + log2(total)) * LN2, total > 0.0);
  }
}`;
}

/**
 * Rows per workgroup: each load serves every row, so more rows mean fewer loads per FLOP, until
 * the spread rows and accumulators (a few registers per row) spill too much.
 */
function maxRows(l: Layout): number {
  return Math.min(32, 64 / spreadRegs(l));
}

/** Split the keys over workgroups only when there are fewer groups than this... */
const SPLIT_BELOW_GROUPS = 8;
/** ...and never into chunks shorter than this many keys (the merge costs a dispatch). */
const MIN_CHUNK_KEYS = 256;

/**
 * The first `floats` floats of `buffer`: pool buffers can be larger than the tensor, even past
 * the binding limit the tensor itself respects.
 */
function range(gpu: Gpu, buffer: GPUBuffer, floats: number): Binding {
  const size = Math.min(buffer.size, Math.max(16, Math.ceil(floats / 4) * 16));
  const limit = gpu.limits.maxStorageBufferBindingSize;
  if (size > limit) throw new Error(`attention: a tensor of ${floats} floats exceeds one storage binding (${limit} bytes)`);
  return { buffer, offset: 0, size };
}

/** The tensors of a launch, bound to their exact sizes. */
function tensors(gpu: Gpu, s: AttentionShape) {
  const [query, kv, grad] = [s.B * s.T * s.H * s.D, s.B * (s.kvCapacity ?? s.S) * s.Hkv * s.D, s.B * s.S * s.Hkv * s.D];
  return {
    query: (b: GPUBuffer) => range(gpu, b, query),
    kv: (b: GPUBuffer) => range(gpu, b, kv),
    kvGrad: (b: GPUBuffer) => range(gpu, b, grad),
    rowScalars: (b: GPUBuffer, perRow = 1) => range(gpu, b, s.B * s.H * s.T * perRow),
    // an unmasked launch binds q where the mask would be: the kernels then never read it
    mask: (b: GPUBuffer | null, q: GPUBuffer) => (b ? range(gpu, b, s.B * s.S) : range(gpu, q, 1)),
  };
}

/** Few row counts, so that few pipelines get compiled: one row (decode), a few, or many. */
function rowsPerGroup(rows: number, most: number): number {
  return rows <= 1 ? 1 : rows <= 4 ? 4 : most;
}

export function attentionGpu(
  gpu: Gpu, q: GPUBuffer, k: GPUBuffer, v: GPUBuffer, keyMask: GPUBuffer | null,
  out: GPUBuffer, lse: GPUBuffer, s: AttentionShape,
): void {
  const l = layoutOf(gpu, s.D);
  const G = s.H / s.Hkv;
  const R = rowsPerGroup(s.T * G, maxRows(l));
  const blocks = Math.ceil((s.T * G) / R);
  const groups = s.B * s.Hkv * blocks;
  const chunks = Math.max(1, Math.min(Math.ceil(SPLIT_BELOW_GROUPS / groups), Math.floor(s.S / MIN_CHUNK_KEYS)));
  const chunkKeys = Math.ceil(s.S / chunks / l.lanes) * l.lanes;
  const split = chunks > 1;
  const spec: ForwardSpec = { l, rows: R, split };
  const pipe = gpu.pipeline(`attention-fwd-${layoutKey(l)}-r${R}${split ? '-split' : ''}`, () => forwardSource(spec));
  const params = rowParams(s, l, R, keyMask !== null, blocks, chunks, chunkKeys);
  const t = tensors(gpu, s);
  const inputs = [t.query(q), t.kv(k), t.kv(v), t.mask(keyMask, q)];
  if (!split) {
    gpu.dispatch(pipe, [...inputs, t.query(out), t.rowScalars(lse)], params, groups);
    return;
  }
  const rows = s.B * s.T * s.H;
  const part = gpu.pool.acquire(rows * chunks * s.D * 4);
  const partStats = gpu.pool.acquire(rows * chunks * 2 * 4);
  const parts = [range(gpu, part, rows * chunks * s.D), t.rowScalars(partStats, 2 * chunks)];
  gpu.dispatch(pipe, [...inputs, ...parts], params, groups * chunks);
  const combine = gpu.pipeline(`attention-combine-${layoutKey(l)}`, () => combineSource(l));
  gpu.dispatch(combine, [...parts, t.query(out), t.rowScalars(lse)], [rows, s.T, s.H, chunks], Math.ceil((rows * l.n) / 64));
  gpu.pool.release(part);
  gpu.pool.release(partStats);
}

// ---------------------------------------------------------------------------------------------
// Backward: row statistics, then dQ (rows = queries), then dK/dV (rows = keys)

/** stats[row] = (lse · log2 e, rowsum(dO ∘ O)) for each query row in lse order [B, H, T]. */
function rowStatsSource(l: Layout): string {
  return /* wgsl */ `${wgslKit(l)}
struct Params { rows: u32, T: u32, H: u32, vectors: u32 }
@group(0) @binding(0) var<uniform> p: Params;
${bindings([['out', 'read', 'array<vec>'], ['g_out', 'read', 'array<vec>'], ['lse', 'read', 'array<f32>'], ['stats', 'read_write', 'array<f32>']])}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = min(group_index(wid, nwg) * 64u + lid, p.rows - 1u);
  let t = i % p.T;
  let bh = i / p.T;
  let base = (((bh / p.H) * p.T + t) * p.H + bh % p.H) * ${l.n}u;
  var acc = vec(0.0);
  for (var c = 0u; c < p.vectors; c++) { acc = fma(out[base + c], g_out[base + c], acc); }
  stats[2u * i] = lse[i] * LOG2E;
  stats[2u * i + 1u] = ${l.width === 4 ? 'dot(acc, vec4(1.0))' : 'acc'};
}`;
}

function dqSource(l: Layout, R: number): string {
  const L = l.lanes;
  const rowsOf = (prefix: string) => rowNames(prefix, R);
  const row = queryRow(R);
  return /* wgsl */ `${rowKernelHeader(l, [
    ['q', 'read', 'array<vec>'], ['k', 'read', 'array<vec>'], ['v', 'read', 'array<vec>'], ['key_mask', 'read', 'array<f32>'],
    ['g_out', 'read', 'array<vec>'], ['stats', 'read', 'array<f32>'], ['g_q', 'read_write', 'array<vec>'],
  ])}
${WGSL_QUERY_ROW}

@compute @workgroup_size(${L})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  ${queryBlock(R)}
  ${loadRows(l, R, 'count', 'q', 'q', (i) => `${row(i)}.x * ${l.n}u`, ' * p.scale2')}
  ${loadRows(l, R, 'count', 'o', 'g_out', (i) => `${row(i)}.x * ${l.n}u`)}
  // lane ℓ reads rows ℓ, ℓ + ${L}, ...'s (lse, delta); shuffles hand them round
  ${each(Math.ceil(R / L), (m) => `let own${m} = 2u * ${row(`min(${m * L}u + lane, count - 1u)`)}.y; let own_lse${m} = stats[own${m}]; let own_delta${m} = stats[own${m} + 1u];`)}
  ${each(R, (i) => `let lse${i} = subgroupShuffle(own_lse${Math.floor(i / L)}, ${i % L}u); let delta${i} = subgroupShuffle(own_delta${Math.floor(i / L)}, ${i % L}u); ${zeroSpread(l, `dq${i}`)}`)}
  let k_end = ${keysSeen(R)};
  for (var j0 = 0u; j0 < k_end; j0 += ${L}u) {
    let j = j0 + lane;
    let jr = min(j, p.S - 1u);
    let live = j < k_end && key_real(b, jr);
    ${each(R, (i) => `var s${i} = 0.0; var dp${i} = 0.0;`, ' ')}
    ${dotLoop(l, `((b * p.cap + jr) * p.Hkv + g) * ${l.n}u`, [
    { array: 'k', rows: rowsOf('q'), accs: rowsOf('s') },
    { array: 'v', rows: rowsOf('o'), accs: rowsOf('dp') },
  ])}
    ${each(R, (i) => `let ds${i} = select(0.0, exp2(s${i} - lse${i}), live && ${seenBy(`t${i}`)}) * (dp${i} - delta${i});`, '\n    ')}
    ${accumulateLoop(l, 'min(p.lanes, k_end - j0)', (u) => `((b * p.cap + j0 + ${u}) * p.Hkv + g) * ${l.n}u`, [{ array: 'k', weights: rowsOf('ds'), accs: rowsOf('dq') }])}
  }
  ${storeRows(l, R, 'count', 'dq', 'g_q', (i) => `${row(i)}.x * ${l.n}u`, 'p.scale')}
}`;
}

/**
 * dK and dV for a block of R keys, streaming the queries. With `dqShares`, also dQ's share from
 * these keys, Σ_r dS(t, r) k_r per query, from the k rows already in registers: written to
 * slice `block` of dq_part for the reduce kernel, so that dQ costs no second pass over the keys.
 */
function dkdvSource(l: Layout, R: number, dqShares: boolean): string {
  const L = l.lanes;
  const rowsOf = (prefix: string) => rowNames(prefix, R);
  const kvRow = (i: string) => `((b * p.cap + block * ${R}u + ${i}) * p.Hkv + g) * ${l.n}u`;
  const gradRow = (i: string) => `((b * p.S + block * ${R}u + ${i}) * p.Hkv + g) * ${l.n}u`;
  return /* wgsl */ `${rowKernelHeader(l, [
    ['q', 'read', 'array<vec>'], ['k', 'read', 'array<vec>'], ['v', 'read', 'array<vec>'], ['key_mask', 'read', 'array<f32>'],
    ['g_out', 'read', 'array<vec>'], ['stats', 'read', 'array<f32>'],
    ['g_k', 'read_write', 'array<vec>'], ['g_v', 'read_write', 'array<vec>'],
    ...(dqShares ? [['dq_part', 'read_write', 'array<vec>'] as Bound] : []),
  ])}

@compute @workgroup_size(${L})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  var wg = ${lastGroup('p.B * p.Hkv * p.blocks')};
  let block = wg % p.blocks; wg /= p.blocks;
  let g = wg % p.Hkv;
  let b = wg / p.Hkv;
  // rows are keys j{r} = block * R + r; masked keys and keys past S get zero gradients
  let count = min(p.rows, p.S - block * ${R}u);
  ${loadRows(l, R, 'count', 'k', 'k', kvRow, ' * p.scale2')}
  ${loadRows(l, R, 'count', 'v', 'v', kvRow)}
  ${each(Math.ceil(R / L), (m) => `let own_real${m} = u32(key_real(b, block * ${R}u + min(${m * L}u + lane, count - 1u)));`)}
  ${each(R, (r) => `let j${r} = block * ${R}u + ${r}u; let real${r} = ${r}u < count && subgroupShuffle(own_real${Math.floor(r / L)}, ${r % L}u) != 0u; ${zeroSpread(l, `dk${r}`)} ${zeroSpread(l, `dv${r}`)}`)}
  // the first query that sees the block's first key
  let t_begin = select(0u, block * ${R}u - (p.S - p.T), p.causal != 0u && block * ${R}u > p.S - p.T);
  for (var h = g * p.G; h < (g + 1u) * p.G; h++) {
    for (var t0 = t_begin; t0 < p.T; t0 += ${L}u) {
      let t = t0 + lane;
      let tr = min(t, p.T - 1u);
      let live = t < p.T;
      let stat = 2u * ((b * p.H + h) * p.T + tr);
      let lse = stats[stat];
      let delta = stats[stat + 1u];
      ${each(R, (r) => `var s${r} = 0.0; var dp${r} = 0.0;`, ' ')}
      ${dotLoop(l, `((b * p.T + tr) * p.H + h) * ${l.n}u`, [
    { array: 'q', rows: rowsOf('k'), accs: rowsOf('s') },
    { array: 'g_out', rows: rowsOf('v'), accs: rowsOf('dp') },
  ]).replace(/\n/g, '\n  ')}
      ${each(R, (r) => `let pr${r} = select(0.0, exp2(s${r} - lse), live && real${r} && (p.causal == 0u || j${r} <= t + p.S - p.T));
      let ds${r} = pr${r} * (dp${r} - delta);`, '\n      ')}
      ${accumulateLoop(l, 'min(p.lanes, p.T - t0)', (u) => `((b * p.T + t0 + ${u}) * p.H + h) * ${l.n}u`, [
    { array: 'g_out', weights: rowsOf('pr'), accs: rowsOf('dv') },
    { array: 'q', weights: rowsOf('ds'), accs: rowsOf('dk') },
  ]).replace(/\n/g, '\n  ')}
      ${dqShares ? `// query t0 + u's share of dQ (k rows carry scale2; the reduce kernel rescales)
      for (var u = 0u; u < min(p.lanes, p.T - t0); u++) {
        ${zeroSpread(l, 'share')}
        ${each(R, (r) => `{ let w = vec(subgroupShuffle(ds${r}, u)); ${each(spreadRegs(l), (m) => `share_${m} = fma(w, k${r}_${m}, share_${m});`, ' ')} }`, '\n        ')}
        ${storeSpread(l, 'share', 'dq_part', `(block * p.B * p.T * p.H + (b * p.T + t0 + u) * p.H + h) * ${l.n}u`)}
      }` : ''}
    }
  }
  ${storeRows(l, R, 'count', 'dk', 'g_k', gradRow, 'p.scale')}
  ${storeRows(l, R, 'count', 'dv', 'g_v', gradRow)}
}`;
}

/**
 * dQ = Σ over the key blocks that wrote a share (causal: those starting at or before the query's
 * position) of dq_part, times LN2 = scale / scale2 (the shares were made from scaled k rows).
 */
function dqReduceSource(l: Layout): string {
  return /* wgsl */ `${wgslKit(l)}
struct Params { rows: u32, T: u32, S: u32, H: u32, key_blocks: u32, keys_per_block: u32, causal: u32 }
@group(0) @binding(0) var<uniform> p: Params;
${bindings([['dq_part', 'read', 'array<vec>'], ['g_q', 'read_write', 'array<vec>']])}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = min(group_index(wid, nwg) * 64u + lid, p.rows * ${l.n}u - 1u);
  // row = (b * T + t) * H + h
  let t = (i / ${l.n}u / p.H) % p.T;
  let seen = select(p.key_blocks, min(p.key_blocks, (t + p.S - p.T) / p.keys_per_block + 1u), p.causal != 0u);
  var acc = vec(0.0);
  for (var kb = 0u; kb < seen; kb++) { acc += dq_part[kb * p.rows * ${l.n}u + i]; }
  g_q[i] = acc * LN2;
}`;
}

/**
 * Largest dQ-share buffer (key blocks × dQ) the one-pass backward may use; past it, dQ takes its
 * own pass over the keys and memory stays O(T) per head.
 */
const DQ_SHARES_MAX_BYTES = 64 * 2 ** 20;

export function attentionBackwardGpu(
  gpu: Gpu, q: GPUBuffer, k: GPUBuffer, v: GPUBuffer, keyMask: GPUBuffer | null,
  out: GPUBuffer, lse: GPUBuffer, gOut: GPUBuffer,
  gq: GPUBuffer, gk: GPUBuffer, gv: GPUBuffer, s: AttentionShape, dqSharesMaxBytes = DQ_SHARES_MAX_BYTES,
): void {
  const l = layoutOf(gpu, s.D);
  const rows = s.B * s.H * s.T;
  const stats = gpu.pool.acquire(rows * 2 * 4);
  const t = tensors(gpu, s);
  const statsPipe = gpu.pipeline(`attention-stats-${layoutKey(l)}`, () => rowStatsSource(l));
  gpu.dispatch(statsPipe, [t.query(out), t.query(gOut), t.rowScalars(lse), t.rowScalars(stats, 2)], [rows, s.T, s.H, l.n], Math.ceil(rows / 64));

  const masked = keyMask !== null;
  const inputs = [t.query(q), t.kv(k), t.kv(v), t.mask(keyMask, q), t.query(gOut), t.rowScalars(stats, 2)];
  const keyRows = rowsPerGroup(s.S, maxRows(l));
  const keyBlocks = Math.ceil(s.S / keyRows);
  const queryFloats = rows * s.D;
  // the shares are a ninth storage binding: past WebGPU's default of 8 per stage, which a page's device may keep
  const dqShares = keyBlocks * queryFloats * 4 <= Math.min(dqSharesMaxBytes, gpu.limits.maxStorageBufferBindingSize) && gpu.limits.maxStorageBuffersPerShaderStage > 8;
  const dkdv = gpu.pipeline(`attention-dkdv-${layoutKey(l)}-r${keyRows}${dqShares ? '-dq' : ''}`, () => dkdvSource(l, keyRows, dqShares));
  const dkdvParams = rowParams(s, l, keyRows, masked, keyBlocks, 1, s.S);
  if (dqShares) {
    const part = gpu.pool.acquire(keyBlocks * queryFloats * 4);
    const shares = range(gpu, part, keyBlocks * queryFloats);
    gpu.dispatch(dkdv, [...inputs, t.kvGrad(gk), t.kvGrad(gv), shares], dkdvParams, s.B * s.Hkv * keyBlocks);
    const reduce = gpu.pipeline(`attention-dq-reduce-${layoutKey(l)}`, () => dqReduceSource(l));
    gpu.dispatch(reduce, [shares, t.query(gq)], [rows, s.T, s.S, s.H, keyBlocks, keyRows, s.causal ? 1 : 0], Math.ceil((rows * l.n) / 64));
    gpu.pool.release(part);
  } else {
    const R = rowsPerGroup(s.T * (s.H / s.Hkv), maxRows(l));
    const dqBlocks = Math.ceil((s.T * (s.H / s.Hkv)) / R);
    const dq = gpu.pipeline(`attention-dq-${layoutKey(l)}-r${R}`, () => dqSource(l, R));
    gpu.dispatch(dq, [...inputs, t.query(gq)], rowParams(s, l, R, masked, dqBlocks, 1, s.S), s.B * s.Hkv * dqBlocks);
    gpu.dispatch(dkdv, [...inputs, t.kvGrad(gk), t.kvGrad(gv)], dkdvParams, s.B * s.Hkv * keyBlocks);
  }
  gpu.pool.release(stats);
}
