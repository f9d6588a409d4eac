import { describe, expect, it } from 'vitest';
import { DatasetError } from '../../datasets/dataset_error.js';
import { detectFormat, loadRecords, streamRecords } from '../../datasets/load.js';
import { fixture } from './data_dir.js';

async function expectFailure(promise: Promise<unknown>, file: string, line: number, reason: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DatasetError);
  const problem = error as DatasetError;
  expect(problem.file).toBe(file);
  expect(problem.line).toBe(line);
  expect(problem.message).toContain(`${file}:${line}:`);
  expect(problem.reason).toMatch(reason);
}

describe('format detection', () => {
  it.each([
    ['icot_mixed.txt', 'icot'],
    ['gsm8k_mixed.jsonl', 'gsm8k'],
    ['pal_mixed.jsonl', 'pal'],
    ['qsa_mixed.json', 'qsa-json'],
    ['custom_columns.csv', 'csv'],
  ])('%s is %s', async (name, format) => {
    expect(await detectFormat(fixture(name))).toBe(format);
  });
});

describe('iCoT lines', () => {
  const file = fixture('icot_mixed.txt');

  it('fails at the first malformed line, naming file and line', async () => {
    await expectFailure(loadRecords(file), file, 2, /missing '\|\|'/);
  });

  it('skips and counts malformed lines; ids keep their place in the file', async () => {
    const { records, skipped } = await loadRecords(file, { onBadRecord: 'skip' });
    expect(skipped.map((e) => [e.line, e.reason])).toEqual([
      [2, "icot record: missing '||' between question and chain"],
      [5, "icot record: missing '####' before the answer"],
      [6, 'icot record: empty answer'],
    ]);
    expect(records.map((r) => [r.id, r.source.line])).toEqual([
      [0, 1],
      [2, 4],
      [5, 7],
    ]);
    expect(records[0]).toMatchObject({ steps: ['<<3+2=5>>'], answer: '5' });
    expect(records[1]).toMatchObject({ question: 'Tom has 9 cards. How many cards does Tom have now?', steps: [], answer: '9' });
    expect(records[2]!.steps).toEqual(['5 5 5 6 1', '0 0 6 4 9 0 ( 5 5 1 1 1 1 )', '0 0 5 9 0 7 0 ( 5 5 6 0 2 8 0 )', '0 0 0 0 6 4 9 0']);
  });

  it('streams: a consumer that stops early reads only what it needs', async () => {
    const first: string[] = [];
    for await (const record of streamRecords(file)) {
      first.push(record.answer);
      break;
    }
    expect(first).toEqual(['5']);
  });
});

describe('GSM8K JSON lines', () => {
  const file = fixture('gsm8k_mixed.jsonl');

  it('keeps only the calculator annotations as steps and drops answer commas', async () => {
    const { records, skipped } = await loadRecords(file, { onBadRecord: 'skip' });
    expect(records.map(({ steps, answer }) => ({ steps, answer }))).toEqual([
      { steps: ['<<2+3=5>>'], answer: '5' },
      { steps: [], answer: '1250' },
    ]);
    expect(skipped.map((e) => e.line)).toEqual([2, 4, 5]);
    expect(skipped[0]!.reason).toMatch(/invalid JSON/);
    expect(skipped[1]!.reason).toMatch(/field 'answer' must be a string, got nothing/);
    expect(skipped[2]!.reason).toMatch(/no '####'/);
  });

  it('fails on the broken line by default', async () => {
    await expectFailure(loadRecords(file), file, 2, /invalid JSON/);
  });
});

describe('PAL JSON lines', () => {
  it('takes steps from code or equations when present, and numbers as answers', async () => {
    const file = fixture('pal_mixed.jsonl');
    const { records, skipped } = await loadRecords(file, { onBadRecord: 'skip' });
    expect(records.map(({ steps, answer }) => ({ steps, answer }))).toEqual([
      { steps: [], answer: '5' },
      { steps: ['def solution():\n    return 9 / 2'], answer: '4.5' },
      { steps: ['x=3*4'], answer: '12' },
    ]);
    expect(skipped.map((e) => [e.line, e.reason])).toEqual([
      [3, "pal record: field 'target' must be a number or a non-empty string, got nothing"],
      [5, "pal record: field 'input' must be a string, got nothing"],
    ]);
  });
});

describe('QSA JSON', () => {
  const file = fixture('qsa_mixed.json');

  it('reads elements as a stream, ignoring extra keys and brackets inside strings', async () => {
    const { records, skipped } = await loadRecords(file, { onBadRecord: 'skip' });
    expect(records.map(({ id, question, steps, answer, source }) => ({ id, question, steps, answer, line: source.line }))).toEqual([
      { id: 0, question: 'Ben has 5 apples. He doubles them. How many apples does Ben have now?', steps: ['<<5*2=10>>'], answer: '10', line: 2 },
      { id: 2, question: 'Braces } and ] inside "strings" are text', steps: [], answer: '7', line: 5 },
    ]);
    expect(skipped.map((e) => [e.line, e.reason])).toEqual([
      [4, "qsa-json record: field 'steps' must be a list of strings, got a string"],
      [6, "qsa-json record: field 'answer' must be a string, got nothing"],
    ]);
  });

  it('fails on a bad element by default, naming its line', async () => {
    await expectFailure(loadRecords(file), file, 4, /'steps' must be a list/);
  });

  it('treats broken structure as fatal, even when skipping', async () => {
    const missingComma = fixture('qsa_missing_comma.json');
    await expectFailure(loadRecords(missingComma, { onBadRecord: 'skip' }), missingComma, 3, /expected ',' or ']'/);
    const unterminated = fixture('qsa_unterminated.json');
    await expectFailure(loadRecords(unterminated, { onBadRecord: 'skip' }), unterminated, 3, /unterminated array element/);
  });
});

describe('CSV', () => {
  const file = fixture('custom_columns.csv');
  const csv = { question: 'problem', answer: 'final', steps: 'solution' };

  it('maps configured columns, splits steps on newlines, and reports rows by their first line', async () => {
    const { records, skipped } = await loadRecords(file, { onBadRecord: 'skip', csv });
    expect(records.map(({ question, steps, answer, source }) => ({ question, steps, answer, line: source.line }))).toEqual([
      { question: 'Max has 8 marbles. He loses 3. How many marbles does Max have now?', steps: ['<<8-3=5>>'], answer: '5', line: 2 },
      { question: 'A question, with a comma\nand a line break?', steps: ['<<1+1=2>>', '<<2*3=6>>'], answer: '6', line: 3 },
      { question: 'No steps here', steps: [], answer: '3', line: 8 },
    ]);
    expect(skipped.map((e) => [e.line, e.reason])).toEqual([
      [6, 'csv record: expected 3 fields as in the header, found 4'],
      [7, "csv record: empty 'final'"],
    ]);
  });

  it('names missing columns at the header line', async () => {
    await expectFailure(loadRecords(file), file, 1, /no column 'question', 'answer'/);
  });

  it('reports a CSV syntax error with its line', async () => {
    const broken = fixture('broken_quote.csv');
    await expectFailure(loadRecords(broken, { csv: { question: 'problem', answer: 'final' } }), broken, 2, /CSV syntax/);
  });
});
