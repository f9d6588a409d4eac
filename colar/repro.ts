// From nothing to the results table, sized as a demonstration for a 2-core CPU: CoT and No-CoT
// SFT, one CoLaR model (MSE latent loss, input noise) trained with the factors to evaluate drawn
// at random, GRPO on it with the averaged (per-sample mean) objective and, as the ablation,
// without averaging (sum / 32); then evaluation of every row over several seeds (plus the gold
// chain teacher-forced into the CoLaR model at each c: can it read what it should write?), and
// results/REPRO.md with plots. The recipe that meets the full targets takes hours:
// bench/colar_tiny.sh. Each stage writes DONE when finished, so a rerun skips what is complete
// and resumes what is not.

import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import * as E from '../engine/index.js';
import { evaluateAccuracy, meanCI, type EvalMode } from './evaluate.js';
import { writeReproReport, type CurvePoint, type ReproResults, type ReproRow } from './report/repro_report.js';
import { trainRl } from './rl.js';
import { buildRunModel, loadRun, runDatasets, syntheticDataset, writeRunFiles } from './run.js';
import type { Pooling } from './sequence.js';
import { resolveConfig, type ArithmeticConfig, type Stage } from './train_config.js';
import { train } from './trainer.js';

export interface ReproOptions {
  outDir: string;
  preset: string;
  seeds: number;
  testQuestions: number;
  compressions: number[];
  /** questions decoded together in evaluation (larger batches amortise each decoding step) */
  evalBatch: number;
  /** key=value overrides applied to every stage */
  overrides: string[];
  command: string;
  log: (line: string) => void;
}

interface StagePlan {
  name: string;
  stage: Stage;
  overrides: string[];
}

// Batches of 16: on lavapipe a step of 16 costs a third of a step of 64 (80 % of its tokens/s),
// and the tiny model learns more per example from small batches: CoT loss 0.03 after 2,600 steps
// of 16 against 1,600 of 64 — half the time (README: session 9).
const SFT = ['train.batch_size=16'];
const COT_EPOCHS = 4;
const COLAR_EPOCHS = 1;

function plan(o: ReproOptions): StagePlan[] {
  const dir = (name: string) => JSON.stringify(join(o.outDir, 'runs', name));
  // input noise lets the model read latents near, not on, the gold ones (README: session 8)
  const colar = ['latent_loss=mse', 'train.lr=1e-3', 'colar.input_noise=0.5', `colar.max_compression_factor=${JSON.stringify(o.compressions.join(','))}`];
  return [
    { name: 'cot', stage: 'cot', overrides: [...SFT, `train.epochs=${COT_EPOCHS}`] },
    { name: 'nocot', stage: 'nocot', overrides: [...SFT, 'train.epochs=1'] },
    { name: 'colar', stage: 'colar', overrides: [...SFT, `model.init_from=${dir('cot')}`, ...colar, `train.epochs=${COLAR_EPOCHS}`] },
    { name: 'rl', stage: 'rl', overrides: [`model.init_from=${dir('colar')}`, 'rl.aggregation=mean'] },
    { name: 'rl-sum32', stage: 'rl', overrides: [`model.init_from=${dir('colar')}`, 'rl.aggregation=sum32'] },
  ];
}

export async function runRepro(engine: E.Engine, o: ReproOptions): Promise<ReproResults> {
  const started = Date.now();
  await mkdir(o.outDir, { recursive: true });
  const stages: ReproResults['stages'] = [];
  for (const p of plan(o)) {
    const runDir = join(o.outDir, 'runs', p.name);
    const done = join(runDir, 'DONE');
    if (existsSync(done)) {
      const record = JSON.parse(await readFile(done, 'utf8')) as { seconds: number; steps: number };
      stages.push({ name: p.name, runDir, ...record });
      o.log(`stage ${p.name}: done before, skipped`);
      continue;
    }
    o.log(`stage ${p.name} …`);
    const t0 = Date.now();
    const cfg = resolveConfig(o.preset, p.stage, [...o.overrides, ...p.overrides, `out_dir=${JSON.stringify(runDir)}`]);
    const run = await buildRunModel(engine, cfg, p.stage === 'colar' || p.stage === 'rl');
    const data = await runDatasets(cfg);
    await writeRunFiles(runDir, cfg);
    const steps = p.stage === 'rl'
      ? (await trainRl(engine, cfg, run, data.train, { resume: true, log: o.log })).steps
      : (await train(engine, cfg, run, data, { resume: true, log: o.log })).steps;
    run.model.dispose();
    const record = { seconds: (Date.now() - t0) / 1000, steps };
    await writeFile(done, JSON.stringify(record));
    stages.push({ name: p.name, runDir, ...record });
  }

  const evalStarted = Date.now();
  const rows: ReproRow[] = [];
  const evalDir = join(o.outDir, 'eval');
  await mkdir(evalDir, { recursive: true });
  const cotConfig = resolveConfig(o.preset, 'cot', o.overrides);
  const test = syntheticDataset(cotConfig, 'test', o.testQuestions);
  const rlCompression = resolveConfig(o.preset, 'rl', o.overrides).rl.compression;
  const evalPlan: Array<{ row: string; group: string; run: string; mode: EvalMode; c: number }> = [
    { row: 'No-CoT', group: 'baseline', run: 'nocot', mode: 'no-cot', c: 1 },
    { row: 'CoT', group: 'baseline', run: 'cot', mode: 'cot', c: 1 },
    ...o.compressions.map((c) => ({ row: `CoLaR c=${c}`, group: 'colar', run: 'colar', mode: 'latent' as const, c })),
    ...o.compressions.map((c) => ({ row: `Teacher-forced c=${c}`, group: 'teacher-forced', run: 'colar', mode: 'teacher-forced' as const, c })),
    { row: `CoLaR-RL c=${rlCompression}`, group: 'rl', run: 'rl', mode: 'latent', c: rlCompression },
    { row: `CoLaR-RL w/o average c=${rlCompression}`, group: 'ablation', run: 'rl-sum32', mode: 'latent', c: rlCompression },
  ];
  for (const e of evalPlan) {
    const cache = join(evalDir, `${e.row.replace(/[^A-Za-z0-9=.-]+/g, '_')}.json`);
    if (existsSync(cache)) {
      rows.push(JSON.parse(await readFile(cache, 'utf8')) as ReproRow);
      continue;
    }
    o.log(`eval ${e.row} (${o.seeds} seeds × ${test.length} questions) …`);
    const { cfg, run } = await loadRun(engine, join(o.outDir, 'runs', e.run));
    const acc: number[] = [];
    const len: number[] = [];
    const ms: number[] = [];
    for (let s = 0; s < o.seeds; s++) {
      const r = await evaluateAccuracy(engine, run, test, { mode: e.mode, compression: e.c, seed: s, pooling: cfg.colar.pooling as Pooling, batchSize: o.evalBatch });
      acc.push(100 * r.accuracy);
      len.push(r.meanChain);
      ms.push(r.msPerQuestion);
    }
    run.model.dispose();
    const row: ReproRow = { row: e.row, group: e.group, accuracy: meanCI(acc), chainLength: meanCI(len), perSeedAccuracy: acc, perSeedChainLength: len, msPerQuestion: meanCI(ms) };
    await writeFile(cache, JSON.stringify(row));
    rows.push(row);
    o.log(`  ${e.row}: ${row.accuracy.mean.toFixed(1)} ± ${row.accuracy.ci95.toFixed(1)} %, #L ${row.chainLength.mean.toFixed(2)}`);
  }

  const curves: Record<string, CurvePoint[]> = {};
  for (const s of stages) curves[s.name] = await readCurve(join(s.runDir, 'metrics.jsonl'));
  const results: ReproResults = {
    command: o.command,
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    adapter: engine.backend.deviceName,
    startedAt: new Date(started).toISOString(),
    // training time of every stage (also those finished by an earlier invocation) plus this evaluation
    seconds: stages.reduce((t, s) => t + s.seconds, 0) + (Date.now() - evalStarted) / 1000,
    dataset: `built-in synthetic arithmetic (test split; ${taskDescription(cotConfig.data.arithmetic)})`,
    testQuestions: test.length,
    seeds: o.seeds,
    evalBatch: o.evalBatch,
    stages,
    rows,
    curves,
    notes: findings(rows, rlCompression, curves),
  };
  await writeReproReport(o.outDir, results);
  return results;
}

function taskDescription(a: ArithmeticConfig): string {
  return `${a.steps[0]}–${a.steps[1]} steps, values ${a.min_value}–${a.max_value}`;
}

async function readCurve(file: string): Promise<CurvePoint[]> {
  if (!existsSync(file)) return [];
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  return lines.map((l) => JSON.parse(l) as CurvePoint).filter((p) => typeof p.step === 'number');
}

/** The comparisons the issue asks for, computed from the rows (never typed in). */
export function findings(rows: ReproRow[], c: number, curves: Record<string, CurvePoint[]>): string[] {
  const byName = new Map(rows.map((r) => [r.row, r]));
  const sft = byName.get(`CoLaR c=${c}`);
  const rl = byName.get(`CoLaR-RL c=${c}`);
  const noAvg = byName.get(`CoLaR-RL w/o average c=${c}`);
  const notes: string[] = [];
  const fmt = (m: { mean: number; ci95: number }, d = 1) => `${m.mean.toFixed(d)} ± ${m.ci95.toFixed(d)}`;
  if (sft && rl) {
    notes.push(`RL vs its SFT start at c=${c}: accuracy ${fmt(sft.accuracy)} → ${fmt(rl.accuracy)} % (${(rl.accuracy.mean - sft.accuracy.mean).toFixed(1)} points), #L ${fmt(sft.chainLength, 2)} → ${fmt(rl.chainLength, 2)} (${((100 * (rl.chainLength.mean - sft.chainLength.mean)) / Math.max(1e-9, sft.chainLength.mean)).toFixed(1)}%).`);
  }
  for (const k of [1, 2, 5]) {
    const read = byName.get(`Teacher-forced c=${k}`);
    const write = byName.get(`CoLaR c=${k}`);
    if (read && write) notes.push(`Reading vs writing the compressed chain at c=${k}: gold chain teacher-forced ${fmt(read.accuracy)} %, sampled latents ${fmt(write.accuracy)} %.`);
  }
  for (const [stage, points] of Object.entries(curves)) {
    const rewards = points.map((p) => p.reward).filter((r): r is number => typeof r === 'number');
    if (rewards.length === 0) continue;
    const rewarded = rewards.filter((r) => r > 0).length;
    notes.push(`RL stage ${stage}: ${rewarded} of ${rewards.length} steps had any reward${rewarded === 0 ? ' — every rollout scored 0, so every advantage, and the policy gradient, was 0' : ''}.`);
  }
  if (rl && noAvg) notes.push(`Without averaging (sum / 32): accuracy ${fmt(noAvg.accuracy)} %, #L ${fmt(noAvg.chainLength, 2)} (averaged: #L ${fmt(rl.chainLength, 2)}).`);
  return notes;
}
