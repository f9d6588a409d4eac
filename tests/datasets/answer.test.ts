import { describe, expect, it } from 'vitest';
import { cleanAnswer, extractAnswer, isCorrectAnswer, parsePythonFloat } from '../../datasets/answer.js';

describe('answer extraction and checking (as the reference)', () => {
  it.each([
    ['75', 'Answer:75.00', true],
    ['75.00', 'Answer:75', true],
    ['2,125', 'Answer:2125', true],
    ['2125', 'Answer:2,125', true],
    ['-3', 'Answer:-3', true],
    ['3', 'Answer:-3', false],
    ['18', 'Answer:18.', true],
    ['18', 'Answer: 18 \n', true],
    ['18', 'Answer:18.\n', true],
    ['5.0', 'Answer:5', true],
    ['0.5', 'Answer:.5', true],
    ['18', '18', true], // no "Answer:": the whole output is the prediction
    ['18', 'The answer is 18', false],
    ['18', '', false],
    ['7', 'Answer:7 Answer:8', true], // split("Answer:")[1] is the text between the first two marks
    ['7', 'Answer:7 and then 8', false],
    ['x^2', 'Answer:x^2', true], // not numbers: compared as strings after cleaning
    ['x^2', 'Answer:x^3', false],
    ['nan', 'Answer:nan', false], // Python: nan != nan
    ['1000', 'Answer:1_000', true], // Python's float() accepts digit underscores
    ['5 5 6 0 8 2 0 1', 'Answer:5 5 6 0 8 2 0 1', true],
  ])('gt %j, output %j → %s', (groundTruth, output, correct) => {
    expect(isCorrectAnswer(groundTruth, output)).toBe(correct);
  });

  it('extracts and cleans like split/strip/rstrip/replace', () => {
    expect(extractAnswer('###Answer:42<junk>')).toBe('42<junk>');
    expect(extractAnswer('no mark')).toBe('no mark');
    expect(cleanAnswer('\n 1,234.. \n')).toBe('1234');
    expect(cleanAnswer('\t3 ')).toBe('\t3'); // strip("\n ") leaves tabs
  });

  it('parses floats exactly where Python would', () => {
    expect(parsePythonFloat('1e3')).toBe(1000);
    expect(parsePythonFloat('-Infinity')).toBe(-Infinity);
    expect(parsePythonFloat('\t3\t')).toBe(3);
    for (const text of ['', '.', '1__0', '_1', '1,0', '0x10', '3 4', 'e5']) expect(parsePythonFloat(text)).toBeUndefined();
  });
});
