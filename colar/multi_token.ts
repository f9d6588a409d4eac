// The auxiliary multi-token objective, a CoT-stage lever for CoLaR (docs/EXPERIMENTS.md, the
// PyTorch calibration): besides the next token, slot t predicts the tokens 2..k ahead, each through its own
// head — a residual linear on the final normed hidden state, h + W_j·h, then the tied LM head —
// so the hidden state learns to hold the next k tokens, which is what the latent head must write
// in one step at compression k. Loss = mean over j = 2..k of CE_j, added to the next-token CE.
// The heads serve training only: CoLaR runs and eval do not use them.

import * as E from '../engine/index.js';
import type { Llama } from './llama/model.js';
import { IGNORE_INDEX } from './sequence.js';

export class MultiTokenHeads {
  /** weights[i]: [d, d], the head of the token i + 2 ahead */
  constructor(readonly weights: E.Tensor[]) {}

  /** Heads for 2..k tokens ahead, zero-initialised: each starts as the next-token head. */
  static init(engine: E.Engine, hidden: number, k: number): MultiTokenHeads {
    return new MultiTokenHeads(Array.from({ length: k - 1 }, () => engine.parameter(engine.zeros([hidden, hidden]))));
  }

  namedParameters(): Map<string, E.Tensor> {
    return new Map(this.weights.map((w, i) => [`multi_token.${i + 2}.weight`, w]));
  }

  /** Mean CE of the heads; `hidden` [B, L, d] normed, `targets` the next-token targets [B, L]. */
  loss(model: Llama, hidden: E.Tensor, targets: Int32Array): E.Tensor {
    const [B, L, d] = hidden.shape;
    const flat = E.reshape(hidden, [B * L, d]);
    const losses = this.weights.map((w, i) => model.lmLoss(E.add(flat, E.linear(flat, w)), model.engine.tensor(targetsAhead(targets, B, L, i + 2), [B * L], 'i32')));
    return E.scale(losses.reduce((s, l) => E.add(s, l)), 1 / losses.length);
  }
}

/**
 * The targets `ahead` slots on: slot t's target becomes the label of slot t + ahead (the
 * next-token target of slot t + ahead − 1), where slot t is trained at all and that slot exists.
 */
export function targetsAhead(targets: Int32Array, B: number, L: number, ahead: number): Int32Array {
  const out = new Int32Array(B * L).fill(IGNORE_INDEX);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t + ahead - 1 < L; t++) {
      if (targets[b * L + t] !== IGNORE_INDEX) out[b * L + t] = targets[b * L + t + ahead - 1];
    }
  }
  return out;
}
