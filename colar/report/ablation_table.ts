// The ablation table of a plan's results (plans/ablation.yaml): every evaluated row of a stage
// run per training seed becomes one seed of its lever (the plan's stage name); each line (e.g.
// "mse | CoLaR c=2") is the mean over training seeds of the per-run means, ± 1.96·σ/√n over
// those seeds (evaluation seeds are already averaged inside each run). Levers keep the plan's order.

import { join } from 'node:path';
import { writeFileAtomic } from '../../io/files.js';
import type { PlanResults, RowResult } from '../experiment.js';
import { meanCI, type MeanCI } from '../evaluate.js';

export interface AblationCell {
  lever: string;
  row: string;
  /** training seeds (null: the stage is not run per seed) */
  seeds: Array<number | null>;
  accuracy: MeanCI;
  chainLength: MeanCI;
  msPerQuestion: MeanCI | null;
}

/** The rows of a plan's results grouped by (lever, row), in the order the plan evaluated them. */
export function ablationCells(rows: RowResult[]): AblationCell[] {
  const groups = new Map<string, RowResult[]>();
  for (const r of rows) {
    const key = `${r.base}\u0000${r.row}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((g) => {
    const ms = g.flatMap((r) => (r.msPerQuestion ? [r.msPerQuestion.mean] : []));
    return {
      lever: g[0].base, row: g[0].row, seeds: g.map((r) => r.trainingSeed), accuracy: meanCI(g.map((r) => r.accuracy.mean)),
      chainLength: meanCI(g.map((r) => r.chainLength.mean)), msPerQuestion: ms.length === g.length ? meanCI(ms) : null,
    };
  });
}

/** Markdown: one line per (lever, row), in the cells' order. */
export function ablationMarkdown(cells: AblationCell[]): string {
  const f = (m: MeanCI, d: number) => `${m.mean.toFixed(d)} ± ${m.ci95.toFixed(d)}`;
  return [
    '| lever | row | training seeds | Acc. (%) | # L | ms / question |',
    '|---|---|---|---:|---:|---:|',
    ...cells.map((c) => `| ${c.lever} | ${c.row} | ${c.seeds.map((s) => s ?? '–').join(', ')} | ${f(c.accuracy, 1)} | ${f(c.chainLength, 2)} | ${c.msPerQuestion ? c.msPerQuestion.mean.toFixed(1) : '–'} |`),
  ].join('\n');
}

/** Writes dir/ABLATION.md from a plan's results; returns the table. */
export async function writeAblationReport(dir: string, results: PlanResults): Promise<string> {
  const table = ablationMarkdown(ablationCells(results.rows));
  await writeFileAtomic(join(dir, 'ABLATION.md'), `# CoLaR ablation (${dir})\n\nMean over training seeds of each run's mean over evaluation seeds, ± 1.96·σ/√n over training seeds.\n\n${table}\n`);
  return table;
}
