// The reproduction report: turns a finished run's results into results/REPRO.md, a table in the
// shape of the paper's Table 1 (Method | Acc. (%) | # L, "mean ± 95% CI" over seeds), and SVG plots
// beside it. Every number printed comes from the results object; formatting follows one fixed rule
// per quantity so reports from different runs can be compared line by line.

import path from 'node:path';
import { writeFileAtomic } from '../../io/files.js';
import {
  DEFAULT_CHART_HEIGHT,
  lineChart,
  scatterChart,
  stackVertically,
  type LineSeries,
} from './svg.js';

export interface MeanCI {
  mean: number;
  /** half-width of the 95% confidence interval of the mean over seeds */
  ci95: number;
}

export interface ReproRow {
  /** e.g. 'No-CoT', 'CoT', 'CoLaR c=2', 'CoLaR-RL c=2' (the plots print these in the paper's terms) */
  row: string;
  /** 'baseline' | 'colar' | 'teacher-forced' | 'rl' | 'ablation' */
  group: string;
  /** percent, 0–100 */
  accuracy: MeanCI;
  /** # L: reasoning-chain length (latent steps, or CoT tokens for the CoT baseline) */
  chainLength: MeanCI;
  perSeedAccuracy: number[];
  perSeedChainLength: number[];
  /** wall-clock milliseconds per question (absent in rows cached by older versions) */
  msPerQuestion?: MeanCI;
}

/** One metrics-log record; values that are not finite numbers are treated as missing. */
export interface CurvePoint {
  step: number;
  [metric: string]: number | null;
}

export interface ReproResults {
  command: string;
  machine: string;
  adapter: string;
  startedAt: string;
  seconds: number;
  dataset: string;
  testQuestions: number;
  seeds: number;
  /** questions decoded together in evaluation */
  evalBatch: number;
  stages: Array<{ name: string; seconds: number; steps: number; runDir: string }>;
  rows: ReproRow[];
  /** keyed by stage name; SFT records carry loss (and ce, latent), RL records reward and chain_length */
  curves: Record<string, CurvePoint[]>;
  notes: string[];
}

interface Plot {
  file: string;
  caption: string;
  svg: string;
}

// ---------------------------------------------------------------------------------------------
// Number formatting: the one rule per quantity

const ACCURACY_DECIMALS = 1;
const CHAIN_LENGTH_DECIMALS = 2;
const SECONDS_DECIMALS = 1;

/** A missing or non-finite value prints as "n/a" rather than as a number nobody measured. */
function fixed(value: number, decimals: number): string {
  return Number.isFinite(value) ? value.toFixed(decimals) : 'n/a';
}

function meanWithCI(value: MeanCI, decimals: number): string {
  return `${fixed(value.mean, decimals)} ± ${fixed(value.ci95, decimals)}`;
}

/** 3723.4 → "3723.4 s (1:02:03)": seconds to compare runs, h:mm:ss to read. */
function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'n/a';
  const whole = Math.round(seconds);
  const clock = [Math.floor(whole / 3600), Math.floor((whole % 3600) / 60), whole % 60]
    .map((part, index) => (index === 0 ? String(part) : String(part).padStart(2, '0')))
    .join(':');
  return `${seconds.toFixed(SECONDS_DECIMALS)} s (${clock})`;
}

// ---------------------------------------------------------------------------------------------
// Markdown text

/** A table cell holds one line, and a bare "|" would end the cell. */
function cell(content: string): string {
  return content.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}

/** Backticks enough to fence `content` however many it holds itself (CommonMark's rule). */
function fenceFor(content: string, least: number): string {
  const longestRun = Math.max(0, ...(content.match(/`+/g) ?? []).map((run) => run.length));
  return '`'.repeat(Math.max(least, longestRun + 1));
}

function inlineCode(content: string): string {
  const fence = fenceFor(content, 1);
  const padded = content.startsWith('`') || content.endsWith('`') ? ` ${content} ` : content;
  return `${fence}${padded}${fence}`;
}

function table(header: string[], alignment: Array<'left' | 'right'>, rows: string[][]): string[] {
  const line = (cells: string[]): string => `| ${cells.map(cell).join(' | ')} |`;
  const rule = `|${alignment.map((side) => (side === 'right' ? '---:' : '---')).join('|')}|`;
  return [line(header), rule, ...rows.map(line)];
}

function bullet(note: string): string {
  return `- ${note.trim().replace(/\r?\n/g, '\n  ')}`;
}

function reproMarkdown(r: ReproResults, plots: Plot[]): string {
  const commandFence = fenceFor(r.command, 3);
  const lines: string[] = [
    '# CoLaR reproduction',
    '',
    'Command:',
    '',
    `${commandFence}sh`,
    r.command,
    commandFence,
    '',
    `- Machine: ${inlineCode(r.machine)}`,
    `- Adapter: ${inlineCode(r.adapter)}`,
    `- Started: ${r.startedAt}`,
    `- Wall time: ${duration(r.seconds)}`,
    `- Test set: ${r.dataset}, ${r.testQuestions} questions, ${r.seeds} seeds`,
    '',
    '## Results',
    '',
    `Mean over ${r.seeds} seeds ± the 95% confidence interval of the mean, as in the paper's Table 1. ` +
      '# L is the reasoning-chain length: latent steps for CoLaR, reasoning tokens for CoT. ' +
      'Teacher-forced rows feed the gold chain compressed by c instead of sampled latents (can the model read the compressed chain?). ' +
      `ms / question is wall-clock time per question, decoding in batches of ${r.evalBatch}.`,
    '',
    ...table(
      ['Method', 'Acc. (%)', '# L', 'ms / question'],
      ['left', 'right', 'right', 'right'],
      r.rows.map((row) => [
        row.row,
        meanWithCI(row.accuracy, ACCURACY_DECIMALS),
        meanWithCI(row.chainLength, CHAIN_LENGTH_DECIMALS),
        row.msPerQuestion ? fixed(row.msPerQuestion.mean, 1) : '–',
      ]),
    ),
    '',
    '### Per seed',
    '',
    ...table(
      ['Method', 'Group', 'Acc. (%) per seed', '# L per seed'],
      ['left', 'left', 'right', 'right'],
      r.rows.map((row) => [
        row.row,
        row.group,
        row.perSeedAccuracy.map((value) => fixed(value, ACCURACY_DECIMALS)).join(', '),
        row.perSeedChainLength.map((value) => fixed(value, CHAIN_LENGTH_DECIMALS)).join(', '),
      ]),
    ),
    '',
    '## Stages',
    '',
    ...table(
      ['Stage', 'Steps', 'Wall time', 'Run directory'],
      ['left', 'right', 'right', 'left'],
      r.stages.map((stage) => [stage.name, String(stage.steps), duration(stage.seconds), inlineCode(stage.runDir)]),
    ),
  ];
  if (r.notes.length > 0) lines.push('', '## Findings', '', ...r.notes.map(bullet));
  if (plots.length > 0) {
    lines.push('', '## Plots');
    for (const plot of plots) lines.push('', `![${plot.caption}](${plot.file})`);
  }
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Plots

/**
 * A stage's curve for one metric. Records without the metric belong to another kind of line in
 * the same log (e.g. validation accuracy between SFT steps), so they are left out rather than
 * drawn as gaps; a record that has the metric but no finite value is a gap.
 */
function curveOf(points: CurvePoint[], metric: string): LineSeries['points'] {
  return points
    .filter((point) => metric in point)
    .map((point) => [point.step, typeof point[metric] === 'number' ? point[metric] : null]);
}

const hasMetric = (points: CurvePoint[], metric: string): boolean =>
  points.some((point) => typeof point[metric] === 'number' && Number.isFinite(point[metric]));

/** The paper's names for the table's rows: "CoLaR-RL c=2" → "CoLaR + RL (c = 2)". */
function paperName(row: string): string {
  return row.replace(/-RL\b/, ' + RL').replace(/ c=(\S+)$/, ' (c = $1)');
}

/**
 * The paper's names for repro's stages. RL trains at one compression factor, named as in the RL
 * rows; the CoLaR stage trains at all of them at once, so its curve has no single c.
 */
function stageName(stage: string, rows: ReproRow[]): string {
  const rlRow = (group: string): string | undefined => rows.find((row) => row.group === group)?.row;
  const names: Record<string, string | undefined> = {
    cot: 'CoT',
    nocot: 'No-CoT',
    colar: 'CoLaR',
    rl: rlRow('rl'),
    'rl-sum32': rlRow('ablation'),
  };
  return paperName(names[stage] ?? stage);
}

/** Loss falls over decades: a log axis shows its tail, smoothing its trend under step noise. */
const LOSS_SMOOTHING = 0.98;
/** Wide enough for the legend's long names (RL without averaging) beside a plot as wide as the loss's. */
const WIDE_CHART = 800;

function plotsOf(r: ReproResults): Plot[] {
  const plots: Plot[] = [];
  if (r.rows.length > 0) {
    plots.push({
      file: 'accuracy_vs_length.svg',
      caption: 'Accuracy vs reasoning-chain length',
      svg: scatterChart({
        title: `Accuracy vs # L (mean ± 95% CI over ${r.seeds} seeds)`,
        xLabel: '# L (reasoning-chain length)',
        yLabel: 'Accuracy (%)',
        width: WIDE_CHART,
        points: r.rows.map((row) => ({
          series: paperName(row.row),
          x: row.chainLength.mean,
          y: row.accuracy.mean,
          xErr: row.chainLength.ci95,
          yErr: row.accuracy.ci95,
        })),
      }),
    });
  }

  // A stage is RL if it logged rewards; SFT stages log a loss instead.
  const stages = Object.entries(r.curves);
  const rlStages = stages.filter(([, points]) => hasMetric(points, 'reward'));
  const sftStages = stages.filter(([, points]) => !hasMetric(points, 'reward') && hasMetric(points, 'loss'));

  if (sftStages.length > 0) {
    plots.push({
      file: 'training_curves.svg',
      caption: 'SFT loss per stage',
      svg: lineChart({
        title: 'SFT training loss (smoothed; raw loss faint)',
        xLabel: 'step',
        yLabel: 'loss (log scale)',
        logY: true,
        smoothing: LOSS_SMOOTHING,
        series: sftStages.map(([name, points]) => ({ name: stageName(name, r.rows), points: curveOf(points, 'loss') })),
      }),
    });
  }

  if (rlStages.length > 0) {
    const rlChart = (title: string, yLabel: string, metric: string): string =>
      lineChart({
        title,
        xLabel: 'step',
        yLabel,
        width: WIDE_CHART,
        series: rlStages.map(([name, points]) => ({ name: stageName(name, r.rows), points: curveOf(points, metric) })),
      });
    const size = { width: WIDE_CHART, height: DEFAULT_CHART_HEIGHT };
    plots.push({
      file: 'rl_curves.svg',
      caption: 'RL reward and # L per step',
      svg: stackVertically([
        { svg: rlChart('RL reward (mean over rollouts)', 'reward', 'reward'), ...size },
        { svg: rlChart('RL reasoning-chain length (mean over rollouts)', '# L', 'chain_length'), ...size },
      ]),
    });
  }
  return plots;
}

// ---------------------------------------------------------------------------------------------

/** Writes dir/REPRO.md and its plots (dir/*.svg); returns the markdown and the plots' paths. */
export async function writeReproReport(dir: string, r: ReproResults): Promise<{ markdown: string; plots: string[] }> {
  const plots = plotsOf(r);
  for (const plot of plots) await writeFileAtomic(path.join(dir, plot.file), plot.svg);
  const markdown = reproMarkdown(r, plots);
  await writeFileAtomic(path.join(dir, 'REPRO.md'), markdown);
  return { markdown, plots: plots.map((plot) => path.join(dir, plot.file)) };
}
