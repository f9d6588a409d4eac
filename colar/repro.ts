// From nothing to the results table: CoT and No-CoT SFT, CoLaR SFT with the MSE and NLL
// latent losses (both from the CoT model), GRPO on the NLL model with the averaged (per-sample
// mean) objective and, as the ablation, without averaging (sum / 32); then evaluation of every
// row over several seeds (plus the gold chain teacher-forced into the MSE model at each c: can
// it read what it should write?), and results/REPRO.md with plots. Each stage writes DONE when
// finished, so a rerun skips what is complete and resumes what is not.

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

function plan(o: ReproOptions): StagePlan[] {
  const dir = (name: string) => JSON.stringify(join(o.outDir, 'runs', name));
  // batches of 64: more tokens/s on lavapipe than 32 (6,400 against 4,550 for the tiny model)
  const sft = ['train.batch_size=64'];
  return [
    { name: 'cot', stage: 'cot', overrides: [...sft, 'train.epochs=8'] },
    { name: 'nocot', stage: 'nocot', overrides: [...sft, 'train.epochs=2'] },
    { name: 'colar-mse', stage: 'colar', overrides: [...sft, `model.init_from=${dir('cot')}`, 'latent_loss=mse', 'train.epochs=2', 'train.lr=1e-3'] },
    { name: 'colar-nll', stage: 'colar', overrides: [...sft, `model.init_from=${dir('cot')}`, 'latent_loss=nll', 'train.epochs=2', 'train.lr=1e-3'] },
    { name: 'rl', stage: 'rl', overrides: [`model.init_from=${dir('colar-nll')}`, 'rl.aggregation=mean'] },
    { name: 'rl-sum32', stage: 'rl', overrides: [`model.init_from=${dir('colar-nll')}`, 'rl.aggregation=sum32'] },
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
    await writeRunFiles(runDir, cfg, run);
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
    ...o.compressions.map((c) => ({ row: `CoLaR-MSE c=${c}`, group: 'colar-mse', run: 'colar-mse', mode: 'latent' as const, c })),
    ...o.compressions.map((c) => ({ row: `CoLaR-NLL c=${c}`, group: 'colar-nll', run: 'colar-nll', mode: 'latent' as const, c })),
    ...o.compressions.map((c) => ({ row: `Teacher-forced (MSE model) c=${c}`, group: 'teacher-forced', run: 'colar-mse', mode: 'teacher-forced' as const, c })),
    { row: `CoLaR-NLL-RL c=${rlCompression}`, group: 'rl', run: 'rl', mode: 'latent', c: rlCompression },
    { row: `CoLaR-NLL-RL w/o average c=${rlCompression}`, group: 'ablation', run: 'rl-sum32', mode: 'latent', c: rlCompression },
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
  const sft = byName.get(`CoLaR-NLL c=${c}`);
  const rl = byName.get(`CoLaR-NLL-RL c=${c}`);
  const noAvg = byName.get(`CoLaR-NLL-RL w/o average c=${c}`);
  const notes: string[] = [];
  const fmt = (m: { mean: number; ci95: number }, d = 1) => `${m.mean.toFixed(d)} ± ${m.ci95.toFixed(d)}`;
  if (sft && rl) {
    notes.push(`RL vs its SFT start at c=${c}: accuracy ${fmt(sft.accuracy)} → ${fmt(rl.accuracy)} % (${(rl.accuracy.mean - sft.accuracy.mean).toFixed(1)} points), #L ${fmt(sft.chainLength, 2)} → ${fmt(rl.chainLength, 2)} (${((100 * (rl.chainLength.mean - sft.chainLength.mean)) / Math.max(1e-9, sft.chainLength.mean)).toFixed(1)}%).`);
  }
  for (const k of [1, 2, 5]) {
    const read = byName.get(`Teacher-forced (MSE model) c=${k}`);
    const write = byName.get(`CoLaR-MSE c=${k}`);
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
