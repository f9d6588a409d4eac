// The ablation table averages each lever's runs over training seeds (per-run means, CI over seeds).
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ablationMarkdown, readAblation } from '../../colar/report/ablation_table.js';

async function evalDir(root: string, run: string, rows: Array<[string, number, number]>, writing?: unknown[]) {
  await mkdir(join(root, run, 'eval'), { recursive: true });
  const json = { writing, rows: rows.map(([row, acc, len]) => ({ row, accuracy: { mean: acc, ci95: 9 }, chain_length: { mean: len, ci95: 9 }, ms_per_question: { mean: 2 * len, ci95: 0 } })) };
  await writeFile(join(root, run, 'eval', 'eval.json'), JSON.stringify(json));
}

describe('ablation table', () => {
  it('groups <lever>-s<seed> runs by lever and row, mean ± 1.96·s/√n over training seeds', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ablation-'));
    await evalDir(root, 'mse-s0', [['CoLaR c=2', 10, 12]], [{ compression: 2, nearest: 0.6, nearestResult: 0.1 }]);
    await evalDir(root, 'mse-s1', [['CoLaR c=2', 20, 14]], [{ compression: 2, nearest: 0.7, nearestResult: 0.2 }]);
    await evalDir(root, 'cot-s0', [['CoT', 90, 40]]);
    await mkdir(join(root, 'logs')); // not a run
    const cells = await readAblation(root);
    const mse = cells.find((c) => c.lever === 'mse')!;
    expect(mse.seeds).toEqual([0, 1]);
    expect(mse.accuracy.mean).toBe(15);
    expect(mse.accuracy.ci95).toBeCloseTo((1.96 * Math.sqrt(50)) / Math.sqrt(2), 10);
    expect(mse.chainLength!.mean).toBe(13);
    expect(mse.msPerQuestion!.mean).toBe(26);
    const md = ablationMarkdown(cells, ['cot', 'mse']);
    expect(md.split('\n')[2]).toBe('| cot | CoT | 0 | 90.0 ± 0.0 | 40.00 ± 0.00 | 80.0 |');
    expect(md.split('\n')[3]).toBe('| mse | CoLaR c=2 | 0, 1 | 15.0 ± 9.8 | 13.00 ± 1.96 | 26.0 |');
    // the writing diagnostic: % nearest own target, averaged over training seeds, no chain
    expect(md.split('\n')[4]).toBe('| mse | Head writes c=2 | 0, 1 | 65.0 ± 9.8 | – | – |');
    expect(md.split('\n')[5]).toBe('| mse | Head writes result digits c=2 | 0, 1 | 15.0 ± 9.8 | – | – |');
  });
});
