// Evaluation as the paper reports it: accuracy and reasoning-chain length #L per compression
// factor, over several seeds, as mean ± 95% CI (1.96·σ/√n over the seeds), with per-sample
// records (question, gold, prediction, chain length, correct).

import * as E from '../engine/index.js';
import { isCorrectAnswer } from '../datasets/answer.js';
import type { QsaRecord } from '../datasets/record.js';
import { explicitReasoning, latentReasoning, PAPER_ANSWER_SAMPLING, teacherForcedReasoning, type ReasoningResult } from './inference.js';
import type { RunModel } from './run.js';
import type { Pooling } from './sequence.js';

/** 'teacher-forced': the gold chain compressed by c is fed instead of sampled latents */
export type EvalMode = 'latent' | 'cot' | 'no-cot' | 'teacher-forced';

export interface EvalOptions {
  mode: EvalMode;
  compression: number;
  seed: number;
  /** argmax tokens: the CoT chain, the stop decision and the answer (default: the paper's sampling) */
  greedy?: boolean;
  /** feed the latent Gaussian's mean instead of a sample */
  deterministic?: boolean;
  batchSize?: number;
  maxLatentSteps?: number;
  latentTemperature?: number;
  /** token budget for explicit (CoT) decoding */
  maxCotTokens?: number;
  /** how teacher-forced chains are compressed (the run's colar.pooling) */
  pooling?: Pooling;
  /** latent mode, c = 1: feed the nearest token embedding of each latent (a diagnostic) */
  snapToTokens?: boolean;
  /** latent mode: record each latent's nearest token, drift and stop probability per sample */
  trace?: boolean;
}

export interface SampleRecord {
  id: number;
  question: string;
  gold: string;
  prediction: string;
  chain_length: number;
  correct: boolean;
  /** with trace: per latent step, the nearest token's text, the drift and the stop probability */
  latent_trace?: { nearest: string[]; drift: number[]; p_stop: number[] };
}

export interface EvalResult {
  accuracy: number;
  meanChain: number;
  /** wall-clock milliseconds per question, batches included */
  msPerQuestion: number;
  samples: SampleRecord[];
}

export async function evaluateAccuracy(engine: E.Engine, run: RunModel, records: QsaRecord[], o: EvalOptions): Promise<EvalResult> {
  const batchSize = o.batchSize ?? 32;
  const samples: SampleRecord[] = [];
  const started = performance.now();
  for (let i = 0; i < records.length; i += batchSize) {
    const batch = records.slice(i, i + batchSize);
    const questions = batch.map((r) => r.question);
    const seed = (o.seed * 7919 + i) >>> 0;
    let result: ReasoningResult;
    if (o.mode === 'latent') {
      if (!run.head) throw new Error('latent evaluation needs a CoLaR run (one with a latent head)');
      result = await latentReasoning(run.model, run.head, run.prompt, questions, {
        compression: o.compression,
        maxLatentSteps: o.maxLatentSteps ?? 64,
        latentTemperature: o.latentTemperature ?? 1,
        deterministic: o.deterministic ?? false,
        snapToTokens: o.snapToTokens,
        trace: o.trace,
        stopTemperature: o.greedy ? 0 : 1,
        answer: o.greedy ? { greedy: true, maxNewTokens: 16 } : PAPER_ANSWER_SAMPLING,
        seed,
      });
    } else if (o.mode === 'teacher-forced') {
      const answer = o.greedy ? { greedy: true, maxNewTokens: 16 } : PAPER_ANSWER_SAMPLING;
      result = await teacherForcedReasoning(run.model, run.prompt, batch, { compression: o.compression, pooling: o.pooling ?? 'sqrt', answer, seed });
    } else {
      result = await explicitReasoning(run.model, run.prompt, questions, {
        mode: o.mode,
        maxNewTokens: o.maxCotTokens ?? 160,
        sampling: o.greedy ? { greedy: true } : { topP: 0.9, temperature: 1 },
        seed,
      });
    }
    batch.forEach((r, k) => {
      const prediction = run.tokenizer.decode(result.answerIds[k], { skipSpecialTokens: true });
      const trace = result.traces?.[k];
      samples.push({
        id: r.id, question: r.question, gold: r.answer, prediction, chain_length: result.chainLengths[k], correct: isCorrectAnswer(r.answer, prediction),
        ...(trace && { latent_trace: { nearest: trace.nearest.map((id) => run.tokenizer.decode([id])), drift: trace.drift, p_stop: trace.pStop } }),
      });
    });
  }
  const accuracy = samples.filter((s) => s.correct).length / Math.max(1, samples.length);
  const meanChain = samples.reduce((s, x) => s + x.chain_length, 0) / Math.max(1, samples.length);
  return { accuracy, meanChain, msPerQuestion: (performance.now() - started) / Math.max(1, records.length), samples };
}

export interface MeanCI {
  mean: number;
  ci95: number;
}

/** Mean and 1.96·σ/√n over per-seed values (σ the sample standard deviation). */
export function meanCI(values: number[]): MeanCI {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return { mean, ci95: 0 };
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  return { mean, ci95: (1.96 * Math.sqrt(variance)) / Math.sqrt(n) };
}

/** One row evaluated over seeds 0..n-1: accuracy (%) and #L as mean ± 95% CI, and each seed's result. */
export interface SeedsResult {
  accuracy: MeanCI;
  chainLength: MeanCI;
  msPerQuestion: MeanCI;
  perSeedAccuracy: number[];
  perSeedChainLength: number[];
  perSeed: EvalResult[];
}

/** The evaluation every report prints: the same questions decoded with seeds 0..seeds-1. */
export async function evaluateOverSeeds(engine: E.Engine, run: RunModel, records: QsaRecord[], seeds: number, o: Omit<EvalOptions, 'seed'>): Promise<SeedsResult> {
  const perSeed: EvalResult[] = [];
  for (let seed = 0; seed < seeds; seed++) perSeed.push(await evaluateAccuracy(engine, run, records, { ...o, seed }));
  const perSeedAccuracy = perSeed.map((r) => 100 * r.accuracy);
  const perSeedChainLength = perSeed.map((r) => r.meanChain);
  return {
    accuracy: meanCI(perSeedAccuracy), chainLength: meanCI(perSeedChainLength), msPerQuestion: meanCI(perSeed.map((r) => r.msPerQuestion)),
    perSeedAccuracy, perSeedChainLength, perSeed,
  };
}
