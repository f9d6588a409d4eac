// Prompts and labels exactly as the method defines them (docs/METHOD.md §1.3), as token ids,
// one segment per part so the trainer can pad each part and build CoT or CoLaR sequences:
//   question: "Question: {q} Let's think step by step:(Thinking speed: {c})"
//   steps:    "###" + steps.join("\n")
//   answer:   "###Answer:{a}" + EOS
// No BOS anywhere. "###" is one token that both opens and closes the thinking; it is put in by
// id, not left to the BPE, so the boundary holds even where a tokenizer would merge "###" with
// the punctuation after it ("###<<" is one pre-token chunk). With the project's own vocabulary
// this gives exactly the ids of encoding the joined strings (tested).

import type { QuestionStepsAnswer } from './record.js';

/** The little of a tokenizer that prompts need; colar/llama's Tokenizer satisfies it. */
export interface PromptTokenizer {
  encode(text: string): number[];
  tokenToId(token: string): number | undefined;
  eosId: number;
  /** Fills padded positions; the trainer masks them. */
  padId: number;
}

export const THINKING_SEPARATOR = '###';
export const STEP_JOIN = '\n';

/** The compression factor named in the prompt: an integer, or "auto" for fixed-length baselines. */
export type ThinkingSpeed = number | 'auto';

export function questionPromptText(question: string, speed: ThinkingSpeed): string {
  return `Question: ${question} Let's think step by step:(Thinking speed: ${speed})`;
}

export function answerText(answer: string): string {
  return `Answer:${answer}`;
}

export function separatorId(tokenizer: PromptTokenizer): number {
  const id = tokenizer.tokenToId(THINKING_SEPARATOR);
  if (id === undefined) throw new Error(`the tokenizer has no single token for '${THINKING_SEPARATOR}'`);
  return id;
}

export interface EncodedExample {
  /** The question with its speed suffix. */
  question: number[];
  /** "###" then the steps; just "###" when the chain is empty. */
  steps: number[];
  /** "###Answer:{a}" then EOS. */
  answer: number[];
}

export function encodeExample(tokenizer: PromptTokenizer, example: QuestionStepsAnswer, speed: ThinkingSpeed): EncodedExample {
  const separator = separatorId(tokenizer);
  const chain = example.steps.join(STEP_JOIN);
  return {
    question: tokenizer.encode(questionPromptText(example.question, speed)),
    steps: [separator, ...(chain === '' ? [] : tokenizer.encode(chain))],
    answer: [separator, ...tokenizer.encode(answerText(example.answer)), tokenizer.eosId],
  };
}

/** What generation starts from: the question with its speed, then "###" (as in training). */
export function encodeInferencePrompt(tokenizer: PromptTokenizer, question: string, speed: ThinkingSpeed): number[] {
  return [...tokenizer.encode(questionPromptText(question, speed)), separatorId(tokenizer)];
}

/** Names of the special tokens, as tokenizer_config.json writes them. */
export interface SpecialTokenNames {
  eos_token: string;
  pad_token: string;
}

/** Gives a tokenizer that knows only token strings the EOS and PAD ids its config names. */
export function withSpecialTokens(tokenizer: Pick<PromptTokenizer, 'encode' | 'tokenToId'>, names: SpecialTokenNames): PromptTokenizer {
  const idOf = (token: string) => {
    const id = tokenizer.tokenToId(token);
    if (id === undefined) throw new Error(`the tokenizer has no token '${token}'`);
    return id;
  };
  return { encode: (text) => tokenizer.encode(text), tokenToId: (token) => tokenizer.tokenToId(token), eosId: idOf(names.eos_token), padId: idOf(names.pad_token) };
}
