// The fused neural-network ops: softmax, norms, rotary embeddings, attention, losses,
// embedding lookup. Each forward is one kernel family; each backward its fused counterpart.

import type { AttentionShape } from '../../kernels/attention.js';
import { record } from '../autograd.js';
import { Tensor } from '../tensor.js';
import { checkFloat, checkSameBackend, checkWeight, fail, wrap } from './util.js';
import { addScalar, cast, div, eq, exp, ge, maximum, mul, neg, scalarLike, scale, square, sub } from './elementwise.js';
import { mean, sum } from './reduce.js';

function lastAxisRows(op: string, x: Tensor): [number, number] {
  if (x.rank < 1) fail(op, 'needs at least 1 dim', x);
  const n = x.shape[x.rank - 1];
  return [n === 0 ? 0 : x.size / n, n];
}

/** Softmax over the last axis. */
export function softmax(x: Tensor): Tensor {
  return softmaxOp('softmax', x, false);
}

/** Log-softmax over the last axis. */
export function logSoftmax(x: Tensor): Tensor {
  return softmaxOp('logSoftmax', x, true);
}

function softmaxOp(op: string, x: Tensor, logOut: boolean): Tensor {
  checkFloat(op, x);
  const [rows, n] = lastAxisRows(op, x);
  const out = wrap(x, x.backend.softmax(x, rows, n, logOut), x.shape);
  return record(op, out, [x], [out], (g, [y]) => [wrap(g, g.backend.softmaxBackward(y, g, rows, n, logOut), x.shape)]);
}

/** RMSNorm over the last axis: x / sqrt(mean(x²) + eps) · weight. */
export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  checkFloat('rmsNorm', x, weight);
  checkSameBackend('rmsNorm', x, weight);
  const [rows, dim] = lastAxisRows('rmsNorm', x);
  if (weight.rank !== 1 || weight.shape[0] !== dim) fail('rmsNorm', `weight must be [${dim}]`, x, weight);
  const { out, rstd } = x.backend.rmsNorm(x, weight, rows, dim, eps);
  const rstdT = wrap(x, rstd, [rows]);
  const y = wrap(x, out, x.shape);
  record('rmsNorm', y, [x, weight], [x, weight, rstdT], (g, [sx, sw, sr]) => {
    const { gx, gw } = g.backend.rmsNormBackward(sx, sw, sr, g, rows, dim, weight.requiresGrad || weight.node !== null);
    return [wrap(g, gx, x.shape), gw ? wrap(g, gw, weight.shape) : null];
  });
  rstdT.dispose();
  return y;
}

/** LayerNorm over the last axis with affine weight and bias (PyTorch semantics). */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  checkFloat('layerNorm', x, weight, bias);
  checkSameBackend('layerNorm', x, weight, bias);
  const [rows, dim] = lastAxisRows('layerNorm', x);
  if (weight.rank !== 1 || weight.shape[0] !== dim || bias.rank !== 1 || bias.shape[0] !== dim) {
    fail('layerNorm', `weight and bias must be [${dim}]`, x, weight, bias);
  }
  const r = x.backend.layerNorm(x, weight, bias, rows, dim, eps);
  const meanT = wrap(x, r.mean, [rows]);
  const rstdT = wrap(x, r.rstd, [rows]);
  const y = wrap(x, r.out, x.shape);
  const paramGrads = [weight, bias].some((t) => t.requiresGrad || t.node !== null);
  record('layerNorm', y, [x, weight, bias], [x, weight, meanT, rstdT], (g, [sx, sw, sm, sr]) => {
    const { gx, gw, gb } = g.backend.layerNormBackward(sx, sw, sm, sr, g, rows, dim, paramGrads);
    return [wrap(g, gx, x.shape), gw ? wrap(g, gw, weight.shape) : null, gb ? wrap(g, gb, bias.shape) : null];
  });
  meanT.dispose();
  rstdT.dispose();
  return y;
}

/**
 * Rotary position embedding on x [B, T, H, D] (HF rotate-half pairing) at positions
 * [B, T] (i32), with per-pair inverse frequencies [D/2] (see kernels/rope.ts ropeInvFreq).
 */
export function rope(x: Tensor, positions: Tensor, invFreq: Tensor): Tensor {
  checkFloat('rope', x, invFreq);
  if (x.rank !== 4) fail('rope', 'x must be [B, T, H, D]', x);
  const [B, T, H, D] = x.shape;
  if (D % 2 !== 0) fail('rope', 'head dim must be even', x);
  if (positions.dtype !== 'i32' || positions.shape.join() !== `${B},${T}`) fail('rope', `positions must be i32 [${B}, ${T}]`, x, positions);
  if (invFreq.size !== D / 2) fail('rope', `invFreq must have ${D / 2} elements`, x, invFreq);
  const out = wrap(x, x.backend.rope(x, positions, invFreq, B, T, H, D, false), x.shape);
  return record('rope', out, [x], [positions, invFreq], (g, [sp, sf]) => [wrap(g, g.backend.rope(g, sp, sf, B, T, H, D, true), x.shape)]);
}

export interface AttentionOptions {
  causal?: boolean;
  /** f32 [B, S]: 1 for a real key, 0 for padding (holes allowed) */
  keyMask?: Tensor | null;
  scale?: number;
  /** rows allocated per batch in k and v (a KV cache); the first S = k.shape[1] are used */
  kvCapacity?: number;
  /** number of valid key rows when k/v are a cache larger than S */
  kvLength?: number;
}

/**
 * Scaled dot-product attention with grouped-query heads: q [B, T, H, D], k/v [B, S, Hkv, D]
 * → [B, T, H, D]. Flash-style kernels: no T×S matrix is stored.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  checkFloat('attention', q, k, v);
  checkSameBackend('attention', q, k, v);
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) fail('attention', 'q, k, v must be [B, T, H, D], [B, S, Hkv, D], [B, S, Hkv, D]', q, k, v);
  const [B, T, H, D] = q.shape;
  const [Bk, Scap, Hkv, Dk] = k.shape;
  const S = opts.kvLength ?? Scap;
  if (Bk !== B || Dk !== D || v.shape.join() !== k.shape.join() || H % Hkv !== 0 || S > Scap) {
    fail('attention', 'q, k, v shapes disagree (batch, head dim, or heads not a multiple of kv heads)', q, k, v);
  }
  const causal = opts.causal ?? true;
  if (causal && S < T) fail('attention', `causal attention needs at least as many keys (${S}) as queries (${T})`, q, k);
  const mask = opts.keyMask ?? null;
  if (mask && (mask.dtype !== 'f32' || mask.shape.join() !== `${B},${S}`)) fail('attention', `keyMask must be f32 [${B}, ${S}]`, q, mask);
  const s: AttentionShape = { B, T, S, H, Hkv, D, scale: opts.scale ?? 1 / Math.sqrt(D), causal, kvCapacity: Scap };
  const r = q.backend.attention(q, k, v, mask, s);
  const out = wrap(q, r.out, q.shape);
  const lse = wrap(q, r.lse, [B, H, T]);
  const saved = mask ? [q, k, v, out, lse, mask] : [q, k, v, out, lse];
  record('attention', out, [q, k, v], saved, (g, [sq, sk, sv, so, sl, sm]) => {
    if (Scap !== S) throw new Error('attention: backward through a KV cache view is not supported');
    const gr = g.backend.attentionBackward(sq, sk, sv, sm ?? null, so, sl, g, s);
    return [wrap(g, gr.gq, q.shape), wrap(g, gr.gk, k.shape), wrap(g, gr.gv, v.shape)];
  });
  lse.dispose();
  return out;
}

export interface CrossEntropyOptions {
  ignoreIndex?: number;
  /** 'mean' over non-ignored rows (default), 'sum', or 'none' (per-row losses) */
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * Softmax cross-entropy of logits [N, V] (or [..., V]) against i32 targets [N]; rows whose
 * target is ignoreIndex (default -100) contribute nothing.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const { ignoreIndex = -100, reduction = 'mean' } = opts;
  checkFloat('crossEntropy', logits);
  const [N, V] = lastAxisRows('crossEntropy', logits);
  if (targets.dtype !== 'i32' || targets.size !== N) fail('crossEntropy', `targets must be i32 with ${N} elements`, logits, targets);
  const r = logits.backend.crossEntropy(logits, targets, N, V, ignoreIndex);
  const lse = wrap(logits, r.lse, [N]);
  const rowLoss = wrap(logits, r.loss, [N]);
  record('crossEntropy', rowLoss, [logits], [logits, targets, lse], (g, [sl, st, slse]) => [
    wrap(g, g.backend.crossEntropyBackward(sl, st, slse, g, N, V, ignoreIndex), logits.shape),
  ]);
  lse.dispose();
  return reduceRowLosses(rowLoss, targets, ignoreIndex, reduction);
}

/** Per-row losses [N] reduced as CrossEntropyOptions.reduction says ('mean': over non-ignored rows). */
export function reduceRowLosses(rowLoss: Tensor, targets: Tensor, ignoreIndex: number, reduction: 'mean' | 'sum' | 'none'): Tensor {
  if (reduction === 'none') return rowLoss;
  const total = sum(rowLoss);
  rowLoss.dispose();
  if (reduction === 'sum') return total;
  // the count of real targets stays on the device: no host read in the training step
  const ignored = sum(eq(cast(targets, 'f32'), scalarLike(total, ignoreIndex)));
  const real = maximum(addScalar(neg(ignored), targets.size), scalarLike(total, 1));
  return div(total, real);
}

/** Mean squared error over all elements. */
/**
 * Inverted dropout: each entry of x is zeroed where its uniform draw u < p and the rest are
 * scaled by 1/(1 − p), so the expectation is unchanged. `uniform` (same shape as x, e.g. from
 * Rng.uniform) decides the mask, which carries no gradient.
 */
export function dropout(x: Tensor, p: number, uniform: Tensor): Tensor {
  if (!(p >= 0 && p < 1)) fail('dropout', `p must be in [0, 1), got ${p}`, x);
  if (uniform.shape.join() !== x.shape.join()) fail('dropout', 'uniform must have the shape of x', x, uniform);
  if (p === 0) return x;
  return mul(x, scale(ge(uniform, scalarLike(uniform, p)), 1 / (1 - p)));
}

export function mseLoss(pred: Tensor, target: Tensor): Tensor {
  return mean(square(sub(pred, target)));
}

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * Log-density of x under a diagonal Gaussian N(mean, exp(logStd)²), elementwise:
 * -((x - μ)/σ)²/2 - log σ - log(2π)/2.
 */
export function gaussianLogProb(x: Tensor, mu: Tensor, logStd: Tensor): Tensor {
  const z = div(sub(x, mu), exp(logStd));
  return addScalar(sub(scale(square(z), -0.5), logStd), -HALF_LOG_2PI);
}

/**
 * Rows of table [V, D] (f32, or a frozen bf16 weight) picked by i32 ids [...]: [..., D]. The
 * gradient scatters back into the table.
 */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  checkWeight('embedding', table);
  if (table.rank !== 2) fail('embedding', 'table must be [V, D]', table);
  if (ids.dtype !== 'i32') fail('embedding', 'ids must be i32', ids);
  const [V, D] = table.shape;
  const out = wrap(table, table.backend.gatherRows(table, ids), [...ids.shape, D]);
  return record('embedding', out, [table], [ids], (g, [si]) => {
    const dTable = table.backend.filled(table.size, 'f32', 0);
    g.backend.scatterAddRows(g, si, dTable, V);
    return [wrap(g, dTable, table.shape)];
  });
}

