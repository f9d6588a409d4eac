// Log-probabilities of a rollout under the current policy, from one forward over
// [question + "###" | latents | "###" answer]:
//   latent t: the hidden state before it → latent head → mean over dimensions of
//             log N(z_t / embedStd; μ, σ);
//   answer j: log-softmax of the logits before it at its token (the leading "###", scored at
//             the last latent, is the stop decision).

import * as E from '../engine/index.js';
import type { LatentHead } from './latent_head.js';
import type { Llama } from './llama/model.js';

export interface Rollout {
  /** inference prompt ids (question with speed, then "###") */
  prompt: number[];
  /** latents fed, at embedding scale */
  latents: Float32Array[];
  /** "###" then the generated answer ids */
  answer: number[];
}

export interface RolloutLogprobs {
  /** [Σ latents] flat over samples in order */
  latent: E.Tensor;
  /** [Σ answer tokens] flat over samples in order */
  answer: E.Tensor;
}

export function rolloutLogprobs(model: Llama, head: LatentHead, rollouts: Rollout[], padId: number): RolloutLogprobs {
  const e = model.engine;
  const d = model.config.hiddenSize;
  const B = rollouts.length;
  const L = Math.max(...rollouts.map((r) => r.prompt.length + r.latents.length + r.answer.length));
  const ids = new Int32Array(B * L).fill(padId);
  const tokenWeight = new Float32Array(B * L);
  const mask = new Float32Array(B * L);
  // row 0 of the latent table is zeros: every non-latent slot points at it
  const latentRows: Float32Array[] = [new Float32Array(d)];
  const latentIndex = new Int32Array(B * L);
  const latentFrom: number[] = [];
  const answerFrom: number[] = [];
  const answerTargets: number[] = [];
  rollouts.forEach((r, b) => {
    const Q = r.prompt.length;
    const n = r.latents.length;
    const row = b * L;
    r.prompt.forEach((t, i) => ((ids[row + i] = t), (tokenWeight[row + i] = 1)));
    r.latents.forEach((z, t) => {
      latentIndex[row + Q + t] = latentRows.length;
      latentRows.push(z);
      latentFrom.push(row + Q - 1 + t);
    });
    r.answer.forEach((t, j) => {
      ids[row + Q + n + j] = t;
      tokenWeight[row + Q + n + j] = 1;
      answerFrom.push(row + Q + n + j - 1);
      answerTargets.push(t);
    });
    mask.fill(1, row, row + Q + n + r.answer.length);
  });
  const table = e.tensor(concatRows(latentRows, d), [latentRows.length, d]);
  const tokens = E.mul(model.embed(e.tensor(ids, [B, L], 'i32')), e.tensor(tokenWeight, [B, L, 1]));
  const inputs = E.add(tokens, E.embedding(table, e.tensor(latentIndex, [B, L], 'i32')));
  const { hidden } = model.forward({ embeds: inputs, keyMask: e.tensor(mask, [B, L]), logitsFor: 'none' });

  const K = latentFrom.length;
  const h = E.embedding(E.reshape(hidden, [B * L, d]), e.tensor(latentFrom, [K], 'i32'));
  const { mean, logStd } = head.forward(h);
  const target = e.tensor(concatRows(latentRows.slice(1), d).map((x) => x / head.embedStd), [K, d]);
  const latent = E.mean(E.gaussianLogProb(target, mean, logStd), { axis: 1 });

  const M = answerFrom.length;
  // only the answer rows go through the LM head
  const rows = E.embedding(E.reshape(hidden, [B * L, d]), e.tensor(answerFrom, [M], 'i32'));
  const answer = E.neg(model.lmLoss(rows, e.tensor(answerTargets, [M], 'i32'), { reduction: 'none' }));
  return { latent, answer };
}

function concatRows(rows: Float32Array[], d: number): Float32Array {
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, i) => out.set(r, i * d));
  return out;
}
