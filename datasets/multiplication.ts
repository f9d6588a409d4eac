// N×M multiplication in the iCoT format (da03/Internalize_CoT_Step_by_Step): digits are
// space-separated and least-significant first. Step i is the partial product a·b_i·10^i,
// written with N+1+i digits; between the first and the last step it is followed by the
// running sum in parentheses (same width). The answer is the product with N+M digits.
// Example: 2365×4347 → question "5 6 3 2 * 7 4 3 4", steps "5 5 5 6 1",
// "0 0 6 4 9 0 ( 5 5 1 1 1 1 )", ..., answer "5 5 6 0 8 2 0 1".

import type { QsaRecord, QuestionStepsAnswer } from './record.js';
import type { Rng } from './rng.js';
import { generateSplit, type Split } from './split.js';

export interface MultiplicationOptions {
  /** Digits of the first and second operand (no leading zero). */
  aDigits: number;
  bDigits: number;
}

/** `value` as `width` digits, least significant first, separated by spaces. */
export function reversedDigits(value: bigint, width: number): string {
  const digits = value.toString().padStart(width, '0');
  if (digits.length > width) throw new Error(`${value} has more than ${width} digits`);
  return [...digits].reverse().join(' ');
}

/** The iCoT record for a × b, each written with its given number of digits. */
export function multiplicationRecord(a: bigint, b: bigint, aDigits: number, bDigits: number): QuestionStepsAnswer {
  const bDigitsLowFirst = [...b.toString().padStart(bDigits, '0')].reverse().map(BigInt);
  const steps: string[] = [];
  let runningSum = 0n;
  bDigitsLowFirst.forEach((digit, i) => {
    const width = aDigits + 1 + i;
    const partial = a * digit * 10n ** BigInt(i);
    runningSum += partial;
    const showsSum = i > 0 && i < bDigits - 1;
    steps.push(showsSum ? `${reversedDigits(partial, width)} ( ${reversedDigits(runningSum, width)} )` : reversedDigits(partial, width));
  });
  return {
    question: `${reversedDigits(a, aDigits)} * ${reversedDigits(b, bDigits)}`,
    steps,
    answer: reversedDigits(a * b, aDigits + bDigits),
  };
}

function drawOperand(rng: Rng, digits: number): bigint {
  let text = String(rng.int(1, 9));
  for (let i = 1; i < digits; i++) text += String(rng.int(0, 9));
  return BigInt(text);
}

export function drawMultiplicationProblem(rng: Rng, { aDigits, bDigits }: MultiplicationOptions): QuestionStepsAnswer {
  return multiplicationRecord(drawOperand(rng, aDigits), drawOperand(rng, bDigits), aDigits, bDigits);
}

/** Reads an operand back from its reversed-digit text ("5 6 3 2" → 2365n). */
export function parseReversedDigits(text: string): bigint {
  return BigInt(text.split(' ').reverse().join(''));
}

export function multiplicationDataset(split: Split, n: number, seed: number, options: MultiplicationOptions): QsaRecord[] {
  if (options.aDigits < 1 || options.bDigits < 1) throw new Error('operands need at least one digit');
  return generateSplit(`multiplication-${options.aDigits}x${options.bDigits}`, (rng) => drawMultiplicationProblem(rng, options), split, n, seed);
}
