// The loaders on the published data files (data_dir.ts; the tests fail where they are absent).

import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatIcotLine } from '../../datasets/formats/icot.js';
import { loadRecords } from '../../datasets/load.js';
import { multiplicationRecord, parseReversedDigits } from '../../datasets/multiplication.js';
import { dataFile, requireData } from './data_dir.js';

const lines = (path: string) => readFileSync(dataFile(path), 'utf8').split('\n').filter((line) => line !== '');

describe('published datasets', () => {
  beforeAll(requireData);
  it.each([
    ['gsm8k-aug/valid.txt', 'icot', 500],
    ['gsm8k-aug/test.txt', 'icot', 1319],
    ['gsm8k/train.jsonl', 'gsm8k', 7473],
    ['gsm8k/test.jsonl', 'gsm8k', 1319],
    ['svamp/svamp.jsonl', 'pal', 1000],
    ['multiarith/mawpsmultiarith.jsonl', 'pal', 600],
    ['mult4x4/valid.txt', 'icot', 1000],
    ['mult5x5/test_bigbench.txt', 'icot', 1000],
  ])('%s loads as %s with %i records and none malformed', async (path, format, count) => {
    const { format: detected, records, skipped } = await loadRecords(dataFile(path));
    expect(detected).toBe(format);
    expect(records).toHaveLength(count);
    expect(skipped).toHaveLength(0);
    for (const record of records) {
      expect(record.question.trim()).not.toBe('');
      expect(record.answer).not.toBe('');
    }
  });

  it('GSM8k-Aug: 18 empty chains, equations as steps, answers as written', async () => {
    const { records } = await loadRecords(dataFile('gsm8k-aug/test.txt'));
    expect(records.filter((r) => r.steps.length === 0)).toHaveLength(18);
    expect(records.flatMap((r) => r.steps).every((step) => /^<<[^<>]*>>$/.test(step))).toBe(true);
    expect(records[0]).toMatchObject({ steps: ['<<16-3-4=9>>', '<<9*2=18>>'], answer: '18' });
    expect(records.filter((r) => r.answer.includes(','))).toHaveLength(14);
  });

  it.each(['gsm8k-aug/valid.txt', 'gsm8k-aug/test.txt', 'mult4x4/valid.txt', 'mult5x5/valid.txt'])('%s: formatting the records gives back the file byte for byte', async (path) => {
    const { records } = await loadRecords(dataFile(path));
    expect(records.map(formatIcotLine)).toEqual(lines(path));
  });

  it('GSM8K test converts to the GSM8k-Aug test file: 1,305 lines identical, 14 differing only by commas in the answer', async () => {
    const { records } = await loadRecords(dataFile('gsm8k/test.jsonl'));
    const expected = lines('gsm8k-aug/test.txt');
    const converted = records.map(formatIcotLine);
    expect(converted).toHaveLength(expected.length);
    let identical = 0;
    let answerCommasOnly = 0;
    converted.forEach((line, i) => {
      const want = expected[i]!;
      if (line === want) identical++;
      else {
        const [wantBody, wantAnswer] = want.split(' #### ');
        const [body, answer] = line.split(' #### ');
        expect(body).toBe(wantBody);
        expect(wantAnswer).toContain(',');
        expect(answer).toBe(wantAnswer!.replaceAll(',', ''));
        answerCommasOnly++;
      }
    });
    expect([identical, answerCommasOnly]).toEqual([1305, 14]);
  });

  it('multiplication files: every line is what the generator writes for its operands', async () => {
    for (const path of ['mult4x4/valid.txt', 'mult4x4/test_bigbench.txt', 'mult5x5/valid.txt', 'mult5x5/test_bigbench.txt']) {
      const { records } = await loadRecords(dataFile(path));
      const mismatched = records.filter((record) => {
        const [a, b] = record.question.split(' * ') as [string, string];
        const regenerated = multiplicationRecord(parseReversedDigits(a), parseReversedDigits(b), a.split(' ').length, b.split(' ').length);
        return formatIcotLine(regenerated) !== formatIcotLine(record);
      });
      expect(mismatched.map((r) => r.source.line), path).toEqual([]);
    }
  });

  it('PAL sets: SVAMP and MultiArith have no steps and numeric answers', async () => {
    const svamp = await loadRecords(dataFile('svamp/svamp.jsonl'));
    expect(svamp.records[0]).toMatchObject({ question: 'Each pack of dvds costs 76 dollars. If there is a discount of 25 dollars on each pack. How much do you have to pay to buy each pack?', steps: [], answer: '51' });
    const multiarith = await loadRecords(dataFile('multiarith/mawpsmultiarith.jsonl'));
    expect(multiarith.records.every((r) => r.steps.length === 0 && Number.isFinite(Number(r.answer)))).toBe(true);
  });
});
