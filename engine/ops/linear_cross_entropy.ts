// Cross-entropy of an LM head's logits without the logits: crossEntropy(h·Wᵀ, targets) for
// h [..., d] and W [V, d], computed in chunks of rows. Each chunk's logits [rows, V] are made,
// reduced to per-row loss and log-sum-exp, and freed; the backward remakes them a chunk at a
// time. With Llama-3.2's 128,256-token vocabulary a batch of 512 tokens would otherwise hold
// 263 MB of logits, and as much again for their gradient, per pass.

import { needsGrad, noGrad, record } from '../autograd.js';
import { scope } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { matmul } from './matmul.js';
import { reduceRowLosses, type CrossEntropyOptions } from './nn.js';
import { reshape, slice } from './shape.js';
import { checkFloat, checkSameBackend, checkWeight, fail, wrap } from './util.js';

/** Logits per chunk by default: 64 MiB of f32 (130 rows of a 128k vocabulary). */
const CHUNK_LOGITS = 1 << 24;

export interface LinearCrossEntropyOptions extends CrossEntropyOptions {
  /** rows of h projected at a time (default: 2^24 logits' worth) */
  chunkRows?: number;
}

/**
 * crossEntropy(matmul(h, W, {transB: true}), targets) for h [..., d], W [V, d] (f32, or a frozen
 * bf16 weight) and i32 targets [N], holding at most chunkRows × V logits at once. Like matmul, it
 * computes no gradient for a frozen W (a LoRA run's tied embedding).
 */
export function linearCrossEntropy(h: Tensor, weight: Tensor, targets: Tensor, opts: LinearCrossEntropyOptions = {}): Tensor {
  const { ignoreIndex = -100, reduction = 'mean' } = opts;
  checkFloat('linearCrossEntropy', h);
  checkWeight('linearCrossEntropy', weight);
  checkSameBackend('linearCrossEntropy', h, weight, targets);
  const d = h.shape.at(-1) ?? 0;
  if (weight.rank !== 2 || weight.shape[1] !== d) fail('linearCrossEntropy', 'expects h [..., d] and W [V, d]', h, weight);
  const V = weight.shape[0];
  const N = d === 0 ? 0 : h.size / d;
  if (targets.dtype !== 'i32' || targets.size !== N) fail('linearCrossEntropy', `targets must be i32 with ${N} elements`, h, targets);
  const chunkRows = opts.chunkRows ?? Math.max(1, Math.floor(CHUNK_LOGITS / Math.max(1, V)));
  if (!Number.isInteger(chunkRows) || chunkRows < 1) fail('linearCrossEntropy', `chunkRows must be a positive integer, got ${chunkRows}`, h);
  const be = h.backend;
  const [gradH, gradW] = [needsGrad(h), needsGrad(weight)];

  /** Runs fn on each chunk of rows with its logits [n, V] and targets [n]; its temporaries die with the chunk. */
  const eachChunk = (hs: Tensor, ts: Tensor, fn: (r0: number, n: number, logits: Tensor, t: Tensor, hc: Tensor) => void) =>
    noGrad(() => {
      const h2 = reshape(hs, [N, d]);
      for (let r0 = 0; r0 < N; r0 += chunkRows) {
        const n = Math.min(chunkRows, N - r0);
        scope(() => {
          const hc = n === N ? h2 : slice(h2, 0, r0, r0 + n);
          fn(r0, n, matmul(hc, weight, { transB: true }), n === N ? ts : slice(ts, 0, r0, r0 + n), hc);
        });
      }
    });

  const rowLoss = wrap(h, be.empty(N, 'f32'), [N]);
  const lse = wrap(h, be.empty(N, 'f32'), [N]);
  eachChunk(h, targets, (r0, n, logits, t) => {
    const r = be.crossEntropy(logits, t, n, V, ignoreIndex);
    for (const [src, dst] of [[r.loss, rowLoss], [r.lse, lse]] as const) {
      be.copyRange(wrap(h, src, [n]), dst.storage, 1, n, N, 1, 0, r0, n);
    }
  });
  record('linearCrossEntropy', rowLoss, [h, weight], [h, weight, targets, lse], (g, [sh, sw, st, sl]) => {
    const gh = gradH ? be.empty(N * d, 'f32') : null;
    const gw = gradW ? be.filled(V * d, 'f32', 0) : null;
    eachChunk(sh, st, (r0, n, logits, t, hc) => {
      const part = (x: Tensor) => (n === N ? x : slice(x, 0, r0, r0 + n));
      const gl = wrap(h, be.crossEntropyBackward(logits, t, part(sl), part(g), n, V, ignoreIndex), [n, V]);
      if (gh) be.copyRange(matmul(gl, sw), gh, 1, n, N, d, 0, r0, n);
      // dW += glᵀ·h_chunk [V, d]
      if (gw) be.matmul(gl, hc, { batch: 1, M: V, N: d, K: n, transA: true, transB: false, aBatchStride: 0, bBatchStride: 0 }, gw);
    });
    return [gh && wrap(h, gh, h.shape), gw && wrap(h, gw, weight.shape)];
  });
  lse.dispose();
  return reduceRowLosses(rowLoss, targets, ignoreIndex, reduction);
}
