// Train/val/test for generated data, disjoint by construction: a question's split is a fixed
// function of its text (a hash), and a split's generator keeps only the questions that hash
// into it. Any seed, any size: no question can land in two splits, and a test set made today
// stays unseen by a train set made with another seed tomorrow.

import { hash32 } from './hash.js';
import type { QsaRecord, QuestionStepsAnswer } from './record.js';
import { Rng } from './rng.js';

export const SPLITS = ['train', 'val', 'test'] as const;
export type Split = (typeof SPLITS)[number];

/** Shares of the question space owned by test and val; train owns the rest. */
const TEST_SHARE = 0.1;
const VAL_SHARE = 0.1;
/** Draws allowed per record kept before a split is declared too small for the request. */
const DRAWS_PER_RECORD = 100;

export function splitOfQuestion(question: string): Split {
  const position = hash32(question) / 2 ** 32;
  if (position < TEST_SHARE) return 'test';
  if (position < TEST_SHARE + VAL_SHARE) return 'val';
  return 'train';
}

/** n distinct problems of one split, deterministic in (task, split, seed). */
export function generateSplit(task: string, draw: (rng: Rng) => QuestionStepsAnswer, split: Split, n: number, seed: number): QsaRecord[] {
  const rng = new Rng(hash32(`${task}/${split}/${seed}`));
  const file = `synthetic:${task}/${split}/seed-${seed}`;
  const seen = new Set<string>();
  const records: QsaRecord[] = [];
  let drawsLeft = n * DRAWS_PER_RECORD + 1000;
  while (records.length < n) {
    if (drawsLeft-- === 0) throw new Error(`${task}: found only ${records.length} of ${n} distinct ${split} questions; ask for fewer or widen the task`);
    const problem = draw(rng);
    if (splitOfQuestion(problem.question) !== split || seen.has(problem.question)) continue;
    seen.add(problem.question);
    records.push({ id: records.length, ...problem, source: { file, line: records.length + 1 } });
  }
  return records;
}
