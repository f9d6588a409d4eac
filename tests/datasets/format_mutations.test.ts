// Property tests of every dataset format on mutated files: valid files with bytes truncated,
// flipped, inserted or deleted, and records whose JSON values are retyped, dropped or added.
// Under both bad-record policies a load gives well-formed records (and, when skipping, one-line
// errors naming the file), or one error naming the file; a conversion of the same file writes
// everything or nothing.

import { isUtf8 } from 'node:buffer';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BadRecordPolicy, type InputFormat, loadRecords, streamRecords } from '../../datasets/load.js';
import type { QsaRecord } from '../../datasets/record.js';
import { writeRecords } from '../../datasets/write.js';
import { applyByteMutations, applyJsonMutations, byteMutation, jsonMutation, loaderOutcome } from '../helpers/mutations.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'format-mutations-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const jsonLines = (records: object[]) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** A valid file of each format, and how to mutate one of its records as JSON (when it has JSON records). */
const FORMATS: Record<InputFormat, { name: string; records: object[] | null; text: (records: unknown[] | null) => string }> = {
  icot: {
    name: 'data.txt',
    records: null,
    text: () => 'Tom has 3 apples. He buys 2 more.||<<3+2=5>> #### 5\n5 6 * 7 3||5 5 5 6 1 + 0 0 6 4 9 0 ( 5 5 1 1 1 1 ) #### 1 1 1 1\nNo chain here||#### 1,250\n',
  },
  gsm8k: {
    name: 'data.jsonl',
    records: [
      { question: 'Ann has 2 pens and buys 3. How many?', answer: 'She has <<2+3=5>>5.\n#### 5' },
      { question: 'A long one, with "quotes"', answer: 'First <<10*100=1000>>1000 then <<1000+250=1250>>1250\n#### 1,250' },
    ],
    text: (records) => jsonLines(records as object[]),
  },
  pal: {
    name: 'data.jsonl',
    records: [
      { input: 'What is 9 / 2?', target: 4.5, code: 'def solution():\n    return 9 / 2' },
      { input: 'Three fours?', target: '12', equations: ['x=3*4'] },
      { input: 'Plain', target: 5 },
    ],
    text: (records) => jsonLines(records as object[]),
  },
  'qsa-json': {
    name: 'data.json',
    records: [
      { question: 'Ben has 5 apples. He doubles them.', steps: ['<<5*2=10>>'], answer: '10' },
      { question: 'Braces } and ] inside "strings"', steps: [], answer: 7, extra: { a: [1, 2] } },
    ],
    text: (records) => '[\n' + (records as object[]).map((r) => JSON.stringify(r, null, 1)).join(',\n') + '\n]\n',
  },
  csv: {
    name: 'data.csv',
    records: null,
    text: () => 'question,steps,answer\nMax has 8 marbles.,<<8-3=5>>,5\n"A question, with a comma\nand a line break?","<<1+1=2>>\n<<2*3=6>>",6\nNo steps here,,3\n',
  },
};

const caseArb = fc.record({
  format: fc.constantFrom(...(Object.keys(FORMATS) as InputFormat[])),
  named: fc.boolean(),
  policy: fc.constantFrom<BadRecordPolicy>('fail', 'skip'),
  recordMutations: fc.array(fc.record({ record: fc.nat(), mutations: fc.array(jsonMutation, { minLength: 1, maxLength: 2 }) }), { maxLength: 2 }),
  byteMutations: fc.array(byteMutation, { maxLength: 3 }),
});

/** What every loaded record must be, whatever the file held. */
function expectWellFormed(records: QsaRecord[], file: string): void {
  let lastId = -1;
  for (const r of records) {
    expect(typeof r.question === 'string' && r.question.trim() !== '').toBe(true);
    expect(Array.isArray(r.steps) && r.steps.every((s) => typeof s === 'string')).toBe(true);
    expect(typeof r.answer === 'string' && r.answer.trim() !== '').toBe(true);
    expect(r.id).toBeGreaterThan(lastId);
    expect(r.source.file).toBe(file);
    expect(Number.isInteger(r.source.line) && r.source.line >= 1).toBe(true);
    lastId = r.id;
  }
}

let counter = 0;

describe('dataset formats on mutated files', () => {
  it('an error quoting a line break of the file is still one line', async () => {
    const file = path.join(root, 'header.csv');
    await writeFile(file, 'a,"b\nc"\n1,2\n');
    await expect(loadRecords(file)).rejects.toThrow(/^[^\n]*header\.csv:1: header has no column 'question', 'answer' \(columns: a, b\\nc\)$/);
    const qsa = path.join(root, 'element.json');
    await writeFile(qsa, '[{"question": "q",\n "answer": }]');
    await expect(loadRecords(qsa)).rejects.toThrow(/^[^\n]*element\.json:1: qsa-json record: invalid JSON: [^\n]*$/);
  });

  it('load well-formed records or fail with one line naming the file; conversions are all or nothing', async () => {
    const outcomes = { ok: 0, rejected: 0 };
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const spec = FORMATS[c.format];
        const records = spec.records && structuredClone(spec.records as unknown[]);
        if (records) for (const m of c.recordMutations) records[m.record % records.length] = applyJsonMutations(records[m.record % records.length], m.mutations);
        const dir = path.join(root, `case-${counter++}`);
        const file = path.join(dir, spec.name);
        await mkdir(dir);
        const bytes = applyByteMutations(Buffer.from(spec.text(records)), c.byteMutations);
        await writeFile(file, bytes);
        const options = { ...(c.named && { format: c.format }), onBadRecord: c.policy };

        let loaded: QsaRecord[] = [];
        const outcome = await loaderOutcome(file, async () => {
          const { records, skipped } = await loadRecords(file, options);
          expectWellFormed(records, file);
          for (const e of skipped) {
            expect(e.message).not.toMatch(/[\r\n]/);
            expect(e.message).toContain(file);
          }
          loaded = records;
        });
        outcomes[outcome]++;
        // Text that is not UTF-8 is never read as U+FFFD.
        if (!isUtf8(bytes)) expect(outcome).toBe('rejected');

        // Converting the same file: the output holds every record, or does not exist.
        const out = path.join(dir, 'out.json');
        const converted = await writeRecords(out, streamRecords(file, options), 'qsa-json').then(
          () => true,
          () => false,
        );
        expect(converted).toBe(outcome === 'ok');
        expect((await readdir(dir)).sort()).toEqual(converted ? [spec.name, 'out.json'].sort() : [spec.name]);
        if (converted) {
          const back = (await loadRecords(out)).records;
          expect(back.map(({ question, steps, answer }) => ({ question, steps, answer }))).toEqual(loaded.map(({ question, steps, answer }) => ({ question, steps, answer })));
        }
        await rm(dir, { recursive: true });
      }),
      { numRuns: 400 },
    );
    console.log(`dataset mutations: ${outcomes.ok} loaded, ${outcomes.rejected} refused`);
    expect(outcomes.rejected).toBeGreaterThan(0);
    expect(outcomes.ok).toBeGreaterThan(0);
  });
});
