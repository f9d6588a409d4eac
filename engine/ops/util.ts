// Helpers shared by the ops: wrapping backend memory as tensors, checks with one-line errors.

import type { DType } from '../backend.js';
import type { Storage } from '../storage.js';
import { Tensor, formatShape, type Shape } from '../tensor.js';

/** A new tensor on `like`'s backend over freshly computed memory. */
export function wrap(like: Tensor, storage: Storage, shape: Shape, dtype: DType = 'f32'): Tensor {
  return new Tensor(like.backend, storage, shape, dtype);
}

export function fail(op: string, message: string, ...tensors: Tensor[]): never {
  const shapes = tensors.map((t) => `${formatShape(t.shape)} ${t.dtype}`).join(', ');
  throw new Error(`${op}: ${message}${shapes ? ` (got ${shapes})` : ''}`);
}

export function checkFloat(op: string, ...tensors: Tensor[]): void {
  for (const t of tensors) {
    if (t.dtype === 'bf16') fail(op, "expects f32 tensors; a bf16 weight is read only by matmul (as b), loraLinear, embedding and linearCrossEntropy: widen it with cast(t, 'f32')", ...tensors);
    if (t.dtype !== 'f32') fail(op, 'expects f32 tensors', ...tensors);
  }
}

/** A weight operand: f32, or a frozen bf16 weight that the op's kernels widen as they read it. */
export function checkWeight(op: string, t: Tensor): void {
  if (t.dtype !== 'f32' && t.dtype !== 'bf16') fail(op, 'expects an f32 or bf16 weight', t);
}

export function checkSameBackend(op: string, ...tensors: Tensor[]): void {
  const b = tensors[0].backend;
  for (const t of tensors) if (t.backend !== b) fail(op, 'tensors live on different backends', ...tensors);
}

/** A normalised axis in [0, rank); negative counts from the end. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new Error(`${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** [outer, n, inner] around one axis, the view most kernels take. */
export function splitAt(shape: Shape, axis: number): [number, number, number] {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  return [outer, shape[axis], inner];
}
