// The built-in reasoning task: short templated word problems in the GSM8k-Aug format, e.g.
//   "Ben has 50 books. He triples them. He buys 29 more. How many books does Ben have now?"
//   steps ["<<50*3=150>>", "<<150+29=179>>"], answer "179".
// Each step applies one operation to the previous result, so the answer needs every step;
// + − × ÷ are chosen among those that keep every value an integer in [minValue, maxValue].
// A step takes away at most half, so chains do not pile up at the floor and no answer is
// common enough to guess (the commonest train answer is right ~1% of the time on test).

import type { QsaRecord, QuestionStepsAnswer } from './record.js';
import type { Rng } from './rng.js';
import { generateSplit, type Split } from './split.js';

export interface ArithmeticOptions {
  /** Number of operations (= steps) per problem, inclusive range. */
  minSteps: number;
  maxSteps: number;
  /** The starting amount is drawn from [minValue, maxStart]. */
  maxStart: number;
  /** Largest number added or taken away in one step. */
  maxAddend: number;
  /** Largest multiplier or divisor. */
  maxFactor: number;
  /** Every value in the chain stays in [minValue, maxValue]. */
  minValue: number;
  maxValue: number;
}

export const DEFAULT_ARITHMETIC_OPTIONS: ArithmeticOptions = { minSteps: 2, maxSteps: 6, maxStart: 99, maxAddend: 99, maxFactor: 9, minValue: 2, maxValue: 999 };

interface Person {
  name: string;
  pronoun: 'he' | 'she';
}

const PEOPLE: readonly Person[] = [
  { name: 'Ben', pronoun: 'he' },
  { name: 'Tom', pronoun: 'he' },
  { name: 'Sam', pronoun: 'he' },
  { name: 'Max', pronoun: 'he' },
  { name: 'Ann', pronoun: 'she' },
  { name: 'Mia', pronoun: 'she' },
  { name: 'Eva', pronoun: 'she' },
  { name: 'Zoe', pronoun: 'she' },
];

const ITEMS = ['apples', 'books', 'cards', 'coins', 'marbles', 'pens', 'shells', 'stamps'] as const;

type Operator = '+' | '-' | '*' | '/';

const capitalize = (word: string) => word[0].toUpperCase() + word.slice(1);

/** The sentence that tells the reader to apply `operator` with `operand`; `variant` picks among phrasings. */
function operationSentence(operator: Operator, operand: number, pronoun: string, variant: number): string {
  const subject = capitalize(pronoun);
  switch (operator) {
    case '+':
      return variant === 0 ? `${subject} buys ${operand} more.` : `${subject} finds ${operand} more.`;
    case '-':
      return variant === 0 ? `${subject} gives away ${operand}.` : `${subject} loses ${operand}.`;
    case '*':
      if (operand === 2) return `${subject} doubles them.`;
      if (operand === 3) return `${subject} triples them.`;
      return `Now ${pronoun} has ${operand} times as many.`;
    case '/':
      if (operand === 2 && variant === 0) return `${subject} gives away half of them.`;
      return `${subject} divides them by ${operand}.`;
  }
}

function apply(operator: Operator, value: number, operand: number): number {
  switch (operator) {
    case '+':
      return value + operand;
    case '-':
      return value - operand;
    case '*':
      return value * operand;
    case '/':
      return value / operand;
  }
}

interface Operation {
  operator: Operator;
  /** Operands that keep the result an integer in [minValue, maxValue]. */
  operands: { min: number; max: number } | number[];
}

function feasibleOperations(value: number, options: ArithmeticOptions): Operation[] {
  const factors: number[] = [];
  for (let factor = 2; factor <= options.maxFactor; factor++) factors.push(factor);
  const candidates: Operation[] = [
    { operator: '+', operands: { min: 1, max: Math.min(options.maxAddend, options.maxValue - value) } },
    { operator: '-', operands: { min: 1, max: Math.min(options.maxAddend, value - options.minValue, Math.floor(value / 2)) } },
    { operator: '*', operands: factors.filter((factor) => value * factor <= options.maxValue) },
    { operator: '/', operands: factors.filter((factor) => value % factor === 0 && value / factor >= options.minValue) },
  ];
  return candidates.filter(({ operands }) => (Array.isArray(operands) ? operands.length > 0 : operands.max >= operands.min));
}

export function drawArithmeticProblem(rng: Rng, options: ArithmeticOptions = DEFAULT_ARITHMETIC_OPTIONS): QuestionStepsAnswer {
  const person = rng.pick(PEOPLE);
  const items = rng.pick(ITEMS);
  const stepCount = rng.int(options.minSteps, options.maxSteps);
  let value = rng.int(options.minValue, options.maxStart);
  const sentences = [`${person.name} has ${value} ${items}.`];
  const steps: string[] = [];
  for (let i = 0; i < stepCount; i++) {
    const operations = feasibleOperations(value, options);
    if (operations.length === 0) throw new Error(`no operation keeps ${value} within [${options.minValue}, ${options.maxValue}]; widen the ranges`);
    const { operator, operands } = rng.pick(operations);
    const operand = Array.isArray(operands) ? rng.pick(operands) : rng.int(operands.min, operands.max);
    const result = apply(operator, value, operand);
    sentences.push(operationSentence(operator, operand, person.pronoun, rng.int(0, 1)));
    steps.push(`<<${value}${operator}${operand}=${result}>>`);
    value = result;
  }
  sentences.push(`How many ${items} does ${person.name} have now?`);
  return { question: sentences.join(' '), steps, answer: String(value) };
}

/** What makes these options draw no problem, or null: the one range check for flags and configs. */
export function arithmeticOptionsProblem(o: ArithmeticOptions): string | null {
  if (!(1 <= o.minSteps && o.minSteps <= o.maxSteps)) return `need 1 ≤ fewest steps ≤ most steps, got ${o.minSteps}, ${o.maxSteps}`;
  if (!(1 <= o.minValue && o.minValue <= o.maxStart && o.maxStart <= o.maxValue)) {
    return `need 1 ≤ min value ≤ max start ≤ max value, got ${o.minValue}, ${o.maxStart}, ${o.maxValue}`;
  }
  return null;
}

export function arithmeticDataset(split: Split, n: number, seed: number, options: ArithmeticOptions = DEFAULT_ARITHMETIC_OPTIONS): QsaRecord[] {
  const problem = arithmeticOptionsProblem(options);
  if (problem) throw new Error(`arithmetic task: ${problem}`);
  return generateSplit('arithmetic', (rng) => drawArithmeticProblem(rng, options), split, n, seed);
}

/** Questions that together use every sentence form of the task, for building its vocabulary. */
export function arithmeticTemplateQuestions(): string[] {
  return PEOPLE.flatMap((person) =>
    ITEMS.map((items) => {
      const sentences = [`${person.name} has 1 ${items}.`];
      for (const operator of ['+', '-', '*', '/'] as const) {
        for (const operand of [2, 3, 4]) for (const variant of [0, 1]) sentences.push(operationSentence(operator, operand, person.pronoun, variant));
      }
      sentences.push(`How many ${items} does ${person.name} have now?`);
      return sentences.join(' ');
    }),
  );
}
