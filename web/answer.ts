// One question answered three ways with the project's own decoding (colar/inference.ts), as
// `colar-wgpu eval` decodes: CoT, CoLaR at compression c, and No-CoT. The page calls these on
// the browser's GPU; the browser test calls them on Node's to compare.

import { encodeInferencePrompt } from '../datasets/prompt.js';
import { explicitReasoning, latentReasoning, PAPER_ANSWER_SAMPLING } from '../colar/inference.js';
import { tokenLogprobs } from '../colar/llama/score.js';
import type { InferenceModel } from '../colar/model_files.js';

export type Way = 'cot' | 'colar' | 'nocot';

export interface AskOptions {
  compression: number;
  /** the paper's sampling with this seed; false: greedy tokens and the latent Gaussian's mean */
  sample: boolean;
  seed: number;
}

/** What one latent step reads as: the tokens nearest it (its compressed group), its drift, p(stop). */
export interface LatentStep {
  nearest: string[];
  drift: number;
  pStop: number;
}

export interface WayResult {
  way: Way;
  answer: string;
  /** #L: chain tokens (CoT), latents fed (CoLaR), 0 (No-CoT) */
  chainLength: number;
  /** wall-clock milliseconds, the last read-back included */
  ms: number;
  /** every token generated (CoT and No-CoT: chain, "###", answer, EOS) */
  generated?: number[];
  latents?: LatentStep[];
}

export const MAX_LATENT_STEPS = 64;
export const MAX_COT_TOKENS = 160;
/** nearest tokens shown per latent: at least the c tokens a group compresses */
export const nearestShown = (compression: number) => Math.max(3, compression);

const greedyAnswer = { greedy: true, maxNewTokens: 16 };

/** CoT or No-CoT; onToken sees each token's text as it is generated. */
export async function answerExplicit(run: InferenceModel, question: string, way: 'cot' | 'nocot', o: AskOptions, onToken?: (text: string) => void): Promise<WayResult> {
  const started = performance.now();
  const generated: number[] = [];
  const result = await explicitReasoning(run.model, run.prompt, [question], {
    mode: way === 'cot' ? 'cot' : 'no-cot',
    maxNewTokens: MAX_COT_TOKENS,
    sampling: o.sample ? { topP: 0.9, temperature: 1 } : { greedy: true },
    seed: o.seed,
    onToken: (_row, id) => {
      generated.push(id);
      onToken?.(run.tokenizer.decode([id]));
    },
  });
  const answer = run.tokenizer.decode(result.answerIds[0], { skipSpecialTokens: true });
  return { way, answer, chainLength: result.chainLengths[0], ms: performance.now() - started, generated };
}

export async function answerLatent(run: InferenceModel, question: string, o: AskOptions): Promise<WayResult> {
  if (!run.head) throw new Error('this model has no latent head (latent_head.safetensors): export a CoLaR run for latent reasoning');
  const started = performance.now();
  const result = await latentReasoning(run.model, run.head, run.prompt, [question], {
    compression: o.compression,
    maxLatentSteps: MAX_LATENT_STEPS,
    latentTemperature: 1,
    deterministic: !o.sample,
    stopTemperature: o.sample ? 1 : 0,
    answer: o.sample ? PAPER_ANSWER_SAMPLING : greedyAnswer,
    seed: o.seed,
    trace: true,
    traceTop: nearestShown(o.compression),
  });
  const trace = result.traces![0];
  const latents = trace.nearestTop.map((ids, i) => ({ nearest: ids.map((id) => run.tokenizer.decode([id])), drift: trace.drift[i], pStop: trace.pStop[i] }));
  const answer = run.tokenizer.decode(result.answerIds[0], { skipSpecialTokens: true });
  return { way: 'colar', answer, chainLength: result.chainLengths[0], ms: performance.now() - started, latents };
}

/** log p of the first n generated tokens given the question's prompt and the ones before (nats). */
export async function firstLogprobs(run: InferenceModel, question: string, generated: number[], n: number): Promise<number[]> {
  const prompt = encodeInferencePrompt(run.prompt, question, 1);
  const logprobs = await tokenLogprobs(run.model, [...prompt, ...generated.slice(0, n)]);
  return logprobs.slice(prompt.length - 1);
}
