// The ablation table averages each lever's runs over training seeds (per-run means, CI over
// seeds), levers and rows in the order the plan evaluated them, from results.json only.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPlanResults, type PlanResults, type RowResult } from '../../colar/experiment.js';
import { ablationCells, ablationMarkdown, writeAblationReport } from '../../colar/report/ablation_table.js';

function row(base: string, trainingSeed: number | null, name: string, acc: number, len: number): RowResult {
  return {
    row: name, group: base, run: trainingSeed === null ? base : `${base}-s${trainingSeed}`, base, trainingSeed, mode: 'latent', compression: 2, greedy: false,
    accuracy: { mean: acc, ci95: 9 }, chainLength: { mean: len, ci95: 9 }, msPerQuestion: { mean: 2 * len, ci95: 0 }, perSeedAccuracy: [acc], perSeedChainLength: [len],
  };
}

describe('ablation table', () => {
  it('groups a plan\'s rows by lever and row, mean ± 1.96·s/√n over training seeds', async () => {
    const rows = [row('cot', 0, 'CoT', 90, 40), row('mse', 0, 'CoLaR c=2', 10, 12), row('mse', 1, 'CoLaR c=2', 20, 14), row('rl', null, 'CoLaR-RL c=2', 5, 3)];
    const cells = ablationCells(rows);
    const mse = cells.find((c) => c.lever === 'mse')!;
    expect(mse.seeds).toEqual([0, 1]);
    expect(mse.accuracy.mean).toBe(15);
    expect(mse.accuracy.ci95).toBeCloseTo((1.96 * Math.sqrt(50)) / Math.sqrt(2), 10);
    expect(mse.chainLength.mean).toBe(13);
    expect(mse.msPerQuestion!.mean).toBe(26);
    const md = ablationMarkdown(cells).split('\n');
    expect(md[2]).toBe('| cot | CoT | 0 | 90.0 ± 0.0 | 40.00 ± 0.00 | 80.0 |');
    expect(md[3]).toBe('| mse | CoLaR c=2 | 0, 1 | 15.0 ± 9.8 | 13.00 ± 1.96 | 26.0 |');
    expect(md[4]).toBe('| rl | CoLaR-RL c=2 | – | 5.0 ± 0.0 | 3.00 ± 0.00 | 6.0 |');

    const dir = await mkdtemp(join(tmpdir(), 'ablation-'));
    await writeFile(join(dir, 'results.json'), JSON.stringify({ rows } as Partial<PlanResults>));
    await writeAblationReport(dir, await readPlanResults(dir));
    expect(await readFile(join(dir, 'ABLATION.md'), 'utf8')).toContain(md[3]);
  });

  it('refuses a directory without results.json, naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ablation-'));
    await expect(readPlanResults(dir)).rejects.toThrow(join(dir, 'results.json'));
  });
});
