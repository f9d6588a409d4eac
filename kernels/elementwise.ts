// Elementwise kernels: unary and binary maps, `where`, fill and cast.
//
// Every op is one WGSL expression over a generic element type `T` (f32, or vec4<f32>), written
// beside its float64 CPU twin. Two launch shapes share it:
// - contiguous (nothing broadcast): vec4 loads, ITEMS vec4s per invocation strided by the
//   workgroup; the last partial vec4 is merged with `select`. Tensors larger than one storage
//   binding (128 MiB on lavapipe) are bound in windows, one dispatch each;
// - strided (broadcasting, and permutes in layout.ts): dims every operand walks contiguously
//   are merged first (so [B,T,C] + [C] is [B*T, C] + [1, C]); an invocation decomposes one
//   output row index (a loop to the rank in the params: one pipeline for every rank) and walks
//   RUN items along the innermost dim, in vec4s when its size is a multiple of 4 (an operand
//   broadcast along it loads one word and splats it).
// lavapipe's log and tanh lose relative accuracy near 1 and 0, so both are ours (see below);
// timings: bench/NOTES.md.
import { f32bits, Gpu, WGSL_GROUP_INDEX, type Binding } from './gpu.js';

export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'tanh' | 'sigmoid' | 'silu' | 'gelu'
  | 'relu' | 'abs' | 'square' | 'scale' | 'add_scalar' | 'copy';

export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum' | 'eq' | 'gt' | 'ge' | 'lt'
  | 'silu_grad' | 'gelu_grad' | 'tanh_grad' | 'silu_mul';

// ---------------------------------------------------------------------------------------------
// The ops: a CPU function and a WGSL expression side by side. WGSL sees inputs `a`, `b` of type
// T and `alpha` (f32); helper functions come from WGSL_HELPERS.

const UNARY: Record<UnaryOp, { cpu: (x: number, alpha: number) => number; wgsl: string }> = {
  neg: { cpu: (x) => -x, wgsl: '-a' },
  exp: { cpu: Math.exp, wgsl: 'exp(a)' },
  log: { cpu: Math.log, wgsl: 'log_accurate(a)' },
  sqrt: { cpu: Math.sqrt, wgsl: 'sqrt(a)' },
  rsqrt: { cpu: (x) => 1 / Math.sqrt(x), wgsl: 'inverseSqrt(a)' },
  tanh: { cpu: Math.tanh, wgsl: 'tanh_accurate(a)' },
  sigmoid: { cpu: sigmoidCpu, wgsl: 'sigmoid(a)' },
  silu: { cpu: (x) => x * sigmoidCpu(x), wgsl: 'a * sigmoid(a)' },
  gelu: { cpu: (x) => x * normalCdfCpu(x), wgsl: 'a * normal_cdf(a)' },
  relu: { cpu: (x) => (x > 0 ? x : 0), wgsl: 'max(a, T(0.0))' },
  abs: { cpu: Math.abs, wgsl: 'abs(a)' },
  square: { cpu: (x) => x * x, wgsl: 'a * a' },
  scale: { cpu: (x, alpha) => x * alpha, wgsl: 'a * alpha' },
  add_scalar: { cpu: (x, alpha) => x + alpha, wgsl: 'a + alpha' },
  copy: { cpu: (x) => x, wgsl: 'a' },
};

const BINARY: Record<BinaryOp, { cpu: (a: number, b: number) => number; wgsl: string }> = {
  add: { cpu: (a, b) => a + b, wgsl: 'a + b' },
  sub: { cpu: (a, b) => a - b, wgsl: 'a - b' },
  mul: { cpu: (a, b) => a * b, wgsl: 'a * b' },
  div: { cpu: (a, b) => a / b, wgsl: 'a / b' },
  maximum: { cpu: Math.max, wgsl: 'max(a, b)' },
  minimum: { cpu: Math.min, wgsl: 'min(a, b)' },
  eq: { cpu: (a, b) => +(a === b), wgsl: 'select(T(0.0), T(1.0), a == b)' },
  gt: { cpu: (a, b) => +(a > b), wgsl: 'select(T(0.0), T(1.0), a > b)' },
  ge: { cpu: (a, b) => +(a >= b), wgsl: 'select(T(0.0), T(1.0), a >= b)' },
  lt: { cpu: (a, b) => +(a < b), wgsl: 'select(T(0.0), T(1.0), a < b)' },
  silu_grad: { cpu: (x, g) => g * siluDerivativeCpu(x), wgsl: 'b * silu_derivative(a)' },
  gelu_grad: { cpu: (x, g) => g * geluDerivativeCpu(x), wgsl: 'b * gelu_derivative(a)' },
  tanh_grad: { cpu: (y, g) => g * (1 - y * y), wgsl: 'b * (T(1.0) - a * a)' },
  // SwiGLU's gate: silu(a)·b in one pass over memory instead of two
  silu_mul: { cpu: (a, b) => a * sigmoidCpu(a) * b, wgsl: 'a * sigmoid(a) * b' },
};

const WHERE_WGSL = 'select(b, a, cond != T(0.0))';

function sigmoidCpu(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function siluDerivativeCpu(x: number): number {
  return sigmoidCpu(x) * (1 + x * sigmoidCpu(-x));
}

function geluDerivativeCpu(x: number): number {
  return normalCdfCpu(x) + x * Math.exp(-0.5 * x * x) * INV_SQRT_2PI;
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Φ(x), the standard normal CDF, to float64 rounding in absolute terms. */
function normalCdfCpu(x: number): number {
  return 0.5 * (1 + erfCpu(x * Math.SQRT1_2));
}

function erfCpu(x: number): number {
  const z = Math.abs(x);
  if (z > 6) return Math.sign(x); // erfc(6) < 3e-17
  // erf(z) = 2/√π · e^(-z²) · Σ z (2z²)^k / (1·3·…·(2k+1)): every term is positive, so no cancellation
  let term = z;
  let sum = z;
  for (let k = 1; term > sum * 1e-17; k++) {
    term *= (2 * z * z) / (2 * k + 1);
    sum += term;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-z * z) * sum;
}

// ---------------------------------------------------------------------------------------------
// WGSL helpers over T. The polynomial coefficients are our own minimax fits (Lawson-weighted
// least squares on relative error, evaluated in f32 to check).

// tanh: x·R(x²) below |x| = 0.625 (fit error 3.9e-9), (1 - e^-2|x|)/(1 + e^-2|x|) above; the
// builtin is accurate only in absolute terms near 0 (relative error 6e-5 at x = 0.0017).
const TANH_R = [0.99999999609, -0.33333260607, 0.13331128683, -0.053721134583, 0.020591157413, -0.0056601451995];
// Φ(x) for gelu splits at z = |x|/√2 = 1: erf(z) = z·P(z²) below (fit error 1.2e-9 on [0, 1]),
// erfc(z) = e^(-z²)·t·Q(t), t = 1/(1+z), above (9.4e-9 on [1, 9.5]): Φ is good to ~1.5e-7
// absolute in f32, and keeps its relative accuracy in the lower tail.
const ERF_P = [1.128379166, -0.3761262584, 0.1128358527, -0.02685381597, 0.005188334301, -8.010245733e-4, 7.854019443e-5];
const ERFC_Q = [0.5641787142, 0.5646051442, 0.2756536037, -0.2311683329, -0.9048498951, 0.01939244848, 3.379050483, -4.620028925, 2.025454416];

/** A WGSL polynomial c0 + v·(c1 + v·(...)) in Horner form, coefficients as f32 literals. */
export function horner(variable: string, coefficients: number[]): string {
  return coefficients.reduceRight((inner, c) => (inner ? `${c.toExponential(9)} + ${variable} * (${inner})` : c.toExponential(9)), '');
}

/**
 * WGSL `fn name(x: type) -> type`, ln x. lavapipe's log is good only to ~1e-6 absolute near 1,
 * where ln x is small; on [0.5, 2] we use 2·atanh(s), s = (x-1)/(x+1) (x - 1 is exact there and
 * s² <= 1/9, so 8 series terms reach 1e-9), which keeps the relative accuracy.
 */
export function wgslAccurateLog(name: string, type: string): string {
  const series = horner('s2', [1, 3, 5, 7, 9, 11, 13, 15].map((k) => 1 / k));
  return /* wgsl */ `
fn ${name}(x: ${type}) -> ${type} {
  let s = (x - 1.0) / (x + 1.0);
  let s2 = s * s;
  return select(log(x), 2.0 * s * (${series}), (x >= ${type}(0.5)) & (x <= ${type}(2.0)));
}`;
}

const WGSL_HELPERS: Record<string, string> = {
  tanh_accurate: /* wgsl */ `
fn tanh_accurate(x: T) -> T {
  let t = exp(-2.0 * abs(x));
  let large = sign(x) * (1.0 - t) / (1.0 + t);
  return select(large, x * (${horner('x * x', TANH_R)}), abs(x) < T(0.625));
}`,
  sigmoid: /* wgsl */ `
fn sigmoid(x: T) -> T { return T(1.0) / (T(1.0) + exp(-x)); }`,
  normal_cdf: /* wgsl */ `
fn normal_cdf(x: T) -> T {
  let z = abs(x) * 0.70710678;
  let erf_small = z * (${horner('z * z', ERF_P)});
  let t = T(1.0) / (T(1.0) + z);
  let erfc_large = exp(-z * z) * t * (${horner('t', ERFC_Q)});
  let lower_tail = select(0.5 * erfc_large, 0.5 - 0.5 * erf_small, z < T(1.0)); // Φ(-|x|)
  return select(lower_tail, 1.0 - lower_tail, x > T(0.0));
}`,
  // 1 - σ(x) as σ(-x): the subtraction would cancel for large x
  silu_derivative: /* wgsl */ `
fn silu_derivative(x: T) -> T { return sigmoid(x) * (1.0 + x * sigmoid(-x)); }`,
  log_accurate: wgslAccurateLog('log_accurate', 'T'),
  gelu_derivative: /* wgsl */ `
fn gelu_derivative(x: T) -> T { return normal_cdf(x) + x * exp(-0.5 * x * x) * ${INV_SQRT_2PI.toExponential(9)}; }`,
};

/** The helper functions an expression calls, and the helpers those call, in dependency order. */
function helpersFor(expr: string): string {
  const used = new Set<string>();
  const visit = (code: string) => {
    for (const [name, body] of Object.entries(WGSL_HELPERS)) {
      if (!used.has(name) && code.includes(`${name}(`)) {
        visit(body.replace(`fn ${name}(`, ''));
        used.add(name);
      }
    }
  };
  visit(expr);
  return [...used].map((name) => WGSL_HELPERS[name]).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Shapes: numpy broadcasting with right-aligned shapes.

/** Strides of `shape` walked inside `outShape`, right-aligned, 0 along broadcast dims. */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let stride = 1;
  for (let k = 1; k <= shape.length; k++) {
    const size = shape[shape.length - k];
    strides[outShape.length - k] = size === 1 ? 0 : stride;
    stride *= size;
  }
  return strides;
}

/** An iteration space: dims, outermost first, and each operand's stride (in elements) along them. */
export interface StridedView {
  /** never empty */
  dims: number[];
  /** per operand, its stride along each of `dims` */
  strides: number[][];
}

/**
 * Drops size-1 dims and merges neighbours that every operand walks contiguously (so
 * [B,T,C] + [C] becomes [B*T, C] + [1, C]): the kernels then loop over the fewest dims.
 */
export function collapseDims(shape: readonly number[], fullStrides: readonly (readonly number[])[]): StridedView {
  const dims: number[] = [];
  const strides: number[][] = fullStrides.map(() => []);
  shape.forEach((size, d) => {
    if (size === 1) return;
    const last = dims.length - 1;
    if (last >= 0 && fullStrides.every((s, t) => strides[t][last] === s[d] * size)) {
      dims[last] *= size;
      fullStrides.forEach((s, t) => (strides[t][last] = s[d]));
    } else {
      dims.push(size);
      fullStrides.forEach((s, t) => strides[t].push(s[d]));
    }
  });
  if (dims.length === 0) {
    dims.push(1);
    strides.forEach((s) => s.push(0));
  }
  return { dims, strides };
}

function collapseBroadcast(outShape: readonly number[], shapes: readonly (readonly number[])[]): StridedView {
  return collapseDims(outShape, shapes.map((shape) => broadcastStrides(shape, outShape)));
}

/** True when every operand is laid out exactly like the output: no broadcasting left. */
function isContiguous({ dims, strides }: StridedView): boolean {
  return dims.length === 1 && strides.every((s) => s[0] === 1 || dims[0] === 1);
}

export function product(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/**
 * Calls `row(outStart, starts)` once per run of the innermost collapsed dim, with each
 * operand's offset at the start of the run.
 */
export function forEachRow({ dims, strides }: StridedView, row: (outStart: number, starts: number[]) => void): void {
  const rank = dims.length;
  const rowLen = dims[rank - 1];
  const n = product(dims);
  const index = new Array<number>(rank).fill(0);
  const starts = strides.map(() => 0);
  for (let outStart = 0; outStart < n; outStart += rowLen) {
    row(outStart, starts);
    // odometer over the outer dims
    for (let d = rank - 2; d >= 0; d--) {
      index[d]++;
      strides.forEach((s, t) => (starts[t] += s[d]));
      if (index[d] < dims[d]) break;
      strides.forEach((s, t) => (starts[t] -= s[d] * dims[d]));
      index[d] = 0;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// CPU references.

export function unaryCpu(op: UnaryOp, x: Float64Array, out: Float64Array, n: number, alpha = 0): void {
  const f = UNARY[op].cpu;
  for (let i = 0; i < n; i++) out[i] = f(x[i], alpha);
}

export function binaryCpu(
  op: BinaryOp, a: Float64Array, aShape: number[], b: Float64Array, bShape: number[], out: Float64Array, outShape: number[],
): void {
  const f = BINARY[op].cpu;
  if (product(outShape) === 0) return;
  const collapsed = collapseBroadcast(outShape, [aShape, bShape]);
  const rowLen = collapsed.dims[collapsed.dims.length - 1];
  const [sa, sb] = collapsed.strides.map((s) => s[s.length - 1]);
  forEachRow(collapsed, (o, [ia, ib]) => {
    for (let j = 0; j < rowLen; j++) out[o + j] = f(a[ia + j * sa], b[ib + j * sb]);
  });
}

export function whereCpu(
  cond: Float64Array, condShape: number[], a: Float64Array, aShape: number[], b: Float64Array, bShape: number[],
  out: Float64Array, outShape: number[],
): void {
  if (product(outShape) === 0) return;
  const collapsed = collapseBroadcast(outShape, [condShape, aShape, bShape]);
  const rowLen = collapsed.dims[collapsed.dims.length - 1];
  const [sc, sa, sb] = collapsed.strides.map((s) => s[s.length - 1]);
  forEachRow(collapsed, (o, [ic, ia, ib]) => {
    for (let j = 0; j < rowLen; j++) out[o + j] = cond[ic + j * sc] !== 0 ? a[ia + j * sa] : b[ib + j * sb];
  });
}

// ---------------------------------------------------------------------------------------------
// WGSL generation. A map is named inputs, an output type and one expression.

type WordType = 'f32' | 'i32' | 'u32';

interface MapSpec {
  /** pipeline-cache key prefix; must identify inputs, output and expression */
  key: string;
  inputs: { name: string; type: WordType }[];
  output: WordType;
  /** WGSL expression over the inputs, `alpha` and the helpers, converted to the output type */
  expr: string;
  /** the type of the uniform scalar `p.s` (read as `alpha` when f32) */
  scalar: 'f32' | 'u32';
}

const WORKGROUP = 256;
/** vec4s per invocation on the contiguous path: fewer, fatter workgroups amortize lavapipe's per-group cost */
const ITEMS = 4;
/** items per invocation on the broadcast path: one index decomposition serves a run along the innermost dim */
const RUN = 8;
/** Collapsed broadcast ranks the kernels accept (two vec4s of dims in the params). */
const MAX_RANK = 8;

function vectorOf(type: WordType, width: 1 | 4): string {
  return width === 4 ? `vec4<${type}>` : type;
}

/** Declarations shared by the map kernels, then `main` with the given body. `fields` extend Params. */
function mapSource(spec: MapSpec, width: 1 | 4, inputTypes: string[], fields: string, mainBody: string): string {
  const inputs = spec.inputs.map(
    (input, k) => `@group(0) @binding(${k + 1}) var<storage, read> in_${input.name}: array<${inputTypes[k]}>;`,
  );
  const args = spec.inputs.map((input) => `${input.name}: ${vectorOf(input.type, width)}`);
  return /* wgsl */ `
alias T = ${vectorOf('f32', width)};
alias O = ${vectorOf(spec.output, width)};
struct Params { n: u32, s: ${spec.scalar}, ${fields} }
@group(0) @binding(0) var<uniform> p: Params;
${inputs.join('\n')}
@group(0) @binding(${spec.inputs.length + 1}) var<storage, read_write> out: array<O>;
${WGSL_GROUP_INDEX}
${helpersFor(spec.expr)}
fn apply(${args.join(', ')}) -> O {
  ${spec.scalar === 'f32' ? 'let alpha = p.s;' : ''}
  return O(${spec.expr});
}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${mainBody}
}`;
}

/**
 * Contiguous map: `width` elements per load and store, ITEMS items per invocation strided by
 * the workgroup; the last partial vec4 keeps the words past n.
 */
function contiguousSource(spec: MapSpec, width: 1 | 4): string {
  const args = spec.inputs.map((input) => `in_${input.name}[i]`).join(', ');
  const store =
    width === 1
      ? 'out[i] = r;'
      : /* wgsl */ `if (4u * i + 4u <= p.n) {
      out[i] = r;
    } else {
      let lane = vec4<u32>(4u * i) + vec4<u32>(0u, 1u, 2u, 3u);
      out[i] = select(out[i], r, lane < vec4<u32>(p.n));
    }`;
  const types = spec.inputs.map((input) => vectorOf(input.type, width));
  return mapSource(spec, width, types, '', /* wgsl */ `
  let count = (p.n + ${width - 1}u) / ${width}u;
  let first = group_index(wid, nwg) * ${WORKGROUP * ITEMS}u + lid;
  for (var k = 0u; k < ${ITEMS}u; k++) {
    let i = first + k * ${WORKGROUP}u;
    if (i >= count) { return; }
    let r = apply(${args});
    ${store}
  }`);
}

/**
 * Strided map. An invocation takes one output row (all dims but the innermost) and a run of RUN
 * items along the innermost dim: the row index is decomposed over the outer dims into each
 * input's offset, then the run steps along the innermost strides. With `splat` given, items
 * are vec4s (the innermost size is a multiple of 4): inputs that walk it load vec4s, inputs
 * broadcast along it (splat[k]) load one word and repeat it.
 */
function stridedSource(spec: MapSpec, splat: boolean[] | null): string {
  const width = splat ? 4 : 1;
  const slots = MAX_RANK / 4;
  const fields = `rank: u32, runs_per_row: u32, dims: array<vec4<u32>, ${slots}>, strides: array<vec4<u32>, ${slots * spec.inputs.length}>`;
  const offsets = spec.inputs.map((input) => `off_${input.name}`);
  const each = (f: (off: string, k: number) => string) => offsets.map(f).join(' ');
  const args = spec.inputs.map((input, k) => {
    if (!splat) return `in_${input.name}[${offsets[k]}]`;
    if (splat[k]) return `${vectorOf(input.type, 4)}(in_${input.name}[${offsets[k]}])`;
    return `in_${input.name}[${offsets[k]} / 4u]`;
  });
  const types = spec.inputs.map((input, k) => vectorOf(input.type, splat && !splat[k] ? 4 : 1));
  const source = mapSource(spec, width, types, fields, /* wgsl */ `
  let g = group_index(wid, nwg) * ${WORKGROUP}u + lid;
  let inner = p.rank - 1u;
  let items_per_row = p.dims[inner / 4u][inner % 4u] / ${width}u;
  let row = g / p.runs_per_row;
  if (row * items_per_row >= p.n / ${width}u) { return; }
  let first = (g % p.runs_per_row) * ${RUN}u;
  var rest = row;
  ${each((off) => `var ${off} = 0u;`)}
  for (var d = inner; d > 0u; d--) {
    let size = p.dims[(d - 1u) / 4u][(d - 1u) % 4u];
    let c = rest % size;
    rest = rest / size;
    ${each((off, k) => `${off} += c * stride(${k}u, d - 1u);`)}
  }
  ${each((off, k) => `${off} += ${width}u * first * stride(${k}u, inner);`)}
  let last = min(first + ${RUN}u, items_per_row);
  for (var i = first; i < last; i++) {
    out[row * items_per_row + i] = apply(${args.join(', ')});
    ${each((off, k) => `${off} += ${width}u * stride(${k}u, inner);`)}
  }`);
  return `${source}
fn stride(input: u32, d: u32) -> u32 { let w = input * ${MAX_RANK}u + d; return p.strides[w / 4u][w % 4u]; }`;
}

// ---------------------------------------------------------------------------------------------
// Launches.

function roundUp(x: number, multiple: number): number {
  return Math.ceil(x / multiple) * multiple;
}

/**
 * `words` 4-byte words of `buffer` from `offsetWords` on, as a binding rounded up to whole vec4s
 * where the buffer allows. Kernels bind ranges, not whole buffers: a pool buffer can exceed the
 * storage-binding limit even when the tensor in it does not.
 */
export function wordsBinding(buffer: GPUBuffer, words: number, offsetWords = 0): Binding {
  const offset = 4 * offsetWords;
  return { buffer, offset, size: Math.max(4, Math.min(buffer.size - offset, roundUp(4 * words, 16))) };
}

/**
 * Element windows [start, start + len) of an n-element contiguous pass, each small enough to
 * bind as one storage range (offsets stay aligned, len a multiple of 4 but for the last).
 */
export function bindingWindows(gpu: Gpu, n: number, maxBindingBytes = gpu.limits.maxStorageBufferBindingSize): Array<{ start: number; len: number }> {
  const alignment = Math.max(16, gpu.limits.minStorageBufferOffsetAlignment);
  const windowWords = (Math.floor(maxBindingBytes / alignment) * alignment) / 4;
  const windows: Array<{ start: number; len: number }> = [];
  for (let start = 0; start < n; start += windowWords) windows.push({ start, len: Math.min(windowWords, n - start) });
  return windows;
}

/**
 * Records a contiguous map over n elements. Buffers are bound in windows no larger than one
 * storage binding; vec4 access needs every buffer to cover n rounded up to a vec4 (pool buffers do).
 */
function launchContiguous(gpu: Gpu, spec: MapSpec, inputs: GPUBuffer[], out: GPUBuffer, n: number, scalarWord: number): void {
  if (n === 0) return;
  const width = [...inputs, out].every((b) => b.size >= roundUp(4 * n, 16)) ? 4 : 1;
  const pipe = gpu.pipeline(`${spec.key}:contiguous:${width}`, () => contiguousSource(spec, width));
  for (const { start, len } of bindingWindows(gpu, n)) {
    const bind = (buffer: GPUBuffer) => wordsBinding(buffer, len, start);
    const groups = Math.ceil(len / (width * WORKGROUP * ITEMS));
    gpu.dispatch(pipe, [...inputs.map(bind), bind(out)], [len, scalarWord], groups);
  }
}

/** Records a broadcast map; falls back to the contiguous path when nothing is broadcast. */
function launchBroadcast(
  gpu: Gpu, spec: MapSpec, inputs: GPUBuffer[], shapes: number[][], out: GPUBuffer, outShape: number[], scalarWord: number,
): void {
  const n = product(outShape);
  if (n === 0) return;
  const view = collapseBroadcast(outShape, shapes);
  if (isContiguous(view)) return launchContiguous(gpu, spec, inputs, out, n, scalarWord);
  const bindings = inputs.map((buffer, k) => wordsBinding(buffer, product(shapes[k])));
  launchStrided(gpu, spec, bindings, out, view, scalarWord);
}

/** Records a map whose inputs are read through the strides of `view` and whose output is contiguous. */
function launchStrided(gpu: Gpu, spec: MapSpec, inputs: Binding[], out: GPUBuffer, view: StridedView, scalarWord: number): void {
  const { dims, strides } = view;
  if (dims.length > MAX_RANK) throw new Error(`strided map over ${dims.length} dims: at most ${MAX_RANK} are supported`);
  const n = product(dims);
  const inner = dims[dims.length - 1];
  // vec4 items need each input either broadcast along the innermost dim or walking it with stride 1 from vec4-aligned rows
  const vectorizable = inner % 4 === 0 && strides.every((s) => {
    const innerStride = s[s.length - 1];
    return innerStride === 0 || (innerStride === 1 && s.every((v, d) => d === s.length - 1 || v % 4 === 0));
  });
  const splat = vectorizable ? strides.map((s) => s[s.length - 1] === 0) : null;
  const variant = splat ? splat.map((s) => (s ? 's' : 'v')).join('') : 'scalar';
  const pipe = gpu.pipeline(`${spec.key}:strided:${variant}`, () => stridedSource(spec, splat));
  const width = splat ? 4 : 1;
  const runsPerRow = Math.ceil(inner / width / RUN);
  const padded = (values: number[]) => [...values, ...new Array<number>(MAX_RANK - values.length).fill(0)];
  const params = [n, scalarWord, dims.length, runsPerRow, ...padded(dims), ...strides.flatMap(padded)];
  const groups = Math.ceil(((n / inner) * runsPerRow) / WORKGROUP);
  gpu.dispatch(pipe, [...inputs, wordsBinding(out, n)], params, groups);
}

const COPY_WORDS: MapSpec = { key: 'copy-words', inputs: [{ name: 'a', type: 'u32' }], output: 'u32', expr: 'a', scalar: 'u32' };

/**
 * out[i] = x[Σ c_d · strides[d]] for each coordinate c of `dims` (strides in 4-byte words):
 * the gather behind permute. A gather that turns out contiguous is a plain buffer copy.
 */
export function copyStridedGpu(gpu: Gpu, x: GPUBuffer, xWords: number, out: GPUBuffer, dims: number[], strides: number[]): void {
  const n = product(dims);
  if (n === 0) return;
  const view = collapseDims(dims, [strides]);
  if (isContiguous(view)) return gpu.copy(x, 0, out, 0, 4 * n);
  launchStrided(gpu, COPY_WORDS, [wordsBinding(x, xWords)], out, view, 0);
}

const F32_INPUTS = (names: string[]) => names.map((name) => ({ name, type: 'f32' as const }));

export function unaryGpu(gpu: Gpu, op: UnaryOp, x: GPUBuffer, out: GPUBuffer, n: number, alpha = 0): void {
  const spec: MapSpec = { key: `unary:${op}`, inputs: F32_INPUTS(['a']), output: 'f32', expr: UNARY[op].wgsl, scalar: 'f32' };
  launchContiguous(gpu, spec, [x], out, n, f32bits(alpha));
}

export function binaryGpu(
  gpu: Gpu, op: BinaryOp, a: GPUBuffer, aShape: number[], b: GPUBuffer, bShape: number[], out: GPUBuffer, outShape: number[],
): void {
  const spec: MapSpec = { key: `binary:${op}`, inputs: F32_INPUTS(['a', 'b']), output: 'f32', expr: BINARY[op].wgsl, scalar: 'f32' };
  launchBroadcast(gpu, spec, [a, b], [aShape, bShape], out, outShape, 0);
}

export function whereGpu(
  gpu: Gpu, cond: GPUBuffer, condShape: number[], a: GPUBuffer, aShape: number[], b: GPUBuffer, bShape: number[],
  out: GPUBuffer, outShape: number[],
): void {
  const spec: MapSpec = { key: 'where', inputs: F32_INPUTS(['cond', 'a', 'b']), output: 'f32', expr: WHERE_WGSL, scalar: 'f32' };
  launchBroadcast(gpu, spec, [cond, a, b], [condShape, aShape, bShape], out, outShape, 0);
}

/** Fills n words with `value` stored as f32 or i32 (the kernel moves bits). */
export function fillGpu(gpu: Gpu, out: GPUBuffer, n: number, value: number, dtype: 'f32' | 'i32'): void {
  const spec: MapSpec = { key: 'fill', inputs: [], output: 'u32', expr: 'p.s', scalar: 'u32' };
  launchContiguous(gpu, spec, [], out, n, dtype === 'f32' ? f32bits(value) : value >>> 0);
}

/** f32 -> i32 truncates toward zero (WGSL clamps values outside the i32 range); i32 -> f32 rounds to nearest. */
/** out = x widened from bf16 (two per u32 word, the even element in the low half) to f32: exact. */
export function widenBf16Gpu(gpu: Gpu, x: GPUBuffer, out: GPUBuffer, n: number): void {
  // windows of an even number of aligned words, so each x window starts aligned too
  const align = 2 * Math.max(16, gpu.limits.minStorageBufferOffsetAlignment);
  const pipe = gpu.pipeline('widen-bf16', () => WIDEN_BF16_SOURCE);
  for (const { start, len } of bindingWindows(gpu, n, Math.floor(gpu.limits.maxStorageBufferBindingSize / align) * align)) {
    const words = Math.ceil(len / 2);
    gpu.dispatch(pipe, [wordsBinding(x, words, start / 2), wordsBinding(out, len, start)], [len], Math.ceil(words / WORKGROUP));
  }
}

const WIDEN_BF16_SOURCE = /* wgsl */ `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${WGSL_GROUP_INDEX}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let w = group_index(wid, nwg) * ${WORKGROUP}u + lid;
  if (2u * w >= p.n) { return; }
  let v = x[w];
  out[2u * w] = bitcast<f32>(v << 16u);
  if (2u * w + 1u < p.n) { out[2u * w + 1u] = bitcast<f32>(v & 0xffff0000u); }
}`;

export function castGpu(gpu: Gpu, x: GPUBuffer, out: GPUBuffer, n: number, to: 'f32' | 'i32'): void {
  const from = to === 'f32' ? 'i32' : 'f32';
  const spec: MapSpec = { key: `cast:${to}`, inputs: [{ name: 'a', type: from }], output: to, expr: 'a', scalar: 'f32' };
  launchContiguous(gpu, spec, [x], out, n, 0);
}
