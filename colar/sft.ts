// The supervised objectives (docs/METHOD.md §2): one forward over [question | chain | answer] with
// the chain compressed by factor c, then
//   CE     — the LM head predicts each chain group's label token and the answer tokens;
//   latent — the latent head at each chain slot predicts the next slot's input embedding
//            (÷ embedStd, detached): 'mse' on one reparameterised sample, 'nll' as a diagonal
//            Gaussian, 'soft-mse' = mse − α·entropy;
//   total  = ceWeight·CE + latentWeight·latent + entropyWeight·entropy
//            (+ predEmbedForwardWeight·CE of a second pass fed the head's own samples).
// With inputNoise σ, the compressed groups fed are perturbed by N(0, (σ·embedStd)²) per entry
// (the latent head's targets stay clean): the model learns to read latents that are near, not
// on, the gold embeddings — what free-running inference feeds it.
// CoT SFT is the same with c = 1 and no latent head; it may add the multi-token objective
// (multi_token.ts) to the total.

import * as E from '../engine/index.js';
import type { LATENT_LOSSES } from './config_schema.js';
import type { LatentHead } from './latent_head.js';
import type { MultiTokenHeads } from './multi_token.js';
import type { Llama } from './llama/model.js';
import type { SlotBatch } from './sequence.js';

export type LatentLossKind = (typeof LATENT_LOSSES)[number];

export interface SftLossConfig {
  latentLoss: LatentLossKind;
  ceWeight: number;
  latentWeight: number;
  /** weight of the mean entropy of the latent Gaussian (soft-mse uses −α) */
  entropyWeight: number;
  /** weight of the CE of a second pass fed the head's own samples (0: no second pass) */
  predEmbedForwardWeight?: number;
  /** how that pass feeds the samples: 'aligned' (this project's) or 'reference' (see ownLatentsCE) */
  predEmbedForwardVariant?: PredEmbedForwardVariant;
  /** std of the noise on the compressed groups fed, in embedding stds (0: none) */
  inputNoise?: number;
}

export type PredEmbedForwardVariant = 'aligned' | 'reference';

export const DEFAULT_SFT_LOSS: SftLossConfig = { latentLoss: 'mse', ceWeight: 1, latentWeight: 1, entropyWeight: 0 };

export interface SftLosses {
  total: E.Tensor;
  ce: E.Tensor;
  latent: E.Tensor | null;
  entropy: E.Tensor | null;
  /** the auxiliary multi-token CE (mean over its heads), when the run has them */
  multiToken: E.Tensor | null;
  /** CE of the second pass on the head's own samples, when predEmbedForwardWeight > 0 */
  predEmbedForward?: E.Tensor;
}

const HALF_LOG_2PI_E = 0.5 * Math.log(2 * Math.PI * Math.E);

/** Input embeddings of every slot: Σ_j w_j · E[token_j] → [B, L, d]. */
export function slotEmbeddings(model: Llama, batch: SlotBatch): E.Tensor {
  const e = model.engine;
  const { B, L, width } = batch;
  const ids = e.tensor(batch.ids, [B, L, width], 'i32');
  const weights = e.tensor(batch.weights, [B, L, width, 1]);
  const members = E.mul(model.embed(ids), weights);
  return width === 1 ? E.reshape(members, [B, L, model.config.hiddenSize]) : E.sum(members, { axis: 2 });
}

/**
 * What the latent head learns from, per chain slot (batch.latentSlots): the hidden state it reads
 * [N, d], and its target — the next slot's input embedding ÷ embedStd, detached [N, d].
 */
export function latentHeadPairs(model: Llama, batch: SlotBatch, inputs: E.Tensor, hidden: E.Tensor, embedStd: number): { h: E.Tensor; target: E.Tensor } {
  const e = model.engine;
  const { B, L } = batch;
  const d = model.config.hiddenSize;
  const N = batch.latentSlots.length;
  const h = E.embedding(E.reshape(hidden, [B * L, d]), e.tensor(batch.latentSlots, [N], 'i32'));
  const nextSlots = e.tensor(batch.latentSlots.map((i) => i + 1), [N], 'i32');
  const target = E.noGrad(() => E.scale(E.embedding(E.reshape(inputs, [B * L, d]), nextSlots), 1 / embedStd));
  return { h, target };
}

export function sftLosses(model: Llama, head: LatentHead | null, batch: SlotBatch, cfg: SftLossConfig, rng: E.Rng, multiToken: MultiTokenHeads | null = null): SftLosses {
  const e = model.engine;
  const { B, L } = batch;
  const d = model.config.hiddenSize;
  const inputs = slotEmbeddings(model, batch);
  const noise = head ? (cfg.inputNoise ?? 0) * head.embedStd : 0;
  const fed = noise > 0 ? E.add(inputs, E.mul(E.scale(rng.normal(e, [B, L, d]), noise), e.tensor(groupSlotMask(batch), [B, L, 1]))) : inputs;
  const { hidden } = model.forward({ embeds: fed, keyMask: e.tensor(batch.mask, [B, L]), positions: e.tensor(batch.positions, [B, L], 'i32'), dropoutRng: rng, logitsFor: 'none' });
  const ce = model.lmLoss(hidden, e.tensor(batch.targets, [B * L], 'i32'));
  const aux = multiToken ? multiToken.loss(model, hidden, batch.targets) : null;
  if (!head || batch.latentSlots.length === 0) {
    const total = E.scale(ce, cfg.ceWeight);
    return { total: aux ? E.add(total, aux) : total, ce, latent: null, entropy: null, multiToken: aux };
  }

  const N = batch.latentSlots.length;
  const { h, target } = latentHeadPairs(model, batch, inputs, hidden, head.embedStd);
  const { mean, logStd } = head.forward(h);
  const entropy = E.addScalar(E.mean(logStd), HALF_LOG_2PI_E);
  const sample = () => E.add(mean, E.mul(E.exp(logStd), rng.normal(e, [N, d])));
  const mseSample = cfg.latentLoss === 'nll' ? null : sample();
  const latent = mseSample ? E.mseLoss(mseSample, target) : E.neg(E.mean(E.gaussianLogProb(target, mean, logStd)));
  let total = E.add(E.add(E.scale(ce, cfg.ceWeight), E.scale(latent, cfg.latentWeight)), E.scale(entropy, cfg.entropyWeight));
  if (aux) total = E.add(total, aux);
  const pefWeight = cfg.predEmbedForwardWeight ?? 0;
  if (pefWeight === 0) return { total, ce, latent, entropy, multiToken: aux };
  const variant = cfg.predEmbedForwardVariant ?? 'aligned';
  const samples = variant === 'aligned' ? E.scale(mseSample ?? sample(), head.embedStd) : (mseSample ?? sample());
  const predEmbedForward = ownLatentsCE(model, batch, inputs, samples, variant);
  return { total: E.add(total, E.scale(predEmbedForward, pefWeight)), ce, latent, entropy, multiToken: aux, predEmbedForward };
}

/** [B·L] 1 at each compressed group (a chain slot after the "###" that opens the chain), else 0. */
export function groupSlotMask(batch: SlotBatch): Float32Array {
  const mask = new Float32Array(batch.B * batch.L);
  const chain = new Set(batch.latentSlots);
  for (const slot of batch.latentSlots) if (chain.has(slot - 1)) mask[slot] = 1;
  return mask;
}

/**
 * The reference's pred_embed_forward (docs/METHOD.md §2.3, item 4): a second forward in which
 * latent slots are fed the head's own samples instead of the gold embeddings, scored by the same
 * CE. Gradients reach the head through the samples, so it learns to write latents the model can
 * go on from — the exposure that free-running inference has and teacher forcing lacks.
 * 'aligned' (this project's): every slot the head predicts (each chain group after "###", and
 * the answer's "###") reads the sample predicted for it, at the embedding scale (`samples`
 * already × embedStd). 'reference': as the reference's code does it, each chain slot after
 * "###" reads the sample its own hidden state produced — the one meant for the next slot — in the
 * normalised space (`samples` as drawn), and the answer's "###" keeps its gold embedding.
 */
export function ownLatentsCE(model: Llama, batch: SlotBatch, inputs: E.Tensor, samples: E.Tensor, variant: PredEmbedForwardVariant = 'aligned'): E.Tensor {
  const e = model.engine;
  const { B, L } = batch;
  const d = model.config.hiddenSize;
  const N = batch.latentSlots.length;
  // one gather from [samples; gold inputs]: slot r reads sample k, or its gold input N + r
  const source = Int32Array.from({ length: B * L }, (_, r) => N + r);
  const chain = new Set(batch.latentSlots);
  batch.latentSlots.forEach((slot, k) => {
    if (variant === 'aligned') source[slot + 1] = k;
    else if (chain.has(slot - 1)) source[slot] = k;
  });
  const fed = E.embedding(E.concat([samples, E.reshape(inputs, [B * L, d])], 0), e.tensor(source, [B * L], 'i32'));
  const { hidden } = model.forward({ embeds: E.reshape(fed, [B, L, d]), keyMask: e.tensor(batch.mask, [B, L]), positions: e.tensor(batch.positions, [B, L], 'i32'), logitsFor: 'none' });
  return model.lmLoss(hidden, e.tensor(batch.targets, [B * L], 'i32'));
}
