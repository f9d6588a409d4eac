// The reproduction report: REPRO.md in the paper's Table-1 shape with one fixed number format,
// the plots written beside it and linked relatively, curves sorted into SFT and RL by what they
// logged, legends in the paper's terms, loss on a log axis, and nothing printed that the results
// object does not hold.

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  writeReproReport,
  type CurvePoint,
  type ReproResults,
  type ReproRow,
} from '../../colar/report/repro_report.js';

function row(name: string, group: string, accuracy: [number, number], chainLength: [number, number]): ReproRow {
  return {
    row: name,
    group,
    accuracy: { mean: accuracy[0], ci95: accuracy[1] },
    chainLength: { mean: chainLength[0], ci95: chainLength[1] },
    perSeedAccuracy: [accuracy[0] - 0.5, accuracy[0] + 0.5],
    perSeedChainLength: [chainLength[0], chainLength[0]],
  };
}

/** SFT logs interleave validation records (no loss) with training steps. */
function sftCurve(steps: number): CurvePoint[] {
  return Array.from({ length: steps }, (_, i): CurvePoint[] => [
    { step: i + 1, loss: 3 / (i + 1), ce: 2 / (i + 1), latent: null },
    ...(i % 4 === 3 ? [{ step: i + 1, val_accuracy: 0.5 }] : []),
  ]).flat();
}

function rlCurve(steps: number, reward: number): CurvePoint[] {
  return Array.from({ length: steps }, (_, i) => ({
    step: i + 1,
    reward: reward + 0.01 * i,
    accuracy: reward,
    chain_length: 8 - 0.1 * i,
    clip_fraction: 0.1,
  }));
}

function results(): ReproResults {
  return {
    command: 'node dist/cli/main.js repro --seeds 3 --out results',
    machine: '16 × EPYC, 125 GiB',
    adapter: 'llvmpipe (LLVM 15.0.7, 256 bits)',
    startedAt: '2025-07-20T10:00:00.000Z',
    seconds: 3723.44,
    dataset: 'synthetic arithmetic (test split)',
    testQuestions: 200,
    evalBatch: 50,
    seeds: 3,
    stages: [
      { name: 'cot', seconds: 120.04, steps: 400, runDir: 'results/runs/cot' },
      { name: 'nocot', seconds: 60, steps: 100, runDir: 'results/runs/nocot' },
      { name: 'colar', seconds: 95.5, steps: 300, runDir: 'results/runs/colar' },
      { name: 'rl', seconds: 300, steps: 120, runDir: 'results/runs/rl' },
    ],
    rows: [
      row('No-CoT', 'baseline', [12.34, 1.06], [0, 0]),
      { ...row('CoT', 'baseline', [61.75, 0.94], [24.554, 0.1234]), msPerQuestion: { mean: 41.26, ci95: 0.5 } },
      row('CoLaR c=2', 'colar', [45, 1.2], [12.6, 0.06]),
      row('CoLaR-RL c=2', 'rl', [52.5, 0.8], [4.1, 0.03]),
      row('CoLaR-RL | w/o average c=2', 'ablation', [NaN, 0], [32, 0]),
    ],
    curves: {
      cot: sftCurve(40),
      nocot: sftCurve(20),
      colar: sftCurve(30),
      rl: rlCurve(20, 0.4),
      'rl-sum32': rlCurve(20, 0.3),
    },
    notes: ['RL vs its SFT start at c=2: accuracy 45.0 ± 1.2 → 52.5 ± 0.8 %.', 'A second finding.'],
  };
}

let dir: string;
let report: { markdown: string; plots: string[] };
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'repro-report-test-'));
  report = await writeReproReport(path.join(dir, 'results'), results());
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeReproReport', () => {
  it('writes REPRO.md and the three plots, and returns what it wrote', async () => {
    const written = (await readdir(path.join(dir, 'results'))).sort();
    expect(written).toEqual(['REPRO.md', 'accuracy_vs_length.svg', 'rl_curves.svg', 'training_curves.svg']);
    expect(await readFile(path.join(dir, 'results', 'REPRO.md'), 'utf8')).toBe(report.markdown);
    expect(report.plots.map((plot) => path.basename(plot))).toEqual([
      'accuracy_vs_length.svg',
      'training_curves.svg',
      'rl_curves.svg',
    ]);
  });

  it('heads the report with the exact command, machine, adapter, start and wall time', () => {
    expect(report.markdown).toContain('```sh\nnode dist/cli/main.js repro --seeds 3 --out results\n```');
    expect(report.markdown).toContain('- Machine: `16 × EPYC, 125 GiB`');
    expect(report.markdown).toContain('- Adapter: `llvmpipe (LLVM 15.0.7, 256 bits)`');
    expect(report.markdown).toContain('- Started: 2025-07-20T10:00:00.000Z');
    expect(report.markdown).toContain('- Wall time: 3723.4 s (1:02:03)');
    expect(report.markdown).toContain('- Test set: synthetic arithmetic (test split), 200 questions, 3 seeds');
    expect(report.markdown).toContain('decoding in batches of 50.');
  });

  it("prints the Table-1 rows in order, accuracy to one decimal, # L to two, ms/question where measured", () => {
    const table = [
      '| Method | Acc. (%) | # L | ms / question |',
      '|---|---:|---:|---:|',
      '| No-CoT | 12.3 ± 1.1 | 0.00 ± 0.00 | – |',
      '| CoT | 61.8 ± 0.9 | 24.55 ± 0.12 | 41.3 |',
      '| CoLaR c=2 | 45.0 ± 1.2 | 12.60 ± 0.06 | – |',
      '| CoLaR-RL c=2 | 52.5 ± 0.8 | 4.10 ± 0.03 | – |',
      '| CoLaR-RL \\| w/o average c=2 | n/a ± 0.0 | 32.00 ± 0.00 | – |',
    ].join('\n');
    expect(report.markdown).toContain(table);
  });

  it('lists every seed of every row', () => {
    expect(report.markdown).toContain('| CoT | baseline | 61.3, 62.3 | 24.55, 24.55 |');
  });

  it('tabulates each stage with its steps, wall time and run directory', () => {
    expect(report.markdown).toContain('| cot | 400 | 120.0 s (0:02:00) | `results/runs/cot` |');
    expect(report.markdown).toContain('| rl | 120 | 300.0 s (0:05:00) | `results/runs/rl` |');
  });

  it('puts the notes as bullets and embeds the plots by relative links', () => {
    const notes = '- RL vs its SFT start at c=2: accuracy 45.0 ± 1.2 → 52.5 ± 0.8 %.\n- A second finding.';
    expect(report.markdown).toContain(notes);
    expect(report.markdown).toContain('](accuracy_vs_length.svg)');
    expect(report.markdown).toContain('](training_curves.svg)');
    expect(report.markdown).toContain('](rl_curves.svg)');
    expect(report.markdown).not.toContain(dir);
  });

  const plot = (file: string): Promise<string> => readFile(path.join(dir, 'results', file), 'utf8');
  const legendOf = (svg: string): string[] =>
    [...svg.matchAll(/<g class="legend">(.*?)<\/g>/g)].map((m) => [...m[1]!.matchAll(/<text [^>]*>([^<]*)</g)].map((t) => t[1]!)).flat();

  it('plots every row with error bars where its CI is positive, named in the paper\'s terms', async () => {
    const svg = await plot('accuracy_vs_length.svg');
    // the row with a NaN accuracy has no position, so it is left out rather than drawn at 0
    expect(legendOf(svg)).toEqual(['No-CoT', 'CoT', 'CoLaR (c = 2)', 'CoLaR + RL (c = 2)']);
    expect(svg).not.toContain('average');
    expect(svg).not.toContain('NaN');
    expect(svg.match(/class="y-error"/g)).toHaveLength(4);
    expect(svg.match(/class="x-error"/g)).toHaveLength(3);
  });

  it('draws SFT loss for SFT stages only, unbroken by validation records, named in the paper\'s terms', async () => {
    const svg = await plot('training_curves.svg');
    expect(legendOf(svg)).toEqual(['CoT', 'No-CoT', 'CoLaR']);
    expect(svg).not.toContain('data-name="CoLaR + RL');
    const cotPath = /data-name="CoT"><path d="([^"]+)"/.exec(svg)![1]!;
    expect(cotPath.match(/M/g)).toHaveLength(1);
    expect(cotPath.match(/L/g)).toHaveLength(39);
  });

  it('draws the loss smoothed over its raw trace on a log axis ticked at decades', async () => {
    const svg = await plot('training_curves.svg');
    expect(svg).toContain('<g class="raw"');
    const ticks = [.../<g class="y-ticks"[^>]*>(.*?)<\/g>/.exec(svg)![1]!.matchAll(/y="([\d.]+)"[^>]*>([^<]+)</g)];
    const values = ticks.map((tick) => Number(tick[2]));
    // the fixture's loss runs 3 → 0.075: decades 0.01 to 10, each as high as the next
    expect(values).toEqual([0.01, 0.1, 1, 10]);
    const gaps = ticks.slice(1).map((tick, i) => Number(ticks[i]![1]) - Number(tick[1]));
    for (const gap of gaps) expect(gap).toBeCloseTo(gaps[0]!, 0);
  });

  it('draws reward and # L for each RL stage, one chart above the other, named in the paper\'s terms', async () => {
    const svg = await plot('rl_curves.svg');
    expect(legendOf(svg)).toEqual([
      'CoLaR + RL (c = 2)',
      'CoLaR + RL | w/o average (c = 2)',
      'CoLaR + RL (c = 2)',
      'CoLaR + RL | w/o average (c = 2)',
    ]);
    expect(svg).toContain('>RL reward (mean over rollouts)</text>');
    expect(svg).toContain('>RL reasoning-chain length (mean over rollouts)</text>');
    expect(svg).not.toContain('data-name="CoT"');
  });

  it('leaves out a plot, and its link, when there is nothing to draw', async () => {
    const bare = { ...results(), curves: {} };
    const out = await writeReproReport(path.join(dir, 'bare'), bare);
    expect(out.plots.map((plot) => path.basename(plot))).toEqual(['accuracy_vs_length.svg']);
    expect(out.markdown).not.toContain('training_curves.svg');
    expect(out.markdown).not.toContain('rl_curves.svg');
  });

  it('fences a command that itself holds backticks', async () => {
    const out = await writeReproReport(path.join(dir, 'ticks'), { ...results(), command: 'echo ```x``` `y`' });
    expect(out.markdown).toContain('````sh\necho ```x``` `y`\n````');
  });
});
