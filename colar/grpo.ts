// GRPO on the latent chain (docs/METHOD.md §4): group-normalised advantages, the clipped ratio
// objective per position, and its aggregation per sample — the masked mean over the sample's
// positions (the paper's "averaged" reward) or the masked sum / 32 (the reference's other
// setting) — then the mean over samples. No KL term, no reference model.

import * as E from '../engine/index.js';
import type { AGGREGATIONS } from './config_schema.js';

export type Aggregation = (typeof AGGREGATIONS)[number];

/** (r − mean) / (unbiased std + 1e-8) within each consecutive group of `groupSize` rewards. */
export function groupAdvantages(rewards: number[], groupSize: number): number[] {
  if (rewards.length % groupSize !== 0) throw new Error(`grpo: ${rewards.length} rewards do not split into groups of ${groupSize}`);
  const out: number[] = [];
  for (let g = 0; g < rewards.length; g += groupSize) {
    const group = rewards.slice(g, g + groupSize);
    const mean = group.reduce((s, r) => s + r, 0) / groupSize;
    const std = groupSize > 1 ? Math.sqrt(group.reduce((s, r) => s + (r - mean) ** 2, 0) / (groupSize - 1)) : 0;
    for (const r of group) out.push((r - mean) / (std + 1e-8));
  }
  return out;
}

/** Per-position weights that turn a sum over positions into the per-sample aggregation, then the mean over samples. */
export function aggregationWeights(positionsPerSample: number[], aggregation: Aggregation): number[] {
  const samples = positionsPerSample.length;
  return positionsPerSample.flatMap((n) => new Array<number>(n).fill(aggregation === 'mean' ? 1 / (n * samples) : 1 / (32 * samples)));
}

export interface ClippedObjective {
  loss: E.Tensor;
  /** fraction of positions where the clipped term was the one taken (a number on the device) */
  clipFraction: E.Tensor;
}

/**
 * −Σ_p w_p · min(ρ_p·A_p, clip(ρ_p, 1−ε, 1+ε)·A_p) with ρ = exp(logp − oldLogp), over flat
 * positions. `advantages` and `weights` are per position.
 */
export function clippedObjective(logp: E.Tensor, oldLogp: E.Tensor, advantages: E.Tensor, weights: E.Tensor, eps: number): ClippedObjective {
  const ratio = E.exp(E.sub(logp, oldLogp));
  const lo = E.scalarLike(ratio, 1 - eps);
  const hi = E.scalarLike(ratio, 1 + eps);
  const inside = E.mul(E.ge(ratio, lo), E.ge(hi, ratio));
  // clip(ρ) passes the gradient inside [1−ε, 1+ε] and none outside, like torch.clamp
  const clipped = E.where(inside, ratio, E.noGrad(() => E.minimum(E.maximum(ratio, lo), hi)));
  const plain = E.mul(ratio, advantages);
  const bounded = E.mul(clipped, advantages);
  const takeBounded = E.lt(bounded, plain);
  const objective = E.where(takeBounded, bounded, plain);
  const loss = E.neg(E.sum(E.mul(objective, weights)));
  const clipFraction = E.mean(E.noGrad(() => E.mul(takeBounded, E.sub(E.scalarLike(inside, 1), inside))));
  return { loss, clipFraction };
}
