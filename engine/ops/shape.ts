// Layout ops. Reshape shares memory; everything else copies (tensors are always contiguous).

import { record } from '../autograd.js';
import { Tensor, formatShape, shapeSize, type Shape } from '../tensor.js';
import { fail, normAxis, splitAt, wrap } from './util.js';

/** Same elements, new shape; one dimension may be -1 (inferred). */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const inferred = [...shape];
  const hole = inferred.indexOf(-1);
  if (hole >= 0) {
    const rest = shapeSize(inferred.filter((_, i) => i !== hole));
    inferred[hole] = rest === 0 ? 0 : x.size / rest;
  }
  if (shapeSize(inferred) !== x.size || inferred.some((d) => !Number.isInteger(d) || d < 0)) {
    fail('reshape', `cannot reshape to ${formatShape(shape)}`, x);
  }
  const out = x.alias(inferred);
  return record('reshape', out, [x], [], (g) => [reshape(g, x.shape)]);
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const sorted = [...perm].sort((a, b) => a - b);
  if (perm.length !== x.rank || sorted.some((p, i) => p !== i)) fail('permute', `invalid permutation [${perm.join(', ')}]`, x);
  if (perm.every((p, i) => p === i)) return record('permute', x.alias(), [x], [], (g) => [g.alias()]);
  const shape = perm.map((p) => x.shape[p]);
  const out = wrap(x, x.backend.permute(x, perm), shape, x.dtype);
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => (inverse[p] = i));
  return record('permute', out, [x], [], (g) => [permute(g, inverse)]);
}

export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const a = normAxis('transpose', dim0, x.rank);
  const b = normAxis('transpose', dim1, x.rank);
  const perm = x.shape.map((_, i) => i);
  [perm[a], perm[b]] = [perm[b], perm[a]];
  return permute(x, perm);
}

/** Elements start..end-1 along an axis. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normAxis('slice', axis, x.rank);
  const n = x.shape[a];
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > n || start > end) {
    fail('slice', `range ${start}..${end} out of bounds for axis ${a} of size ${n}`, x);
  }
  const [outer, , inner] = splitAt(x.shape, a);
  const shape = x.shape.map((d, i) => (i === a ? end - start : d));
  const storage = x.backend.empty(shapeSize(shape), x.dtype);
  x.backend.copyRange(x, storage, outer, n, end - start, inner, start, 0, end - start);
  const out = wrap(x, storage, shape, x.dtype);
  return record('slice', out, [x], [], (g) => {
    const grad = x.backend.filled(x.size, 'f32', 0);
    g.backend.copyRange(g, grad, outer, end - start, n, inner, 0, start, end - start);
    return [wrap(g, grad, x.shape)];
  });
}

/** Joins tensors along an axis; all other dimensions must match. */
export function concat(xs: Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors');
  const first = xs[0];
  const a = normAxis('concat', axis, first.rank);
  for (const t of xs) {
    if (t.rank !== first.rank || t.dtype !== first.dtype || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      fail('concat', `shapes differ outside axis ${a}`, ...xs);
    }
  }
  const total = xs.reduce((s, t) => s + t.shape[a], 0);
  const shape = first.shape.map((d, i) => (i === a ? total : d));
  const [outer, , inner] = splitAt(shape, a);
  const storage = first.backend.empty(shapeSize(shape), first.dtype);
  const offsets: number[] = [];
  let offset = 0;
  for (const t of xs) {
    offsets.push(offset);
    first.backend.copyRange(t, storage, outer, t.shape[a], total, inner, 0, offset, t.shape[a]);
    offset += t.shape[a];
  }
  const out = wrap(first, storage, shape, first.dtype);
  return record('concat', out, xs, [], (g) => xs.map((t, i) => slice(g, a, offsets[i], offsets[i] + t.shape[a])));
}

/** Adds a dimension of size 1 at `axis`. */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = axis < 0 ? axis + x.rank + 1 : axis;
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}
