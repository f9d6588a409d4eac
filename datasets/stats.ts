// Figures that describe a dataset: how many records, how long the chains are (in steps,
// characters and, given a tokenizer, tokens), and what kind of answers it has. They size
// training presets and catch a bad conversion at a glance.

import { isCorrectAnswer, parsePythonFloat } from './answer.js';
import { encodeExample, type PromptTokenizer } from './prompt.js';
import type { QuestionStepsAnswer } from './record.js';

export interface Summary {
  count: number;
  min: number;
  mean: number;
  median: number;
  p90: number;
  max: number;
}

export function summarize(values: number[]): Summary {
  if (values.length === 0) return { count: 0, min: NaN, mean: NaN, median: NaN, p90: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const quantile = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return {
    count: sorted.length,
    min: sorted[0],
    mean: sorted.reduce((sum, value) => sum + value, 0) / sorted.length,
    median: quantile(0.5),
    p90: quantile(0.9),
    max: sorted[sorted.length - 1],
  };
}

/** Counts per bucket [k·width, (k+1)·width), keyed by the bucket's lower bound, in order. */
export function histogram(values: number[], bucketWidth = 1): Map<number, number> {
  const counts = new Map<number, number>();
  for (const value of values) {
    const bucket = Math.floor(value / bucketWidth) * bucketWidth;
    counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
  }
  return new Map([...counts].sort(([a], [b]) => a - b));
}

export type AnswerKind = 'integer' | 'decimal' | 'other';

export function answerKind(answer: string): AnswerKind {
  const value = parsePythonFloat(answer.replaceAll(',', ''));
  if (value === undefined || !Number.isFinite(value)) return 'other';
  return Number.isInteger(value) ? 'integer' : 'decimal';
}

export interface TokenLengths {
  /** Tokens of "###" + steps: the chain CoLaR compresses. */
  chain: number[];
  /** Tokens of a whole CoT training example: question (speed 1) + steps + answer. */
  example: number[];
}

export function tokenLengths(records: Iterable<QuestionStepsAnswer>, tokenizer: PromptTokenizer): TokenLengths {
  const lengths: TokenLengths = { chain: [], example: [] };
  for (const record of records) {
    const { question, steps, answer } = encodeExample(tokenizer, record, 1);
    lengths.chain.push(steps.length);
    lengths.example.push(question.length + steps.length + answer.length);
  }
  return lengths;
}

/** The share of `test` answered right by always giving the most common answer of `train`. */
export function mostCommonAnswerAccuracy(train: Iterable<QuestionStepsAnswer>, test: QuestionStepsAnswer[]): { answer: string; accuracy: number } {
  const counts = new Map<string, number>();
  for (const { answer } of train) counts.set(answer, (counts.get(answer) ?? 0) + 1);
  let best = '';
  let bestCount = -1;
  for (const [answer, count] of counts) if (count > bestCount) [best, bestCount] = [answer, count];
  return { answer: best, accuracy: test.filter(({ answer }) => isCorrectAnswer(answer, best)).length / test.length };
}
