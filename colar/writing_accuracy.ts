// Can the latent head *write* the compressed chain? With the true prefix (the gold chain
// compressed by c, as in training), the head's mean at each chain slot is compared with every
// next-slot target of the batch: it is right when its own target is the nearest. Groups that
// hold digits of an equation's result (after "=", before ">>") are counted apart, since at
// small scale those are what the head fails to produce (docs/EXPERIMENTS.md, the PyTorch calibration).

import * as E from '../engine/index.js';
import { encodeExample } from '../datasets/prompt.js';
import type { QuestionStepsAnswer } from '../datasets/record.js';
import type { RunModel } from './run.js';
import { buildSlotBatch, type Pooling } from './sequence.js';
import { latentHeadPairs, slotEmbeddings } from './sft.js';

export interface WritingAccuracy {
  compression: number;
  /** predictions compared: one per chain slot (the last one predicts the answer's "###") */
  slots: number;
  /** fraction whose own target is the nearest of the batch's targets */
  nearest: number;
  /** the same over slots whose target group holds result digits, and over the others */
  nearestResult: number;
  nearestOther: number;
  /** mean ‖mean − target‖² / mean ‖target‖² */
  relativeError: number;
}

export async function latentWritingAccuracy(run: RunModel, examples: QuestionStepsAnswer[], o: { compression: number; pooling: Pooling; batchSize?: number }): Promise<WritingAccuracy> {
  const { model, head, prompt } = run;
  if (!head) throw new Error('writing accuracy needs a CoLaR run (one with a latent head)');
  const d = model.config.hiddenSize;
  const origin = new Float32Array(d);
  const counts = { slots: 0, right: 0, result: 0, resultRight: 0, error: 0, norm: 0 };
  const batchSize = o.batchSize ?? 32;
  for (let i = 0; i < examples.length; i += batchSize) {
    const encoded = examples.slice(i, i + batchSize).map((r) => encodeExample(prompt, r, o.compression));
    const batch = buildSlotBatch(encoded, { compression: o.compression, pooling: o.pooling, padId: prompt.padId, random: () => 0 });
    const N = batch.latentSlots.length;
    const [predicted, target] = E.noGrad(() =>
      model.engine.scope(() => {
        const inputs = slotEmbeddings(model, batch);
        const { hidden } = model.forward({ embeds: inputs, keyMask: model.engine.tensor(batch.mask, [batch.B, batch.L]), logitsFor: 'none' });
        const pairs = latentHeadPairs(model, batch, inputs, hidden, head.embedStd);
        return [head.forward(pairs.h).mean, pairs.target].map((t) => E.keep(t));
      }),
    );
    const [p, t] = [await predicted.data(), await target.data()];
    predicted.dispose();
    target.dispose();
    const holdsResult = encoded.flatMap((ex) => resultGroups((id) => run.tokenizer.decode([id]), ex.steps.slice(1), o.compression));
    for (let a = 0; a < N; a++) {
      const own = squaredDistance(p, a, t, a, d);
      let nearest = true;
      for (let b = 0; b < N && nearest; b++) if (b !== a && squaredDistance(p, a, t, b, d) < own) nearest = false;
      counts.slots++;
      counts.right += Number(nearest);
      if (holdsResult[a]) {
        counts.result++;
        counts.resultRight += Number(nearest);
      }
      counts.error += own;
      counts.norm += squaredDistance(t, a, origin, 0, d);
    }
  }
  return {
    compression: o.compression,
    slots: counts.slots,
    nearest: counts.right / counts.slots,
    nearestResult: counts.resultRight / Math.max(1, counts.result),
    nearestOther: (counts.right - counts.resultRight) / Math.max(1, counts.slots - counts.result),
    relativeError: counts.error / counts.norm,
  };
}

/**
 * For one row, per latent slot, whether its target group holds result digits: slot k predicts
 * group k of the compressed steps, and the last slot the answer's "###" (no result).
 */
export function resultGroups(decode: (id: number) => string, steps: number[], c: number): boolean[] {
  let inResult = false;
  const isResult = steps.map((id) => {
    const text = decode(id);
    if (text.includes('>>')) inResult = false;
    const result = inResult && /\d/.test(text);
    if (text.includes('=')) inResult = true;
    return result;
  });
  const groups: boolean[] = [];
  for (let g = 0; g < steps.length; g += c) groups.push(isResult.slice(g, g + c).some(Boolean));
  return [...groups, false];
}

function squaredDistance(x: ArrayLike<number>, i: number, y: ArrayLike<number>, j: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) {
    const diff = x[i * d + k] - y[j * d + k];
    s += diff * diff;
  }
  return s;
}
