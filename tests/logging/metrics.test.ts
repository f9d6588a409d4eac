// The JSONL metrics log: lines on disk as soon as written, non-finite numbers made explicit, and a
// resume that leaves every step logged exactly once.

import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricsLog } from '../../colar/logging/metrics.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'metrics-test-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let runCounter = 0;
const freshPath = (): string => path.join(root, `run-${runCounter++}`, 'metrics.jsonl');

async function readLines(file: string): Promise<unknown[]> {
  const text = await readFile(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.trimEnd().split('\n').map((line) => JSON.parse(line));
}

describe('MetricsLog', () => {
  it('appends one JSON object per line, on disk before close', async () => {
    const file = freshPath();
    const log = await MetricsLog.open(file);
    log.write({ step: 1, loss: 1.5, phase: 'sft', lr: null });
    log.write({ step: 2, loss: 1.25 });
    expect(await readLines(file)).toEqual([
      { step: 1, loss: 1.5, phase: 'sft', lr: null },
      { step: 2, loss: 1.25 },
    ]);
    await log.close();
  });

  it('writes non-finite numbers as null and names them in `nonfinite`', async () => {
    const file = freshPath();
    const log = await MetricsLog.open(file);
    log.write({ step: 3, loss: Number.NaN, gradNorm: Number.POSITIVE_INFINITY, lr: 1e-4, low: Number.NEGATIVE_INFINITY });
    await log.close();
    expect(await readLines(file)).toEqual([
      { step: 3, loss: null, gradNorm: null, lr: 1e-4, low: null, nonfinite: ['loss', 'gradNorm', 'low'] },
    ]);
  });

  it('refuses a record that uses the reserved `nonfinite` key', async () => {
    const log = await MetricsLog.open(freshPath());
    expect(() => log.write({ nonfinite: 'x' })).toThrow(/reserved/);
    await log.close();
  });

  it('keeps what was logged when reopened without resume', async () => {
    const file = freshPath();
    const first = await MetricsLog.open(file);
    first.write({ step: 1 });
    await first.close();
    const second = await MetricsLog.open(file);
    second.write({ step: 2 });
    await second.close();
    expect(await readLines(file)).toEqual([{ step: 1 }, { step: 2 }]);
  });

  it('on resume drops later steps and a torn line, keeps step-less lines, leaves no temp file', async () => {
    const file = freshPath();
    const log = await MetricsLog.open(file);
    log.write({ event: 'start' });
    for (const step of [1, 2, 3, 4]) log.write({ step, loss: step / 10 });
    await log.close();
    await writeFile(file, (await readFile(file, 'utf8')) + '{"step": 5, "lo');

    const resumed = await MetricsLog.open(file, { resumeFromStep: 2 });
    resumed.write({ step: 3, loss: 0.33 });
    await resumed.close();
    expect(await readLines(file)).toEqual([
      { event: 'start' },
      { step: 1, loss: 0.1 },
      { step: 2, loss: 0.2 },
      { step: 3, loss: 0.33 },
    ]);
    expect(await readdir(path.dirname(file))).toEqual(['metrics.jsonl']);
  });

  it('on resume with no log yet starts a new one', async () => {
    const file = freshPath();
    const log = await MetricsLog.open(file, { resumeFromStep: 7 });
    log.write({ step: 8 });
    await log.close();
    expect(await readLines(file)).toEqual([{ step: 8 }]);
  });

  it('logs every step exactly once across any number of crashes and resumes', async () => {
    // Each attempt runs `ran` steps past the last checkpoint, saves a checkpoint `behind` steps
    // before the step it reached, and crashes; the next attempt resumes from that checkpoint.
    const attempt = fc.record({ ran: fc.nat(10), behind: fc.nat(10) });
    await fc.assert(
      fc.asyncProperty(fc.array(attempt, { minLength: 1, maxLength: 4 }), async (attempts) => {
        const file = freshPath();
        let checkpoint = 0;
        for (const [index, { ran, behind }] of attempts.entries()) {
          const log = await MetricsLog.open(file, index === 0 ? {} : { resumeFromStep: checkpoint });
          for (let step = checkpoint + 1; step <= checkpoint + ran; step++) log.write({ step });
          await log.close();
          checkpoint = Math.max(checkpoint, checkpoint + ran - behind);
        }
        const total = checkpoint + 5;
        const log = await MetricsLog.open(file, { resumeFromStep: checkpoint });
        for (let step = checkpoint + 1; step <= total; step++) log.write({ step });
        await log.close();
        const steps = (await readLines(file)).map((line) => (line as { step: number }).step);
        expect(steps).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      }),
      { numRuns: 30 },
    );
  });
});
