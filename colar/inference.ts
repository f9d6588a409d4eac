// Reasoning at inference time (docs/METHOD.md §3).
// Latent: prompt "(Thinking speed: c)" + "###"; at each step the latent head samples the next
// compressed embedding (μ + τσε, or μ when deterministic) from the last hidden state, feeds it
// back through the KV cache, and the LM head samples whether to stop ("###"). Then "###" is fed
// and the answer is sampled (top-p 0.9, T 1.0, at most 16 tokens). #L counts the latents fed,
// including the one whose LM-head output chose to stop.
// Explicit (CoT): the prompt at speed 1 plus "###", then plain sampling of steps and answer.

import * as E from '../engine/index.js';
import { encodeExample, encodeInferencePrompt, separatorId, type PromptTokenizer } from '../datasets/prompt.js';
import type { QuestionStepsAnswer } from '../datasets/record.js';
import type { LatentHead } from './latent_head.js';
import { Decoder } from './llama/decoder.js';
import { continueTokens } from './llama/generate.js';
import type { Llama } from './llama/model.js';
import { HostRng, sampleToken, tokenProbability, type SamplingOptions } from './llama/sampling.js';
import { buildSlotBatch, type Pooling, type SlotBatch } from './sequence.js';
import { slotEmbeddings } from './sft.js';

export interface AnswerSampling extends SamplingOptions {
  maxNewTokens: number;
}

/**
 * The reference's answer sampling: its config's top-p 0.9 at temperature 1, and the top-k 50
 * that Hugging Face's generate() applies by default whenever it samples.
 */
export const PAPER_ANSWER_SAMPLING: AnswerSampling = { topK: 50, topP: 0.9, temperature: 1, maxNewTokens: 16 };

export interface LatentInferenceOptions {
  compression: number;
  maxLatentSteps: number;
  latentTemperature: number;
  /** feed the mean of the latent Gaussian instead of a sample */
  deterministic: boolean;
  /** temperature of the LM head's stop decision */
  stopTemperature: number;
  answer: AnswerSampling;
  seed: number;
  /** keep the fed latents on the host (GRPO rollouts score them afterwards) */
  captureLatents?: boolean;
  /**
   * A diagnostic, not the method (c = 1 only): feed the token embedding nearest each latent,
   * separating what the latents say from how far they drift off the embedding table.
   */
  snapToTokens?: boolean;
  /** record what each latent fed reads as: its nearest token, its drift and the stop probability */
  trace?: boolean;
  /** with trace: also record each latent's this many nearest tokens (LatentTrace.nearestTop) */
  traceTop?: number;
}

/** Per latent step of one question: what was fed and what the LM head made of it. */
export interface LatentTrace {
  /** the token whose embedding is nearest the latent (at c > 1: the group's closest single token) */
  nearest: number[];
  /** ‖latent − that embedding‖ / ‖that embedding‖: 0 on the table, ~1 nowhere near it */
  drift: number[];
  /** the LM head's probability of "###" (stop) after the latent */
  pStop: number[];
  /** with traceTop k: the k tokens nearest the latent, nearest first (a group of c reads as several) */
  nearestTop: number[][];
}

export interface ReasoningResult {
  /** generated answer ids per question ("Answer:…" then EOS) */
  answerIds: number[][];
  /** #L: latents fed (latent mode) or chain tokens generated (CoT mode) */
  chainLengths: number[];
  /** with captureLatents: per question, the latents fed (embedding scale), each of length d */
  latents?: Float32Array[][];
  /** with trace: per question, its latent steps */
  traces?: LatentTrace[];
}

export async function latentReasoning(model: Llama, head: LatentHead, tok: PromptTokenizer, questions: string[], o: LatentInferenceOptions): Promise<ReasoningResult> {
  const e = model.engine;
  const B = questions.length;
  const sep = separatorId(tok);
  if (o.snapToTokens && o.compression !== 1) throw new Error(`snapping latents to token embeddings needs compression 1 (a group of ${o.compression} tokens is no single token), got ${o.compression}`);
  const prompts = questions.map((q) => encodeInferencePrompt(tok, q, o.compression));
  const L = Math.max(...prompts.map((p) => p.length));
  const decoder = new Decoder(model, B, L + o.maxLatentSteps + 1 + o.answer.maxNewTokens);
  const rng = new HostRng(o.seed);
  const noise = new E.Rng(o.seed);
  const V = model.config.vocabSize;
  try {
    let step = await decoder.prompt(prompts, tok.padId, false);
    const done = new Array<boolean>(B).fill(false);
    const chainLengths = new Array<number>(B).fill(0);
    const latents: Float32Array[][] = questions.map(() => []);
    const traces: LatentTrace[] = questions.map(() => ({ nearest: [], drift: [], pStop: [], nearestTop: [] }));
    const d = model.config.hiddenSize;
    for (let i = 0; i < o.maxLatentSteps && done.includes(false); i++) {
      const { z, near } = E.noGrad(() =>
        e.scope(() => {
          const { mean, logStd } = head.forward(step.hidden);
          const sample = o.deterministic ? mean : E.add(mean, E.mul(E.scale(E.exp(logStd), o.latentTemperature), noise.normal(e, mean.shape)));
          const latent = E.scale(sample, head.embedStd);
          const near = o.snapToTokens || o.trace ? nearestTokens(model, latent) : null;
          return { z: o.snapToTokens ? near!.embeds : latent, near };
        }),
      );
      step.hidden.dispose();
      const active = done.map((x) => !x);
      if (o.captureLatents) {
        const host = Float32Array.from(await z.data());
        active.forEach((a, b) => a && latents[b].push(host.slice(b * d, (b + 1) * d)));
      }
      const [ids, drift, score] = o.trace ? await Promise.all([near!.ids.data(), near!.drift.data(), o.traceTop ? near!.score.data() : []]) : [[], [], []];
      step = await decoder.embeds(z, active);
      // z is near.embeds when snapping: dispose each tensor once
      for (const t of new Set([z, ...(near ? [near.ids, near.drift, near.embeds, near.score] : [])])) t.dispose();
      for (let b = 0; b < B; b++) {
        const u = rng.next();
        if (done[b]) continue;
        chainLengths[b]++;
        if (o.trace) {
          traces[b].nearest.push(ids[b]);
          traces[b].drift.push(drift[b]);
          traces[b].pStop.push(tokenProbability(step.logits, sep, b * V, V));
          if (o.traceTop) traces[b].nearestTop.push(largestIndices(score, b * V, V, o.traceTop));
        }
        if (sampleToken(step.logits, u, { temperature: o.stopTemperature }, b * V, V) === sep) done[b] = true;
      }
    }
    step.hidden.dispose();
    // every row now reads "###" and answers
    const answerStart = await decoder.tokens(new Array<number>(B).fill(sep), new Array<boolean>(B).fill(true));
    answerStart.hidden.dispose();
    const answerIds = await continueTokens(decoder, answerStart.logits, rng, { ...o.answer, eosIds: [tok.eosId], padId: tok.padId });
    return { answerIds, chainLengths, latents: o.captureLatents ? latents : undefined, traces: o.trace ? traces : undefined };
  } finally {
    decoder.dispose();
  }
}

/**
 * The rows of the embedding table nearest (L2) each latent z [B, 1, d] (argmax of the score
 * 2·z·E − ‖E‖² [B, 1, V]): their ids [B, 1], embeddings [B, 1, d], and each latent's drift
 * ‖z − e‖ / ‖e‖ [B, 1].
 */
export function nearestTokens(model: Llama, z: E.Tensor): { ids: E.Tensor; embeds: E.Tensor; drift: E.Tensor; score: E.Tensor } {
  const table = model.embedTokens;
  const score = E.sub(E.matmul(z, table, { transB: true, alpha: 2 }), E.sum(E.square(E.cast(table, 'f32')), { axis: 1 }));
  const ids = E.argmax(score);
  const embeds = model.embed(ids);
  const norm = (x: E.Tensor) => E.sqrt(E.sum(E.square(x), { axis: 2 }));
  return { ids, embeds, drift: E.div(norm(E.sub(z, embeds)), norm(embeds)), score };
}

/** The indices of the k largest of values[offset .. offset+n), largest first. */
function largestIndices(values: ArrayLike<number>, offset: number, n: number, k: number): number[] {
  const top: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = values[offset + i];
    if (top.length === k && v <= values[offset + top[k - 1]]) continue;
    let at = top.length;
    while (at > 0 && v > values[offset + top[at - 1]]) at--;
    top.splice(at, 0, i);
    if (top.length > k) top.pop();
  }
  return top;
}

/**
 * The mechanics check: the gold chain, compressed by c exactly as in training, is fed in place
 * of sampled latents, then "###" and the sampled answer. It separates reading a compressed chain
 * (this) from writing one (latentReasoning). #L = compressed groups fed.
 */
export async function teacherForcedReasoning(model: Llama, tok: PromptTokenizer, examples: QuestionStepsAnswer[], o: { compression: number; pooling: Pooling; answer: AnswerSampling; seed: number }): Promise<ReasoningResult> {
  const B = examples.length;
  const sep = separatorId(tok);
  const prompts = examples.map((r) => encodeInferencePrompt(tok, r.question, o.compression));
  const chains = goldChainSlots(tok, examples, o.compression, o.pooling);
  const decoder = new Decoder(model, B, Math.max(...prompts.map((p) => p.length)) + chains.L + o.answer.maxNewTokens);
  try {
    (await decoder.prompt(prompts, tok.padId, false)).hidden.dispose();
    const groups = await feedGoldChain(decoder, chains);
    const answerStart = await decoder.tokens(new Array<number>(B).fill(sep), new Array<boolean>(B).fill(true));
    answerStart.hidden.dispose();
    const answerIds = await continueTokens(decoder, answerStart.logits, new HostRng(o.seed), { ...o.answer, eosIds: [tok.eosId], padId: tok.padId });
    return { answerIds, chainLengths: groups };
  } finally {
    decoder.dispose();
  }
}

/** Each row's gold chain compressed as in training, chain only: slot 0 is "###", slots 1..n the groups. */
export function goldChainSlots(tok: PromptTokenizer, examples: QuestionStepsAnswer[], compression: number, pooling: Pooling): SlotBatch {
  return buildSlotBatch(
    examples.map((r) => ({ question: [], steps: encodeExample(tok, r, compression).steps, answer: [] })),
    { compression, pooling, padId: tok.padId, random: () => 0 },
  );
}

/** Feeds each row's compressed groups after a prompt that ends with "###"; returns the groups per row. */
export async function feedGoldChain(decoder: Decoder, chains: SlotBatch): Promise<number[]> {
  const groups = chains.chainSlots.map((n) => n - 1);
  const embeds = E.noGrad(() => slotEmbeddings(decoder.model, chains));
  try {
    for (let i = 1; i <= Math.max(...groups); i++) {
      const z = E.slice(embeds, 1, i, i + 1);
      (await decoder.embeds(z, groups.map((n) => i <= n), false)).hidden.dispose();
      z.dispose();
    }
  } finally {
    embeds.dispose();
  }
  return groups;
}

export interface ExplicitReasoningOptions {
  /** at most this many tokens of steps and answer together */
  maxNewTokens: number;
  sampling: SamplingOptions;
  seed: number;
  /** "no-cot": the prompt is followed by the answer directly */
  mode: 'cot' | 'no-cot';
  /** how a CoT chain is measured (default 'reference'; see cotChainLength) */
  chainLength?: CotChainLength;
  /** called with each token as it is generated */
  onToken?: (row: number, id: number) => void;
}

export type CotChainLength = 'reference' | 'separator';

/**
 * #L of a generated CoT chain. 'reference', as the reference's evaluation counts it: the index of
 * the first "###" minus 1, else the index of the first ":" minus 3, else the whole output's
 * length. 'separator': the tokens generated before the answer's "###" (0 without one).
 */
export function cotChainLength(ids: number[], sep: number, colon: number | undefined, how: CotChainLength): number {
  const at = ids.indexOf(sep);
  if (how === 'separator') return Math.max(0, at);
  if (at >= 0) return at - 1;
  const colonAt = colon === undefined ? -1 : ids.indexOf(colon);
  return colonAt >= 0 ? colonAt - 3 : ids.length;
}

/** CoT (or No-CoT) decoding; chain length as cotChainLength measures it. */
export async function explicitReasoning(model: Llama, tok: PromptTokenizer, questions: string[], o: ExplicitReasoningOptions): Promise<ReasoningResult> {
  const sep = separatorId(tok);
  const prompts = questions.map((q) => encodeInferencePrompt(tok, q, 1));
  const L = Math.max(...prompts.map((p) => p.length));
  const decoder = new Decoder(model, questions.length, L + o.maxNewTokens + 1);
  try {
    // with no-cot the prompt's "###" is the answer's own: the model was trained without a chain
    const first = await decoder.prompt(prompts, tok.padId);
    first.hidden.dispose();
    const generated = await continueTokens(decoder, first.logits, new HostRng(o.seed), { ...o.sampling, maxNewTokens: o.maxNewTokens, eosIds: [tok.eosId], padId: tok.padId, onToken: o.onToken });
    const colon = tok.tokenToId(':');
    const chainLengths = generated.map((ids) => (o.mode === 'no-cot' ? 0 : cotChainLength(ids, sep, colon, o.chainLength ?? 'reference')));
    const answerIds = generated.map((ids) => (o.mode === 'no-cot' ? ids : ids.indexOf(sep) >= 0 ? ids.slice(ids.indexOf(sep) + 1) : ids));
    return { answerIds, chainLengths };
  } finally {
    decoder.dispose();
  }
}
