// Batched matrix product C[b] = alpha · op(A[b]) · op(B[b]) (+ C[b]), with transpose flags and
// broadcast operands (batch stride 0). Two kernel families, chosen per shape (autotune.ts):
//
// - packed (M, N >= 16): two pack dispatches copy the operand tiles into zero-padded rgba32float
//   storage textures (texels of 4 rows of op(A), or 4 columns of op(B), at one k), then the
//   product kernel runs with no bounds checks: each lane owns 4·tn4 columns of C; a subgroup of
//   8 lanes fetches one A texel per lane (4 rows × 8 k) and shares it with subgroupBroadcast, so
//   A costs 1/32 of a fetch per (row, k) and each B texel feeds tm rows. Packing is O(n²) and
//   absorbs transposes, strides and odd sizes, so all four transpose combinations run one kernel.
// - direct (decode rows, small N, no subgroups): lanes own columns and read the buffers
//   straight; A is shared through subgroupBroadcast when the adapter has subgroups.
// Why textures: on lavapipe a storage-buffer load with a computed offset is a per-lane loop with
// branches, while a texel fetch is a branchless gather of 4 floats (bench/NOTES.md measures both).
//
// A bf16 B (a frozen 16-bit weight, s.bBf16) is widened where it is read: by the pack step on the
// packed path, so the product kernel is unchanged, and by each load on the direct path. The
// widening is exact (bf16 is the top half of an f32), so results match the f32-widened weight.

import { WGSL_GROUP_INDEX, f32bits, type Binding, type Gpu } from './gpu.js';
import { tunedMatmulVariant } from './autotune.js';

export interface MatmulShape {
  batch: number;
  M: number;
  N: number;
  K: number;
  /** A[b] stored K×M (use Aᵀ) instead of M×K */
  transA: boolean;
  /** B[b] stored N×K (use Bᵀ) instead of K×N */
  transB: boolean;
  /** elements between batches; 0 broadcasts one matrix to all batches */
  aBatchStride: number;
  bBatchStride: number;
  /** default 1 */
  alpha?: number;
  /** C += result instead of C = result */
  accumulate?: boolean;
  /** B holds bfloat16 values, two per u32 word (a frozen 16-bit weight): widened where read */
  bBf16?: boolean;
}

/** Direct kernel: tm rows × tn columns per lane (columns wg apart), A shared by subgroupBroadcast when bcast. */
export interface DirectVariant {
  kind: 'direct';
  tm: number;
  tn: number;
  wg: number;
  bcast: boolean;
}

/** Packed kernel: tm rows × 4·tn4 columns per lane, wg lanes per workgroup. */
export interface PackedVariant {
  kind: 'packed';
  tm: number;
  tn4: number;
  wg: number;
}

export type MatmulVariant = DirectVariant | PackedVariant;

// ---------------------------------------------------------------------------------------------
// CPU reference

/** C[b] = alpha · op(A[b]) · op(B[b]) (+ C[b]), accumulating in float64. */
export function matmulCpu(a: Float64Array, b: Float64Array, c: Float64Array, s: MatmulShape): void {
  const { batch, M, N, K, alpha = 1, accumulate = false } = s;
  const [ars, acs] = s.transA ? [1, M] : [K, 1];
  const [brs, bcs] = s.transB ? [1, K] : [N, 1];
  const row = new Float64Array(N);
  for (let bi = 0; bi < batch; bi++) {
    const aBase = bi * s.aBatchStride;
    const bBase = bi * s.bBatchStride;
    for (let i = 0; i < M; i++) {
      row.fill(0);
      for (let k = 0; k < K; k++) {
        const av = a[aBase + i * ars + k * acs];
        const bk = bBase + k * brs;
        for (let j = 0; j < N; j++) row[j] += av * b[bk + j * bcs];
      }
      const ci = (bi * M + i) * N;
      for (let j = 0; j < N; j++) c[ci + j] = alpha * row[j] + (accumulate ? c[ci + j] : 0);
    }
  }
}

/** WGSL reading element i of a bf16 array `name` (u32 words, the even element in the low half). */
function bf16Load(name: string): string {
  return `fn ${name}_at(i: u32) -> f32 {
  let w = ${name}[i >> 1u];
  return bitcast<f32>(select(w << 16u, w & 0xffff0000u, (i & 1u) == 1u));
}`;
}

/**
 * Both product kernels' tile coordinates: batch, row block rb and column block cb of workgroup g.
 * No early return for the grid's overshoot: on lavapipe it would put the whole body under an
 * execution mask; those groups compute a clamped batch and skip the stores (live = false).
 */
const WGSL_TILE = /* wgsl */ `  let g = group_index(wid, nwg);
  let tiles = p.rowBlocks * p.colBlocks;
  let live = g / tiles < p.batches;
  let batch = min(g / tiles, p.batches - 1u);
  let rb = (g % tiles) % p.rowBlocks;
  let cb = (g % tiles) / p.rowBlocks;`;

// ---------------------------------------------------------------------------------------------
// Launch rule

/** C = alpha · op(A) · op(B) (+ C) with the tuned variant for this adapter and shape, or the default. */
export function matmulGpu(gpu: Gpu, a: GPUBuffer, b: GPUBuffer, c: GPUBuffer, s: MatmulShape): void {
  matmulWithVariant(gpu, matmulVariantFor(gpu, s), a, b, c, s);
}

/** The variant for a shape: the tuner's winner on this adapter, else the default. */
function matmulVariantFor(gpu: Gpu, s: MatmulShape): MatmulVariant {
  return tunedMatmulVariant(gpu, s) ?? defaultMatmulVariant(gpu, s);
}

/** y = alpha · x·Wᵀ for x [M, K] and W [N, K]: a linear layer's product. */
export function linearShape(M: number, K: number, N: number, alpha = 1): MatmulShape {
  return { batch: 1, M, N, K, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0, alpha };
}

/**
 * A LoRA layer's two products of x [M, K]: y = x·Wᵀ (W [N, K]) and u = x·Aᵀ (A [r, K]). When the
 * packed kernel takes N + r columns in one tile, x is packed once and one product writes both
 * (W and A share the B texture; the columns past N go to u); otherwise two products. `variant`
 * overrides the choice for N + r columns (tests). `wBf16`: W is a frozen bf16 weight (A stays f32).
 */
export function loraProjectionGpu(gpu: Gpu, x: GPUBuffer, w: GPUBuffer, a: GPUBuffer, y: GPUBuffer, u: GPUBuffer, M: number, K: number, N: number, r: number, wBf16 = false, variant?: MatmulVariant): void {
  const s = { ...linearShape(M, K, N), bBf16: wBf16 };
  const both = linearShape(M, K, N + r);
  const v = variant ?? matmulVariantFor(gpu, both);
  if (v.kind === 'packed' && M > 0 && K > 0 && N % 4 === 0) {
    const lim = limitsOf(gpu, v);
    const ch = chunkSizes(operandView(both), v, lim);
    if (ch.m === M && ch.n === N + r && ch.k === K) {
      packedTile(gpu, v, operandView(s), { b0: 0, nb: 1, m0: 0, m: M, n0: 0, n: N, k0: 0, k: K }, lim, x, w, y, false, { b2: a, n2: r, c2: u });
      return;
    }
  }
  for (const [b, c, n, bf16] of [[w, y, N, wBf16], [a, u, r, false]] as const) {
    const sn = { ...linearShape(M, K, n), bBf16: bf16 };
    matmulWithVariant(gpu, variant ?? matmulVariantFor(gpu, sn), x, b, c, sn);
  }
}

/** Packing needs subgroups of at least 8 lanes (one A texel per lane per 8 k). */
export function canPack(gpu: Gpu): boolean {
  return gpu.features.has('subgroups') && (gpu.info.subgroupMinSize ?? 0) >= 8;
}

/**
 * On lavapipe packing pays when B is reused by enough rows and the padded tiles are mostly real.
 * On a hardware GPU (the autotuner on an H100, bench/NOTES.md) the direct 2×4 block in 16-lane
 * groups beat every packed variant 1.8–2.4× below ~2^30 multiply-adds; packing won above.
 */
export function defaultMatmulVariant(gpu: Gpu, s: MatmulShape): MatmulVariant {
  const macs = s.M * s.N * s.K;
  if (!gpu.isSoftware && s.M >= 16 && macs < 1 << 30) return { kind: 'direct', tm: 2, tn: 4, wg: 16, bcast: canPack(gpu) };
  if (!gpu.isSoftware && canPack(gpu) && s.M >= 16 && s.N >= 16 && s.K >= 8) return { kind: 'packed', tm: 16, tn4: 1, wg: 32 };
  if (canPack(gpu) && s.M >= 16 && s.N >= 16 && s.K >= 8 && macs >= 1 << 18) {
    // the tiny preset's products (B·T ≈ 5000 rows against d = 64..450) run 1.1–2.7× faster with
    // 8-lane workgroups; the 32-lane shape wins on the large square ones (bench/NOTES.md)
    return { kind: 'packed', tm: 16, tn4: 1, wg: macs < 1 << 28 ? 8 : 32 };
  }
  // decode rows: one B column per lane, every row of the block sharing it
  return { kind: 'direct', tm: Math.min(8, s.M), tn: 1, wg: 8, bcast: canPack(gpu) };
}

/** The variants the autotuner times for a shape. */
export function matmulCandidates(gpu: Gpu, s: MatmulShape): MatmulVariant[] {
  const bcast = canPack(gpu);
  const direct: MatmulVariant[] = [
    { kind: 'direct', tm: Math.min(4, s.M), tn: 2, wg: 8, bcast },
    { kind: 'direct', tm: Math.min(8, s.M), tn: 1, wg: 8, bcast },
    { kind: 'direct', tm: Math.min(2, s.M), tn: 4, wg: 16, bcast },
  ];
  if (!bcast || s.K < 8) return direct;
  const packed: MatmulVariant[] = [
    { kind: 'packed', tm: 8, tn4: 1, wg: 8 },
    { kind: 'packed', tm: 16, tn4: 1, wg: 8 },
    { kind: 'packed', tm: 16, tn4: 1, wg: 32 },
    { kind: 'packed', tm: 16, tn4: 2, wg: 8 },
  ];
  return [...direct, ...packed];
}

export function variantKey(v: MatmulVariant): string {
  return v.kind === 'direct' ? `direct-${v.tm}-${v.tn}-${v.wg}-${v.bcast ? 'b' : 'l'}` : `packed-${v.tm}-${v.tn4}-${v.wg}`;
}

export function parseVariantKey(key: string): MatmulVariant | null {
  const [kind, ...rest] = key.split('-');
  const n = rest.map(Number);
  if (kind === 'direct' && rest.length === 4 && n.slice(0, 3).every((x) => x >= 1)) {
    return { kind, tm: n[0], tn: n[1], wg: n[2], bcast: rest[3] === 'b' };
  }
  if (kind === 'packed' && rest.length === 3 && n.every((x) => x >= 1) && n[0] % 4 === 0) {
    return { kind, tm: n[0], tn4: n[1], wg: n[2] };
  }
  return null;
}

/** Caps below the adapter's (elements per binding, texels per side and per texture), so tests can exercise tiling. */
export interface TilingCaps {
  maxElems?: number;
  maxDim?: number;
  maxTexels?: number;
}

/** Runs one variant (the autotuner and the tests call this directly). */
export function matmulWithVariant(gpu: Gpu, v: MatmulVariant, a: GPUBuffer, b: GPUBuffer, c: GPUBuffer, s: MatmulShape, caps: TilingCaps = {}): void {
  if (s.batch === 0 || s.M === 0 || s.N === 0) return;
  const view = operandView(s);
  const lim = { ...limitsOf(gpu, v), ...caps };
  const ch = chunkSizes(view, v, lim);
  for (let b0 = 0; b0 < s.batch; b0 += ch.batches) {
    // K = 0 still needs one pass: it writes alpha · 0 (+ C)
    for (let k0 = 0; k0 < Math.max(1, s.K); k0 += ch.k) {
      for (let n0 = 0; n0 < s.N; n0 += ch.n) {
        for (let m0 = 0; m0 < s.M; m0 += ch.m) {
          const t: Tile = {
            b0, nb: Math.min(ch.batches, s.batch - b0),
            m0, m: Math.min(ch.m, s.M - m0),
            n0, n: Math.min(ch.n, s.N - n0),
            k0, k: Math.min(ch.k, s.K - k0),
          };
          // K chunks after the first add onto what the first wrote
          const accumulate = (s.accumulate ?? false) || k0 > 0;
          if (v.kind === 'direct') directTile(gpu, v, view, t, lim, a, b, c, accumulate);
          else packedTile(gpu, v, view, t, lim, a, b, c, accumulate);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Tiling: bindings are capped (128 MiB on lavapipe) and textures too (8192 texels a side), so
// big operands run as several tiles, each binding only the buffer range it reads.

interface OperandView {
  s: MatmulShape;
  /** element strides of op(A)[r, k], op(B)[k, j] and C[r, j] */
  ars: number; acs: number;
  brs: number; bcs: number;
}

interface Tile { b0: number; nb: number; m0: number; m: number; n0: number; n: number; k0: number; k: number }

interface Limits {
  maxElems: number;
  alignElems: number;
  maxDim: number;
  maxTexels: number;
  /** tile granularity: rows, columns and k that the kernel's blocks are made of */
  gm: number; gn: number; gk: number;
}

const MAX_TEXELS = 1 << 22; // 64 MiB per packed texture
const KB = 8; // k per broadcast block: one A value per lane of an 8-lane subgroup

function operandView(s: MatmulShape): OperandView {
  const [ars, acs] = s.transA ? [1, s.M] : [s.K, 1];
  const [brs, bcs] = s.transB ? [1, s.K] : [s.N, 1];
  return { s, ars, acs, brs, bcs };
}

function limitsOf(gpu: Gpu, v: MatmulVariant): Limits {
  const packed = v.kind === 'packed';
  return {
    maxElems: Math.floor(gpu.limits.maxStorageBufferBindingSize / 4),
    alignElems: gpu.limits.minStorageBufferOffsetAlignment / 4,
    maxDim: gpu.limits.maxTextureDimension2D,
    maxTexels: MAX_TEXELS,
    gm: v.tm,
    gn: packed ? 4 * v.wg * v.tn4 : v.wg * v.tn,
    gk: KB,
  };
}

/** Elements spanned by a strided block: batches × rows × cols. */
function span(nb: number, batchStride: number, rows: number, rs: number, cols: number, cs: number): number {
  if (rows === 0 || cols === 0) return 0;
  return (nb - 1) * batchStride + (rows - 1) * rs + (cols - 1) * cs + 1;
}

type Dim = 'batches' | 'm' | 'n' | 'k';
type Chunks = Record<Dim, number>;

function chunkSizes(view: OperandView, v: MatmulVariant, lim: Limits): Chunks {
  const { s } = view;
  const c: Chunks = { batches: s.batch, m: s.M, n: s.N, k: Math.max(1, s.K) };
  for (;;) {
    const dim = oversized(view, v, lim, c);
    if (!dim) return c;
    // halves stay multiples of the kernel's blocks (no padding waste) until that is too coarse
    const gran = granOf(dim, lim);
    const half = Math.ceil(c[dim] / 2);
    const next = half >= gran ? Math.ceil(half / gran) * gran : half;
    if (next >= c[dim]) throw new Error(`matmul: shape ${JSON.stringify(s)} cannot be tiled within the adapter's limits`);
    c[dim] = next;
  }
}

/** The dimension to halve so that every binding and texture of a tile fits, or null when all do. */
function oversized(view: OperandView, v: MatmulVariant, lim: Limits, c: Chunks): Dim | null {
  const { s, ars, acs, brs, bcs } = view;
  const room = lim.maxElems - lim.alignElems;
  const batches = (stride: number) => c.batches > 1 && stride > 0;
  const larger = (d1: Dim, stride1: number, d2: Dim, stride2: number): Dim =>
    (stride1 >= stride2 && c[d1] > 1) || c[d2] === 1 ? d1 : d2;
  if (span(c.batches, s.aBatchStride, c.m, ars, c.k, acs) > room) {
    return batches(s.aBatchStride) ? 'batches' : larger('m', ars, 'k', acs);
  }
  if (span(c.batches, s.bBatchStride, c.k, brs, c.n, bcs) > room) {
    return batches(s.bBatchStride) ? 'batches' : larger('k', brs, 'n', bcs);
  }
  if (span(c.batches, s.M * s.N, c.m, s.N, c.n, 1) > room) return c.batches > 1 ? 'batches' : 'm';
  if (v.kind === 'direct') return null;
  const kp = roundUp(c.k, KB);
  const mq = roundUp(c.m, v.tm) / 4;
  const nq = roundUp(c.n, lim.gn) / 4;
  // a texture stacks batches along y, with k or the quads along x (texelAt)
  if (kp > lim.maxDim) return 'k';
  if (nq > lim.maxDim) return 'n';
  if (mq > lim.maxDim) return 'm';
  if (c.batches * Math.max(mq, nq, kp) > lim.maxDim) return c.batches > 1 ? 'batches' : mq > kp ? 'm' : nq > kp ? 'n' : 'k';
  if (c.batches * mq * kp > lim.maxTexels) return c.batches > 1 ? 'batches' : mq > kp ? 'm' : 'k';
  if (c.batches * nq * kp > lim.maxTexels) return c.batches > 1 ? 'batches' : nq > kp ? 'n' : 'k';
  return null;
}

function granOf(d: Dim, lim: Limits): number {
  return d === 'm' ? lim.gm : d === 'n' ? lim.gn : d === 'k' ? lim.gk : 1;
}

function roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

/**
 * The smallest aligned buffer range holding a strided block, and the block's offset inside it.
 * bf16 elements are 2 bytes: the range starts at an even element and covers whole words.
 */
function boundRange(buffer: GPUBuffer, lo: number, elems: number, lim: Limits, bf16 = false): { binding: Binding; offset: number } {
  const align = bf16 ? 2 * lim.alignElems : lim.alignElems;
  const start = Math.floor(lo / align) * align;
  const words = bf16 ? Math.ceil((lo - start + elems) / 2) : lo - start + elems;
  return { binding: { buffer, offset: (bf16 ? start / 2 : start) * 4, size: Math.max(1, words) * 4 }, offset: lo - start };
}

interface TileBindings {
  a: Binding; aOff: number;
  b: Binding; bOff: number;
  c: Binding; cOff: number;
}

function tileBindings(view: OperandView, t: Tile, lim: Limits, a: GPUBuffer, b: GPUBuffer, c: GPUBuffer): TileBindings {
  const { s, ars, acs, brs, bcs } = view;
  const ra = boundRange(a, t.b0 * s.aBatchStride + t.m0 * ars + t.k0 * acs, span(t.nb, s.aBatchStride, t.m, ars, t.k, acs), lim);
  const rb = boundRange(b, t.b0 * s.bBatchStride + t.k0 * brs + t.n0 * bcs, span(t.nb, s.bBatchStride, t.k, brs, t.n, bcs), lim, s.bBf16);
  const rc = boundRange(c, (t.b0 * s.M + t.m0) * s.N + t.n0, span(t.nb, s.M * s.N, t.m, s.N, t.n, 1), lim);
  return { a: ra.binding, aOff: ra.offset, b: rb.binding, bOff: rb.offset, c: rc.binding, cOff: rc.offset };
}

// ---------------------------------------------------------------------------------------------
// Direct kernel

function directTile(gpu: Gpu, v: DirectVariant, view: OperandView, t: Tile, lim: Limits, a: GPUBuffer, b: GPUBuffer, c: GPUBuffer, accumulate: boolean): void {
  const { s } = view;
  const bind = tileBindings(view, t, lim, a, b, c);
  const rowBlocks = Math.ceil(t.m / v.tm);
  const colBlocks = Math.ceil(t.n / (v.wg * v.tn));
  const params = [
    t.m, t.n, t.k, t.nb, rowBlocks, colBlocks,
    bind.aOff, s.aBatchStride, view.ars, view.acs,
    bind.bOff, s.bBatchStride, view.brs, view.bcs,
    bind.cOff, s.M * s.N, s.N, f32bits(s.alpha ?? 1), accumulate ? 1 : 0,
  ];
  const bf16 = s.bBf16 ?? false;
  const pipe = gpu.pipeline(`matmul-${variantKey(v)}${bf16 ? '-bf16' : ''}`, () => directSource(v, bf16));
  gpu.dispatch(pipe, [bind.a, bind.b, bind.c], params, t.nb * rowBlocks * colBlocks);
}

const DIRECT_PARAMS = `struct Params {
  M: u32, N: u32, K: u32, batches: u32, rowBlocks: u32, colBlocks: u32,
  aOff: u32, aBS: u32, ars: u32, acs: u32,
  bOff: u32, bBS: u32, brs: u32, bcs: u32,
  cOff: u32, cBS: u32, cRS: u32, alpha: f32, accumulate: u32,
}`;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const lines = (n: number, f: (i: number) => string) => range(n).map(f).join('\n');
const grid = (n1: number, n2: number, f: (i: number, j: number) => string) => lines(n1 * n2, (x) => f(Math.floor(x / n2), x % n2));

/** WGSL for a direct variant: lanes own columns j0 + lid + wg·t and rows r0 + i of one batch. */
export function directSource({ tm, tn, wg, bcast }: DirectVariant, bBf16 = false): string {
  const bAt = (i: string) => (bBf16 ? `b_at(${i})` : `b[${i}]`);
  const fmaRow = (i: number, av: string, bv: (t: number) => string) => lines(tn, (t) => `      acc${i}_${t} = fma(${av}, ${bv(t)}, acc${i}_${t});`);
  // with broadcast: each lane reads A[r, k0 + lane] once per 8 k and the subgroup shares it
  const mainLoop = bcast
    ? `  for (var k0 = 0u; k0 + ${KB}u <= p.K; k0 += ${KB}u) {
${grid(KB, tn, (u, t) => `    let b${u}_${t} = ${bAt(`bc${t} + (k0 + ${u}u) * p.brs`)};`)}
${lines(tm, (i) => `    {
      let av = a[ar${i} + (k0 + (lane & 7u)) * p.acs];
${lines(KB, (u) => `      { let s = subgroupBroadcast(av, ${u}u);\n${fmaRow(i, 's', (t) => `b${u}_${t}`)} }`)}
    }`)}
  }`
    : `  for (var k0 = 0u; k0 + 4u <= p.K; k0 += 4u) {
${lines(4, (u) => `    {
${lines(tn, (t) => `      let b${t} = ${bAt(`bc${t} + (k0 + ${u}u) * p.brs`)};`)}
${lines(tm, (i) => `      { let av = a[ar${i} + (k0 + ${u}u) * p.acs];\n${fmaRow(i, 'av', (t) => `b${t}`)} }`)}
    }`)}
  }`;
  const tailStart = bcast ? `p.K - p.K % ${KB}u` : 'p.K - p.K % 4u';
  return /* wgsl */ `${bcast ? 'enable subgroups;' : ''}
${DIRECT_PARAMS}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<${bBf16 ? 'u32' : 'f32'}>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;${bBf16 ? `\n${bf16Load('b')}` : ''}
${WGSL_GROUP_INDEX}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32${bcast ? ', @builtin(subgroup_invocation_id) lane: u32' : ''}) {
${WGSL_TILE}
  let r0 = rb * ${tm}u;
  let j0 = cb * ${wg * tn}u + lid;
  let aBase = p.aOff + batch * p.aBS;
  let bBase = p.bOff + batch * p.bBS;
  // clamped rows and columns keep every load in range; their results are never stored
${lines(tm, (i) => `  let ar${i} = aBase + min(r0 + ${i}u, p.M - 1u) * p.ars;`)}
${lines(tn, (t) => `  let bc${t} = bBase + min(j0 + ${t * wg}u, p.N - 1u) * p.bcs;`)}
${grid(tm, tn, (i, t) => `  var acc${i}_${t} = 0.0;`)}
${mainLoop}
  for (var k = ${tailStart}; k < p.K; k++) {
${lines(tn, (t) => `    let b${t} = ${bAt(`bc${t} + k * p.brs`)};`)}
${lines(tm, (i) => `    { let av = a[ar${i} + k * p.acs];\n${fmaRow(i, 'av', (t) => `b${t}`)} }`)}
  }
  // one store loop instead of tm·tn unrolled stores: each store site is a per-lane loop on
  // lavapipe, and unrolling them all multiplies compile time
  var out: array<f32, ${tm * tn}>;
${grid(tm, tn, (i, t) => `  out[${i * tn + t}] = acc${i}_${t};`)}
  let cBase = p.cOff + batch * p.cBS;
  for (var x = 0u; x < ${tm * tn}u; x++) {
    let r = r0 + x / ${tn}u;
    let j = j0 + (x % ${tn}u) * ${wg}u;
    if (live && r < p.M && j < p.N) {
      let ci = cBase + r * p.cRS + j;
      var v = p.alpha * out[x];
      if (p.accumulate != 0u) { v += c[ci]; }
      c[ci] = v;
    }
  }
}`;
}

// ---------------------------------------------------------------------------------------------
// Packed kernels

/** The texel of quad q at k of this batch: (k, batch·quads + q) when kOnX, else (q, batch·kp + k). */
function texelAt(kOnX: boolean, k: string, q: string, quads: string): string {
  return kOnX ? `vec2<u32>(${k}, batch * ${quads} + ${q})` : `vec2<u32>(${q}, batch * p.kp + ${k})`;
}

/**
 * WGSL that packs one operand tile of nb batches into texels of 4 consecutive i (rows of op(A)
 * or columns of op(B)) at one k, zero past the edges. kOnX: texel (k, q) in row batch·iq + q;
 * otherwise texel (q, k) in row batch·kp + k. Lanes run along x, so they write consecutive
 * texels; B picks kOnX when k is its contiguous axis, so its lanes also read consecutive
 * addresses (a per-lane load still pays per element, but shares cache lines). Quad q lands at
 * q + dq, so two operands can share one texture (the LoRA projection's W and A).
 */
export function packSource(kOnX: boolean, bf16 = false): string {
  const [lanes, other] = kOnX ? ['k', 'q'] : ['q', 'k'];
  const index = 'base + min(i + c, p.I - 1u) * p.is';
  return /* wgsl */ `
struct Params { I: u32, K: u32, kp: u32, iq: u32, off: u32, bs: u32, is: u32, ks: u32, dq: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<${bf16 ? 'u32' : 'f32'}>;
@group(0) @binding(2) var dst: texture_storage_2d<rgba32float, write>;${bf16 ? `\n${bf16Load('src')}` : ''}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let ${lanes} = wid.x * 64u + lid;
  let ${other} = wid.y;
  let batch = wid.z;
  // loads are clamped into range and the store skipped past the edge (no early return: see
  // the header on execution masks)
  let base = p.off + batch * p.bs + min(k, max(p.K, 1u) - 1u) * p.ks;
  let i = q * 4u;
  var v: vec4<f32>;
  for (var c = 0u; c < 4u; c++) {
    v[c] = select(0.0, ${bf16 ? `src_at(${index})` : `src[${index}]`}, i + c < p.I && k < p.K);
  }
  if (${lanes} < ${kOnX ? 'p.kp' : 'p.iq'}) { textureStore(dst, ${texelAt(kOnX, 'k', 'q + p.dq', 'p.iq')}, v); }
}`;
}

/**
 * WGSL for a packed variant. Lane l of a subgroup owns column quads cq0 + l + wg·t; per block of
 * 8 k it fetches the B texels of its quads for each k, and one A texel per 4 rows at k0 + l that
 * subgroupBroadcast hands to every lane. The textures are zero-padded, so no bounds checks.
 */
export function packedSource({ tm, tn4, wg }: PackedVariant, bKOnX: boolean, split = false): string {
  const quads = tm / 4;
  const rowMacs = (q: number) => lines(4, (e) => {
    const i = 4 * q + e;
    return lines(KB, (u) => `      { let s = vec4<f32>(subgroupBroadcast(a${q}[${e}], ${u}u));\n${lines(tn4, (t) => `        acc${i}_${t} = fma(s, b${u}_${t}, acc${i}_${t});`)} }`);
  });
  return /* wgsl */ `enable subgroups;
struct Params {
  M: u32, N: u32, kp: u32, batches: u32, rowBlocks: u32, colBlocks: u32, mq: u32, nq: u32,
  cOff: u32, cBS: u32, cRS: u32, alpha: f32, accumulate: u32,${split ? ' split: u32, uOff: u32, uRS: u32,' : ''}
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var ta: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var tb: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;${split ? '\n@group(0) @binding(4) var<storage, read_write> u: array<f32>;' : ''}
${WGSL_GROUP_INDEX}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32) {
${WGSL_TILE}
  let aq0 = rb * ${quads}u;
  let cq0 = cb * ${wg * tn4}u + lid;
${grid(tm, tn4, (i, t) => `  var acc${i}_${t} = vec4<f32>(0.0);`)}
  for (var k0 = 0u; k0 < p.kp; k0 += ${KB}u) {
${grid(KB, tn4, (u, t) => `    let b${u}_${t} = textureLoad(tb, ${texelAt(bKOnX, `k0 + ${u}u`, `cq0 + ${t * wg}u`, 'p.nq')});`)}
${lines(quads, (q) => `    let a${q} = textureLoad(ta, ${texelAt(true, 'k0 + (lane & 7u)', `aq0 + ${q}u`, 'p.mq')});`)}
${lines(quads, (q) => rowMacs(q))}
  }
  var out: array<vec4<f32>, ${tm * tn4}>;
${grid(tm, tn4, (i, t) => `  out[${i * tn4 + t}] = acc${i}_${t};`)}
  let cBase = p.cOff + batch * p.cBS;
  let r0 = rb * ${tm}u;
  for (var x = 0u; x < ${tm * tn4 * 4}u; x++) {
    let r = r0 + x / ${tn4 * 4}u;
    let j = (cq0 + ((x / 4u) % ${tn4}u) * ${wg}u) * 4u + x % 4u;
    if (live && r < p.M && j < p.N) {
${split ? '      if (j >= p.split) { u[p.uOff + r * p.uRS + j - p.split] = p.alpha * out[x / 4u][x % 4u]; continue; }\n' : ''}      let ci = cBase + r * p.cRS + j;
      var v = p.alpha * out[x / 4u][x % 4u];
      if (p.accumulate != 0u) { v += c[ci]; }
      c[ci] = v;
    }
  }
}`;
}

/** Per-device state of the packed path: a texture per operand and layout, grown on demand. */
interface PackedState {
  textures: Map<string, GPUTexture>;
}

const packedStates = new WeakMap<Gpu, PackedState>();

function packedState(gpu: Gpu): PackedState {
  let st = packedStates.get(gpu);
  if (!st) {
    packedStates.set(gpu, (st = { textures: new Map() }));
  }
  return st;
}

/**
 * A texture of at least w × h texels. It grows to cover earlier sizes too, unless that would
 * exceed twice the texel budget.
 */
function packTexture(gpu: Gpu, key: string, w: number, h: number, maxTexels: number): GPUTexture {
  const st = packedState(gpu);
  const old = st.textures.get(key);
  if (old && old.width >= w && old.height >= h) return old;
  let size = [Math.max(w, old?.width ?? 0), Math.max(h, old?.height ?? 0)];
  if (size[0] * size[1] > 2 * maxTexels) size = [w, h];
  if (old) {
    // recorded dispatches may still use the old texture: submit them before it goes
    gpu.flush();
    old.destroy();
  }
  const tex = gpu.device.createTexture({ size, format: 'rgba32float', usage: GPUTextureUsage.STORAGE_BINDING });
  st.textures.set(key, tex);
  return tex;
}

/**
 * Extra columns of op(B) from a second operand stored like B, whose products go to their own
 * output: the LoRA projection's A, so that x·Wᵀ and x·Aᵀ share one packing of x and one product.
 */
interface SplitColumns {
  b2: GPUBuffer;
  /** columns of op(B2) (rows of A) */
  n2: number;
  /** [M, n2] */
  c2: GPUBuffer;
}

function packedTile(gpu: Gpu, v: PackedVariant, view: OperandView, t: Tile, lim: Limits, a: GPUBuffer, b: GPUBuffer, c: GPUBuffer, accumulate: boolean, split?: SplitColumns): void {
  const { s } = view;
  const bind = tileBindings(view, t, lim, a, b, c);
  const n = t.n + (split?.n2 ?? 0);
  const kp = roundUp(Math.max(1, t.k), KB);
  const mq = roundUp(t.m, v.tm) / 4;
  const nq = roundUp(n, lim.gn) / 4;
  // B's texture puts k along x when k is B's contiguous axis in memory. A's always does: the
  // product kernel's A fetch (lanes along k) runs at half speed across texture rows, which
  // costs more than packing a transposed A with strided loads.
  const bKOnX = view.brs === 1;
  const texSize = (kOnX: boolean, quads: number): [number, number] => (kOnX ? [kp, t.nb * quads] : [quads, t.nb * kp]);
  const ta = packTexture(gpu, 'a', ...texSize(true, mq), lim.maxTexels);
  const tb = packTexture(gpu, `b${bKOnX ? 'k' : 'q'}`, ...texSize(bKOnX, nq), lim.maxTexels);
  const packGroups = (kOnX: boolean, quads: number): [number, number, number] =>
    kOnX ? [Math.ceil(kp / 64), quads, t.nb] : [Math.ceil(quads / 64), kp, t.nb];
  const bf16 = s.bBf16 ?? false;
  const packB = gpu.pipeline(`matmul-pack-${bKOnX ? 'k' : 'q'}${bf16 ? '-bf16' : ''}`, () => packSource(bKOnX, bf16));
  // the split operand (a LoRA A) is always f32
  const packB2 = gpu.pipeline(`matmul-pack-${bKOnX ? 'k' : 'q'}`, () => packSource(bKOnX));
  // B's quads, then (split) B2's from quad t.n / 4 on, zero-padding the rest
  const bQuads = split ? t.n / 4 : nq;
  const rowBlocks = mq / (v.tm / 4);
  const colBlocks = nq / (v.wg * v.tn4);
  const groups = t.nb * rowBlocks * colBlocks;
  const gy = Math.ceil(groups / 65535);
  const productParams = [t.m, n, kp, t.nb, rowBlocks, colBlocks, mq, nq, bind.cOff, s.M * s.N, s.N, f32bits(s.alpha ?? 1), accumulate ? 1 : 0];
  for (const d of [
    {
      pipeline: gpu.pipeline('matmul-pack-k', () => packSource(true)),
      resources: [bind.a, ta],
      params: [t.m, t.k, kp, mq, bind.aOff, s.aBatchStride, view.ars, view.acs, 0],
      groups: packGroups(true, mq),
    },
    {
      pipeline: packB,
      resources: [bind.b, tb],
      params: [t.n, t.k, kp, bQuads, bind.bOff, s.bBatchStride, view.bcs, view.brs, 0],
      groups: packGroups(bKOnX, bQuads),
    },
    ...(split
      ? [{
        pipeline: packB2,
        resources: [split.b2, tb],
        params: [split.n2, t.k, kp, nq - bQuads, 0, 0, view.bcs, view.brs, bQuads],
        groups: packGroups(bKOnX, nq - bQuads),
      }]
      : []),
    {
      pipeline: gpu.pipeline(`matmul-${variantKey(v)}-${bKOnX ? 'k' : 'q'}${split ? '-split' : ''}`, () => packedSource(v, bKOnX, split !== undefined)),
      resources: [ta, tb, bind.c, ...(split ? [split.c2] : [])],
      params: split ? [...productParams, t.n, 0, split.n2] : productParams,
      groups: [Math.ceil(groups / gy), gy, 1] as [number, number, number],
    },
  ]) {
    gpu.dispatch(d.pipeline, d.resources, d.params, d.groups);
  }
}
