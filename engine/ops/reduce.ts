// Reductions over one axis or all, and the broadcast/sum-to pair that broadcasting's
// gradients need.

import type { ReduceOp } from '../../kernels/reduce.js';
import { record } from '../autograd.js';
import { Tensor, formatShape, shapeSize, type Shape } from '../tensor.js';
import { checkFloat, normAxis, splitAt, wrap } from './util.js';
import { div, eq, mul, scalarLike, scale } from './elementwise.js';
import { reshape } from './shape.js';

export interface ReduceOptions {
  /** the axis to reduce; all axes when omitted */
  axis?: number;
  keepDims?: boolean;
}

function reducedShape(x: Tensor, axis: number | undefined, keepDims: boolean): number[] {
  if (axis === undefined) return keepDims ? x.shape.map(() => 1) : [];
  const a = normAxis('reduce', axis, x.rank);
  return keepDims ? x.shape.map((d, i) => (i === a ? 1 : d)) : x.shape.filter((_, i) => i !== a);
}

function reduceRaw(op: ReduceOp, x: Tensor, axis: number | undefined, keepDims: boolean): Tensor {
  checkFloat(op, x);
  const [outer, n, inner] = axis === undefined ? [1, x.size, 1] : splitAt(x.shape, normAxis(op, axis, x.rank));
  return wrap(x, x.backend.reduce(op, x, outer, n, inner), reducedShape(x, axis, keepDims));
}

export function sum(x: Tensor, opts: ReduceOptions = {}): Tensor {
  const out = reduceRaw('sum', x, opts.axis, opts.keepDims ?? false);
  const kept = reducedShape(x, opts.axis, true);
  return record('sum', out, [x], [], (g) => [broadcastTo(reshape(g, kept), x.shape)]);
}

export function mean(x: Tensor, opts: ReduceOptions = {}): Tensor {
  const n = opts.axis === undefined ? x.size : x.shape[normAxis('mean', opts.axis, x.rank)];
  return scale(sum(x, opts), 1 / n);
}

/** Maximum over an axis; the gradient is shared equally among tied maxima. */
export function max(x: Tensor, opts: ReduceOptions = {}): Tensor {
  const out = reduceRaw('max', x, opts.axis, opts.keepDims ?? false);
  const kept = reducedShape(x, opts.axis, true);
  return record('max', out, [x], [x, out], (g, [sx, so]) => {
    const isMax = eq(sx, reshape(so, kept));
    const ties = reduceRaw('sum', isMax, opts.axis, true);
    return [mul(isMax, div(reshape(g, kept), ties))];
  });
}

/** Sum of squares of all elements (gradient-norm clipping); no gradient. */
export function sumSquares(x: Tensor): Tensor {
  return reduceRaw('sum_squares', x, undefined, false);
}

/** Index of the first maximum along the last axis; i32, no gradient. */
export function argmax(x: Tensor): Tensor {
  checkFloat('argmax', x);
  const n = x.shape[x.rank - 1];
  const rows = x.size / n;
  return wrap(x, x.backend.argmax(x, rows, n), x.shape.slice(0, -1), 'i32');
}

/** Repeats x along broadcast dimensions to `shape`. */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  if (formatShape(x.shape) === formatShape(shape)) return x.alias();
  const zero = scalarLike(x, 0);
  const out = wrap(x, x.backend.binary('add', x, zero, shape), shape);
  return record('broadcastTo', out, [x], [], (g) => [sumTo(g, x.shape)]);
}

/** Sums g over the dimensions that broadcasting added or stretched, giving `shape`. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (formatShape(g.shape) === formatShape(shape)) return g.alias();
  if (shapeSize(shape) === g.size) return reshape(g, shape);
  let t = g;
  const lead = g.rank - shape.length;
  for (let axis = g.rank - 1; axis >= 0; axis--) {
    const target = axis < lead ? 1 : shape[axis - lead];
    if (t.shape[axis] !== 1 && target === 1) t = sum(t, { axis, keepDims: true });
  }
  return reshape(t, shape);
}
