// Choosing the next token from a row of logits on the host: greedy, or temperature, top-k and
// nucleus (top-p) sampling as Hugging Face's warpers apply them (in that order), from a seeded
// uniform source.

import { philoxCpu } from '../../kernels/random.js';

export interface SamplingOptions {
  /** greedy (argmax) when true */
  greedy?: boolean;
  temperature?: number;
  /** keep only the topK most likely tokens (0: all); Hugging Face's generate() samples with 50 */
  topK?: number;
  /** of those, keep the smallest set of most likely tokens whose probability reaches topP */
  topP?: number;
}

export function argmaxOf(logits: ArrayLike<number>, offset = 0, n = logits.length - offset): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (logits[offset + i] > logits[offset + best]) best = i;
  return best;
}

/** One token id from logits[offset .. offset+n), using the uniform draw u ∈ (0, 1). */
export function sampleToken(logits: ArrayLike<number>, u: number, opts: SamplingOptions, offset = 0, n = logits.length - offset): number {
  const { greedy = false, temperature = 1, topK = 0, topP = 1 } = opts;
  if (greedy || temperature <= 0) return argmaxOf(logits, offset, n);
  const { probs, total } = unnormalisedSoftmax(logits, temperature, offset, n);
  let order = Array.from({ length: n }, (_, i) => i);
  let mass = total;
  if (topP < 1 || (topK > 0 && topK < n)) {
    // most likely first; ties by id, so a draw does not depend on the sort's stability
    order.sort((a, b) => probs[b] - probs[a] || a - b);
    if (topK > 0 && topK < n) {
      order = order.slice(0, topK);
      mass = order.reduce((m, i) => m + probs[i], 0);
    }
    if (topP < 1) {
      // nucleus over what top-k kept, renormalised, as the warpers chain
      let kept = 0;
      let cum = 0;
      while (kept < order.length && cum < topP * mass) cum += probs[order[kept++]];
      order = order.slice(0, Math.max(1, kept));
      mass = cum;
    }
  }
  let target = u * mass;
  for (const i of order) {
    target -= probs[i];
    if (target <= 0) return i;
  }
  return order[order.length - 1];
}

/** softmax(logits[offset .. offset+n))[id] */
export function tokenProbability(logits: ArrayLike<number>, id: number, offset = 0, n = logits.length - offset): number {
  const { probs, total } = unnormalisedSoftmax(logits, 1, offset, n);
  return probs[id] / total;
}

/** exp((logit − max) / temperature) per entry, and their sum */
function unnormalisedSoftmax(logits: ArrayLike<number>, temperature: number, offset: number, n: number): { probs: Float64Array; total: number } {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[offset + i]);
  const probs = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) total += probs[i] = Math.exp((logits[offset + i] - max) / temperature);
  return { probs, total };
}

/** A host-side uniform stream from the same Philox generator the kernels use. */
export class HostRng {
  constructor(
    readonly seed: number,
    private counter = 0,
  ) {}

  /** Uniform in (0, 1). */
  next(): number {
    const [a] = philoxCpu(this.seed >>> 0, this.counter++ >>> 0);
    return ((a >>> 8) + 0.5) / 16777216;
  }

  get offset(): number {
    return this.counter;
  }
}
