// Batched matrix products with transpose flags, and their gradients (matmuls with flags).

import { linearShape, type MatmulShape } from '../../kernels/matmul.js';
import { needsGrad, record } from '../autograd.js';
import { Tensor, type Shape } from '../tensor.js';
import { checkFloat, checkSameBackend, checkWeight, fail, wrap } from './util.js';
import { sum } from './reduce.js';
import { reshape } from './shape.js';
import { add } from './elementwise.js';

export interface MatmulOptions {
  /** use Aᵀ: a's last two dims are [K, M] */
  transA?: boolean;
  /** use Bᵀ: b's last two dims are [N, K] */
  transB?: boolean;
  alpha?: number;
}

/**
 * op(a) · op(b) over the last two dims. Batch dims must match, or one side is a plain
 * matrix shared by every batch of the other. b may be a frozen bf16 weight.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const { transA = false, transB = false, alpha = 1 } = opts;
  checkFloat('matmul', a);
  checkWeight('matmul', b);
  checkSameBackend('matmul', a, b);
  if (a.rank < 2 || b.rank < 2) fail('matmul', 'operands need at least 2 dims', a, b);
  const [aRows, aCols] = a.shape.slice(-2);
  const [bRows, bCols] = b.shape.slice(-2);
  const [M, K] = transA ? [aCols, aRows] : [aRows, aCols];
  const [Kb, N] = transB ? [bCols, bRows] : [bRows, bCols];
  if (K !== Kb) fail('matmul', `inner dimensions differ (${K} vs ${Kb}, transA=${transA}, transB=${transB})`, a, b);
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  // a batched, non-transposed a against a shared b is one tall matrix product
  if (aBatch.length && !bBatch.length && !transA) {
    return reshape(matmul(reshape(a, [-1, aCols]), b, opts), [...aBatch, M, N]);
  }
  let batchShape: Shape;
  if (bBatch.length === 0) batchShape = aBatch;
  else if (aBatch.length === 0) batchShape = bBatch;
  else if (aBatch.join() === bBatch.join()) batchShape = aBatch;
  else fail('matmul', 'batch dimensions differ', a, b);
  const batch = batchShape.reduce((p, d) => p * d, 1);
  const s: MatmulShape = {
    batch, M, N, K, transA, transB, alpha,
    aBatchStride: aBatch.length ? M * K : 0,
    bBatchStride: bBatch.length ? K * N : 0,
  };
  const out = wrap(a, a.backend.matmul(a, b, s), [...batchShape, M, N]);
  // a frozen operand (a LoRA base weight, a constant) gets no gradient product at all, so its
  // partner is not kept for one: a frozen weight's input activation is freed after the forward
  const [gradA, gradB] = [needsGrad(a), needsGrad(b)];
  const saved = [...(gradB ? [a] : []), ...(gradA ? [b] : [])];
  return record('matmul', out, [a, b], saved, (g, kept) => {
    const [sa, sb] = [kept[0], kept[kept.length - 1]];
    const ga = !gradA ? null : transA
      ? matmul(sb, g, { transA: transB, transB: true, alpha })
      : matmul(g, sb, { transB: !transB, alpha });
    const gb = !gradB ? null : transB
      ? matmul(g, sa, { transA: true, transB: transA, alpha })
      : matmul(sa, g, { transA: !transA, alpha });
    return [ga && reduceBatch(ga, a.shape), gb && reduceBatch(gb, b.shape)];
  });
}

/** A gradient computed per batch for an operand shared across batches is summed over them. */
function reduceBatch(g: Tensor, shape: Shape): Tensor {
  if (g.rank === shape.length) return g;
  const flat = reshape(g, [-1, ...g.shape.slice(-2)]);
  return sum(flat, { axis: 0 });
}

/**
 * A LoRA projection y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ (x [..., K], W [N, K], A [r, K], B [N, r]): x·Wᵀ and
 * x·Aᵀ come from one product over N + r columns (the backend packs x once), and s·(x·Aᵀ)·Bᵀ
 * accumulates into y. Like every matmul, the backward computes no gradient for a frozen W.
 */
export function loraLinear(x: Tensor, weight: Tensor, A: Tensor, B: Tensor, scale: number): Tensor {
  checkFloat('loraLinear', x, A, B);
  checkWeight('loraLinear', weight);
  checkSameBackend('loraLinear', x, weight, A, B);
  const K = x.shape.at(-1) ?? 0;
  const [N, r] = [weight.shape[0], A.shape[0]];
  if (weight.rank !== 2 || A.rank !== 2 || B.rank !== 2 || weight.shape[1] !== K || A.shape[1] !== K || B.shape[0] !== N || B.shape[1] !== r) {
    fail('loraLinear', 'expects x [..., K], W [N, K], A [r, K], B [N, r]', x, weight, A, B);
  }
  const M = x.size / Math.max(1, K);
  const { y, u: uStorage } = x.backend.loraProjection(x, weight, A, M, K, N, r);
  const u = wrap(x, uStorage, [M, r]);
  x.backend.matmul(u, B, linearShape(M, r, N, scale), y);
  const out = wrap(x, y, [...x.shape.slice(0, -1), N]);
  const [gradX, gradW, gradA, gradB] = [x, weight, A, B].map(needsGrad);
  record('loraLinear', out, [x, weight, A, B], [x, weight, A, B, u], (g, [sx, sw, sa, sb, su]) => {
    const g2 = reshape(g, [M, N]);
    const x2 = reshape(sx, [M, K]);
    // gu = s·g·B [M, r]: the gradient reaching x·Aᵀ
    const gu = gradX || gradA ? matmul(g2, sb, { alpha: scale }) : null;
    const gx = gradX ? add(matmul(g2, sw), matmul(gu!, sa)) : null;
    return [
      gx && reshape(gx, x.shape),
      gradW ? matmul(g2, x2, { transA: true }) : null,
      gradA ? matmul(gu!, x2, { transA: true }) : null,
      gradB ? matmul(g2, su, { transA: true, alpha: scale }) : null,
    ];
  });
  u.dispose();
  return out;
}

/** y = x·Wᵀ (+ b): PyTorch's Linear, weight [out, in]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const y = matmul(x, weight, { transB: true });
  return bias ? add(y, bias) : y;
}
