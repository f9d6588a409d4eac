// The ablation table of bench/colar_ablation.sh: every run directory "<lever>-s<seed>" with an
// eval/eval.json becomes one training seed of its lever; each row (e.g. "CoLaR c=2") is the mean
// over training seeds of the per-run means, ± 1.96·σ/√n over those seeds (evaluation seeds are
// already averaged inside each run). The latent head's writing diagnostic, when evaluated, adds
// rows "Head writes c=k" (and "… result digits"): % of latents nearest their own target.

import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { meanCI, type MeanCI } from '../evaluate.js';

interface EvalRow {
  row: string;
  accuracy: MeanCI;
  chain_length?: MeanCI;
  ms_per_question?: MeanCI;
}

/** eval.json's writing diagnostic (eval --teacher-forced), one entry per c. */
interface WritingEntry {
  compression: number;
  nearest: number;
  nearestResult: number;
}

/** The writing diagnostic as rows whose "accuracy" is the % of latents nearest their own target. */
function writingRows(writing: WritingEntry[] = []): EvalRow[] {
  const row = (name: string, fraction: number): EvalRow => ({ row: name, accuracy: { mean: 100 * fraction, ci95: 0 } });
  return writing.flatMap((w) => [row(`Head writes c=${w.compression}`, w.nearest), row(`Head writes result digits c=${w.compression}`, w.nearestResult)]);
}

export interface AblationCell {
  lever: string;
  row: string;
  seeds: number[];
  accuracy: MeanCI;
  /** null for rows without a chain (the writing diagnostic) */
  chainLength: MeanCI | null;
  msPerQuestion: MeanCI | null;
}

/** Reads every "<lever>-s<seed>/eval/eval.json" under dir. */
export async function readAblation(dir: string): Promise<AblationCell[]> {
  const runs: Array<{ lever: string; seed: number; rows: EvalRow[] }> = [];
  for (const name of (await readdir(dir)).sort()) {
    const match = /^(.+)-s(\d+)$/.exec(name);
    const file = join(dir, name, 'eval', 'eval.json');
    if (!match || !existsSync(file)) continue;
    const { rows, writing } = JSON.parse(await readFile(file, 'utf8')) as { rows: EvalRow[]; writing?: WritingEntry[] };
    runs.push({ lever: match[1], seed: Number(match[2]), rows: [...rows, ...writingRows(writing)] });
  }
  const cells = new Map<string, { lever: string; row: string; seeds: number[]; acc: number[]; len: number[]; ms: number[] }>();
  for (const run of runs) {
    for (const r of run.rows) {
      const key = `${run.lever}\u0000${r.row}`;
      const cell = cells.get(key) ?? { lever: run.lever, row: r.row, seeds: [], acc: [], len: [], ms: [] };
      cell.seeds.push(run.seed);
      cell.acc.push(r.accuracy.mean);
      if (r.chain_length) cell.len.push(r.chain_length.mean);
      if (r.ms_per_question) cell.ms.push(r.ms_per_question.mean);
      cells.set(key, cell);
    }
  }
  return [...cells.values()].map((c) => ({
    lever: c.lever, row: c.row, seeds: c.seeds, accuracy: meanCI(c.acc), chainLength: c.len.length === c.seeds.length ? meanCI(c.len) : null,
    msPerQuestion: c.ms.length === c.seeds.length ? meanCI(c.ms) : null,
  }));
}

/** Markdown: one line per (lever, row), levers in the order given, rows as evaluated. */
export function ablationMarkdown(cells: AblationCell[], leverOrder: string[] = []): string {
  const rank = (lever: string) => (leverOrder.includes(lever) ? leverOrder.indexOf(lever) : leverOrder.length);
  const sorted = [...cells].sort((a, b) => rank(a.lever) - rank(b.lever) || a.lever.localeCompare(b.lever));
  const f = (m: MeanCI, d: number) => `${m.mean.toFixed(d)} ± ${m.ci95.toFixed(d)}`;
  return [
    '| lever | row | training seeds | Acc. (%) | # L | ms / question |',
    '|---|---|---|---:|---:|---:|',
    ...sorted.map((c) => `| ${c.lever} | ${c.row} | ${c.seeds.join(', ')} | ${f(c.accuracy, 1)} | ${c.chainLength ? f(c.chainLength, 2) : '–'} | ${c.msPerQuestion ? c.msPerQuestion.mean.toFixed(1) : '–'} |`),
  ].join('\n');
}
