// Elementwise ops with numpy broadcasting, and their gradients. Broadcast gradients are
// summed back to each input's shape (sumTo).

import type { BinaryOp, UnaryOp } from '../../kernels/elementwise.js';
import { record } from '../autograd.js';
import { Tensor, formatShape, type Shape } from '../tensor.js';
import { checkFloat, checkSameBackend, fail, wrap } from './util.js';
import { sumTo } from './reduce.js';

export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`${op}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

function unary(op: UnaryOp, x: Tensor, alpha = 0): Tensor {
  checkFloat(op, x);
  return wrap(x, x.backend.unary(op, x, alpha), x.shape);
}

function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  checkFloat(op, a, b);
  checkSameBackend(op, a, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  return wrap(a, a.backend.binary(op, a, b, shape), shape);
}

/** A scalar (shape []) constant on x's backend. */
export function scalarLike(x: Tensor, value: number): Tensor {
  return wrap(x, x.backend.filled(1, 'f32', value), []);
}

export function add(a: Tensor, b: Tensor): Tensor {
  return record('add', binary('add', a, b), [a, b], [], (g) => [sumTo(g, a.shape), sumTo(g, b.shape)]);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  return record('sub', binary('sub', a, b), [a, b], [], (g) => [sumTo(g, a.shape), neg(sumTo(g, b.shape))]);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  return record('mul', binary('mul', a, b), [a, b], [a, b], (g, [sa, sb]) => [sumTo(mul(g, sb), a.shape), sumTo(mul(g, sa), b.shape)]);
}

export function div(a: Tensor, b: Tensor): Tensor {
  const out = binary('div', a, b);
  return record('div', out, [a, b], [b, out], (g, [sb, so]) => [
    sumTo(div(g, sb), a.shape),
    sumTo(neg(div(mul(g, so), sb)), b.shape),
  ]);
}

export function scale(x: Tensor, s: number): Tensor {
  return record('scale', unary('scale', x, s), [x], [], (g) => [scale(g, s)]);
}

export function addScalar(x: Tensor, s: number): Tensor {
  return record('addScalar', unary('add_scalar', x, s), [x], [], (g) => [g.alias()]);
}

export function neg(x: Tensor): Tensor {
  return record('neg', unary('neg', x), [x], [], (g) => [neg(g)]);
}

export function exp(x: Tensor): Tensor {
  const out = unary('exp', x);
  return record('exp', out, [x], [out], (g, [so]) => [mul(g, so)]);
}

export function log(x: Tensor): Tensor {
  return record('log', unary('log', x), [x], [x], (g, [sx]) => [div(g, sx)]);
}

export function sqrt(x: Tensor): Tensor {
  const out = unary('sqrt', x);
  return record('sqrt', out, [x], [out], (g, [so]) => [scale(div(g, so), 0.5)]);
}

export function rsqrt(x: Tensor): Tensor {
  const out = unary('rsqrt', x);
  // d/dx x^-1/2 = -1/2 · x^-3/2 = -1/2 · out³
  return record('rsqrt', out, [x], [out], (g, [so]) => [scale(mul(g, mul(so, square(so))), -0.5)]);
}

export function square(x: Tensor): Tensor {
  return record('square', unary('square', x), [x], [x], (g, [sx]) => [scale(mul(g, sx), 2)]);
}

export function abs(x: Tensor): Tensor {
  return record('abs', unary('abs', x), [x], [x], (g, [sx]) => [mul(g, sub(gt(sx, scalarLike(sx, 0)), lt(sx, scalarLike(sx, 0))))]);
}

export function tanh(x: Tensor): Tensor {
  const out = unary('tanh', x);
  return record('tanh', out, [x], [out], (g, [so]) => [binary('tanh_grad', so, g)]);
}

export function sigmoid(x: Tensor): Tensor {
  const out = unary('sigmoid', x);
  return record('sigmoid', out, [x], [out], (g, [so]) => [mul(g, mul(so, addScalar(neg(so), 1)))]);
}

export function relu(x: Tensor): Tensor {
  return record('relu', unary('relu', x), [x], [x], (g, [sx]) => [mul(g, gt(sx, scalarLike(sx, 0)))]);
}

export function silu(x: Tensor): Tensor {
  return record('silu', unary('silu', x), [x], [x], (g, [sx]) => [binary('silu_grad', sx, g)]);
}

/** SwiGLU's gating silu(gate)·up, fused: one pass forward, and no silu(gate) kept for backward. */
export function siluMul(gate: Tensor, up: Tensor): Tensor {
  if (formatShape(gate.shape) !== formatShape(up.shape)) fail('siluMul', 'gate and up must have the same shape', gate, up);
  return record('siluMul', binary('silu_mul', gate, up), [gate, up], [gate, up], (g, [sg, su]) => [
    binary('silu_grad', sg, mul(g, su)),
    binary('silu_mul', sg, g),
  ]);
}

/** The exact (erf) GELU, as torch.nn.GELU() by default. */
export function gelu(x: Tensor): Tensor {
  return record('gelu', unary('gelu', x), [x], [x], (g, [sx]) => [binary('gelu_grad', sx, g)]);
}

/** Comparisons give 1 or 0 and carry no gradient. */
export function eq(a: Tensor, b: Tensor): Tensor {
  return binary('eq', a, b);
}
export function gt(a: Tensor, b: Tensor): Tensor {
  return binary('gt', a, b);
}
export function ge(a: Tensor, b: Tensor): Tensor {
  return binary('ge', a, b);
}
export function lt(a: Tensor, b: Tensor): Tensor {
  return binary('lt', a, b);
}
/** Elementwise maximum/minimum; carry no gradient (used for clamps and masks). */
export function maximum(a: Tensor, b: Tensor): Tensor {
  return binary('maximum', a, b);
}
export function minimum(a: Tensor, b: Tensor): Tensor {
  return binary('minimum', a, b);
}

/** cond != 0 ? a : b, broadcasting all three; the gradient flows to the branch taken. */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  checkFloat('where', cond, a, b);
  checkSameBackend('where', cond, a, b);
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, a.shape), b.shape);
  const out = wrap(a, a.backend.where(cond, a, b, shape), shape);
  return record('where', out, [a, b], [cond], (g, [sc]) => {
    const zero = scalarLike(g, 0);
    return [sumTo(where(sc, g, zero), a.shape), sumTo(where(sc, zero, g), b.shape)];
  });
}

/** Converts between f32 and i32 (toward zero); the result carries no gradient. */
/** Converts dtype; a bf16 tensor widens (exactly) to f32 only. */
export function cast(x: Tensor, to: 'f32' | 'i32'): Tensor {
  if (x.dtype === to) return x.alias();
  return wrap(x, x.backend.cast(x, to), x.shape, to);
}
