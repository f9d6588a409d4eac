import { describe, expect, it } from 'vitest';
import { multiplicationDataset, parseReversedDigits, reversedDigits } from '../../datasets/multiplication.js';
import type { QsaRecord } from '../../datasets/record.js';
import { splitOfQuestion } from '../../datasets/split.js';
import { histogram, mostCommonAnswerAccuracy } from '../../datasets/stats.js';
import { arithmeticDataset, DEFAULT_ARITHMETIC_OPTIONS } from '../../datasets/synthetic.js';

const questions = (records: QsaRecord[]) => records.map((r) => r.question);

const EQUATION = /^<<(\d+)([-+*/])(\d+)=(\d+)>>$/;

function evaluate(a: number, operator: string, b: number): number {
  return operator === '+' ? a + b : operator === '-' ? a - b : operator === '*' ? a * b : a / b;
}

describe('synthetic arithmetic word problems', () => {
  it('is deterministic by seed, and seeds differ', () => {
    const first = arithmeticDataset('train', 300, 7);
    expect(arithmeticDataset('train', 300, 7)).toEqual(first);
    const other = questions(arithmeticDataset('train', 300, 8));
    expect(other.filter((q) => questions(first).includes(q)).length).toBeLessThan(5);
  });

  it('never puts a question in two splits, whatever the seeds', () => {
    const train = new Set([...questions(arithmeticDataset('train', 4000, 1)), ...questions(arithmeticDataset('train', 4000, 2))]);
    for (const split of ['val', 'test'] as const) {
      for (const seed of [1, 2, 3]) {
        const records = arithmeticDataset(split, 400, seed);
        expect(new Set(questions(records)).size).toBe(records.length);
        expect(records.every((r) => splitOfQuestion(r.question) === split && !train.has(r.question))).toBe(true);
      }
    }
    const val = new Set(questions(arithmeticDataset('val', 400, 1)));
    expect(questions(arithmeticDataset('test', 400, 1)).some((q) => val.has(q))).toBe(false);
  });

  it('chains each step on the previous result, with every value an integer in range', () => {
    const options = DEFAULT_ARITHMETIC_OPTIONS;
    for (const record of arithmeticDataset('train', 1000, 3)) {
      expect(record.steps.length).toBeGreaterThanOrEqual(options.minSteps);
      expect(record.steps.length).toBeLessThanOrEqual(options.maxSteps);
      let value = Number(/ has (\d+) /.exec(record.question)![1]);
      for (const step of record.steps) {
        const [, a, operator, b, result] = EQUATION.exec(step)!;
        expect(Number(a)).toBe(value);
        expect(evaluate(value, operator!, Number(b))).toBe(Number(result));
        value = Number(result);
        expect(Number.isInteger(value) && value >= options.minValue && value <= options.maxValue).toBe(true);
      }
      expect(record.answer).toBe(String(value));
    }
  });

  it('respects the options', () => {
    const records = arithmeticDataset('test', 200, 0, { minSteps: 3, maxSteps: 3, maxStart: 20, maxAddend: 5, maxFactor: 3, minValue: 4, maxValue: 60 });
    for (const record of records) {
      expect(record.steps).toHaveLength(3);
      for (const step of record.steps) {
        const [, a, operator, b, result] = EQUATION.exec(step)!;
        expect(Number(result)).toBeLessThanOrEqual(60);
        expect(Number(result)).toBeGreaterThanOrEqual(4);
        expect(Number(b)).toBeLessThanOrEqual(operator === '+' || operator === '-' ? 5 : 3);
        expect(Number(a)).toBeGreaterThanOrEqual(1);
      }
    }
  });

  it('needs reasoning: always giving the commonest train answer scores under 2% on test', () => {
    const train = arithmeticDataset('train', 20000, 0);
    const test = arithmeticDataset('test', 1000, 0);
    const guess = mostCommonAnswerAccuracy(train, test);
    const stepCounts = [...histogram(train.map((r) => r.steps.length))].map(([steps, n]) => `${steps}:${n}`).join(' ');
    console.log(`[synthetic] trivial guesser ("${guess.answer}") on test: ${(100 * guess.accuracy).toFixed(1)}%; train steps histogram ${stepCounts}`);
    expect(guess.accuracy).toBeLessThan(0.02);
  });
});

describe('synthetic multiplication (iCoT format)', () => {
  const reversedToNumber = parseReversedDigits;

  it('writes digits least-significant first and the right product, partial products and running sums', () => {
    const records = multiplicationDataset('train', 300, 5, { aDigits: 4, bDigits: 3 });
    for (const { question, steps, answer } of records) {
      const [aText, bText] = question.split(' * ') as [string, string];
      expect(aText.split(' ')).toHaveLength(4);
      expect(bText.split(' ')).toHaveLength(3);
      expect(aText.endsWith('0') || bText.endsWith('0')).toBe(false); // no leading zero in the operands
      const a = reversedToNumber(aText);
      const b = reversedToNumber(bText);
      expect(answer).toBe(reversedDigits(a * b, 7));
      expect(answer).toBe([...(a * b).toString().padStart(7, '0')].reverse().join(' '));
      expect(steps).toHaveLength(3);
      let sum = 0n;
      steps.forEach((step, i) => {
        const [partial, running] = step.split(' ( ');
        const bDigit = BigInt(bText.split(' ')[i]!);
        expect(reversedToNumber(partial!)).toBe(a * bDigit * 10n ** BigInt(i));
        expect(partial!.split(' ')).toHaveLength(5 + i);
        sum += a * bDigit * 10n ** BigInt(i);
        if (i === 1) expect(reversedToNumber(running!.replace(' )', ''))).toBe(sum);
        else expect(running).toBeUndefined();
      });
      expect(sum).toBe(a * b);
    }
  });

  it('is deterministic and split-disjoint', () => {
    const options = { aDigits: 3, bDigits: 3 };
    expect(multiplicationDataset('val', 100, 1, options)).toEqual(multiplicationDataset('val', 100, 1, options));
    const train = new Set(questions(multiplicationDataset('train', 3000, 1, options)));
    expect(questions(multiplicationDataset('test', 300, 1, options)).some((q) => train.has(q))).toBe(false);
  });

  it('says so when a split has fewer distinct questions than asked', () => {
    // 1×1 has 81 questions; test owns about a tenth of them.
    expect(() => multiplicationDataset('test', 50, 0, { aDigits: 1, bDigits: 1 })).toThrow(/found only \d+ of 50 distinct test questions/);
  });
});
