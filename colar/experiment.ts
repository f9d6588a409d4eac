// Runs a plan (plan.ts), resumably: each stage through runStage in 'continue' mode (the run
// directory <out>/runs/<name> resumes from its checkpoint if a kill cut it short), a DONE marker
// written atomically once the stage's outputs are whole; then each evaluation row over its seeds,
// its result cached in <out>/eval/<run>/<row>.json with the settings that produced it. A rerun
// skips finished stages and rows with the same settings and does the rest. Everything lands in
// <out>/results.json, which the report writers read.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import * as E from '../engine/index.js';
import { makeDir, withFileError, writeFileAtomic } from '../io/files.js';
import { latestCheckpoint, readState } from './checkpoint.js';
import { evaluateOverSeeds, type SeedsResult } from './evaluate.js';
import type { Plan, PlanRow } from './plan.js';
import type { ReproRow } from './report/repro_report.js';
import { loadRun, syntheticDataset } from './run.js';
import { runStage } from './stage.js';
import { latentWritingAccuracy, type WritingAccuracy } from './writing_accuracy.js';

export interface StageRecord {
  name: string;
  base: string;
  trainingSeed: number | null;
  runDir: string;
  /** training time, also when an earlier invocation trained it */
  seconds: number;
  steps: number;
}

/** A plan's row as evaluated: what the row asked for, and what it measured. */
export interface RowResult extends ReproRow, PlanRow {
  /** head-writes rows: the whole measurement (accuracy holds its result-digit share) */
  writing?: WritingAccuracy;
}

export interface PlanResults {
  plan: string;
  description: string;
  command: string;
  machine: string;
  adapter: string;
  startedAt: string;
  /** training time of every stage plus this invocation's evaluation */
  seconds: number;
  preset: string;
  questions: number;
  seeds: number;
  batch: number;
  stages: StageRecord[];
  rows: RowResult[];
}

export const RESULTS_FILE = 'results.json';

/** A results directory's results.json, as runPlan wrote it. */
export async function readPlanResults(dir: string): Promise<PlanResults> {
  const file = join(dir, RESULTS_FILE);
  const text = await withFileError('read', file, () => readFile(file, 'utf8'));
  try {
    return JSON.parse(text) as PlanResults;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message}); run the plan again to rewrite it`);
  }
}

/**
 * What a cached row was evaluated with: a row is reused only when these match, the training it
 * evaluated included (a stage trained again, e.g. after its checkpoints were removed, has a new record).
 */
type RowSpec = Pick<RowResult, 'mode' | 'compression' | 'greedy'> & { seeds: number; questions: number; trained: { seconds: number; steps: number } };

export async function runPlan(engine: E.Engine, plan: Plan, o: { command: string; log: (line: string) => void }): Promise<PlanResults> {
  const started = Date.now();
  await makeDir(plan.out);
  const stages: StageRecord[] = [];
  for (const s of plan.stages) {
    const runDir = s.config.out_dir;
    const done = join(runDir, 'DONE');
    const record = await finishedStage(runDir);
    if (record) {
      o.log(`stage ${s.name}: done before, skipped`);
    } else {
      o.log(`stage ${s.name} …`);
      const t0 = Date.now();
      const { steps } = await runStage(engine, s.config, 'continue', o.log);
      await writeFileAtomic(done, JSON.stringify({ seconds: (Date.now() - t0) / 1000, steps }));
    }
    const { seconds, steps } = record ?? (await finishedStage(runDir))!;
    stages.push({ name: s.name, base: s.base, trainingSeed: s.trainingSeed, runDir, seconds, steps });
  }

  const evalStarted = Date.now();
  const rows: RowResult[] = [];
  for (const r of plan.rows) rows.push(await evaluateRow(engine, plan, r, stages.find((s) => s.name === r.run)!, o.log));

  const results: PlanResults = {
    plan: plan.file,
    description: plan.description,
    command: o.command,
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    adapter: engine.backend.deviceName,
    startedAt: new Date(started).toISOString(),
    seconds: stages.reduce((t, s) => t + s.seconds, 0) + (Date.now() - evalStarted) / 1000,
    preset: plan.settings.preset,
    questions: plan.settings.questions,
    seeds: plan.settings.seeds,
    batch: plan.settings.batch,
    stages,
    rows,
  };
  await writeFileAtomic(join(plan.out, RESULTS_FILE), JSON.stringify(results, null, 2) + '\n');
  return results;
}

/** A row's result: from its cache when evaluated before with the same settings, else evaluated now. */
async function evaluateRow(engine: E.Engine, plan: Plan, r: PlanRow, trained: StageRecord, log: (line: string) => void): Promise<RowResult> {
  const { seeds, questions, batch } = plan.settings;
  const spec: RowSpec = { mode: r.mode, compression: r.compression, greedy: r.greedy, seeds, questions, trained: { seconds: trained.seconds, steps: trained.steps } };
  const cache = join(plan.out, 'eval', r.run, `${r.row.replace(/[^A-Za-z0-9=.-]+/g, '_')}.json`);
  const cached = await readCachedRow(cache, spec);
  if (cached) return cached;
  log(`eval ${r.run}: ${r.row} (${seeds} seeds × ${questions} questions) …`);
  const { cfg, run } = await loadRun(engine, join(plan.out, 'runs', r.run));
  try {
    const test = syntheticDataset(cfg, 'test', questions);
    const o = { compression: r.compression, pooling: cfg.colar.pooling, batchSize: batch };
    const writing = r.mode === 'head-writes' ? await latentWritingAccuracy(run, test, o) : undefined;
    const res = writing ? writingAsSeedsResult(writing, test.length) : await evaluateOverSeeds(engine, run, test, seeds, { ...o, mode: r.mode as Exclude<typeof r.mode, 'head-writes'>, greedy: r.greedy });
    const row: RowResult = {
      row: r.row, group: r.group, run: r.run, base: r.base, trainingSeed: r.trainingSeed, mode: r.mode, compression: r.compression, greedy: r.greedy,
      accuracy: res.accuracy, chainLength: res.chainLength, perSeedAccuracy: res.perSeedAccuracy, perSeedChainLength: res.perSeedChainLength, msPerQuestion: res.msPerQuestion,
      ...(writing && { writing }),
    };
    await makeDir(join(plan.out, 'eval', r.run));
    await writeFileAtomic(cache, JSON.stringify({ spec, row }));
    log(`  ${r.row}: ${row.accuracy.mean.toFixed(1)} ± ${row.accuracy.ci95.toFixed(1)} %, #L ${row.chainLength.mean.toFixed(2)}`);
    return row;
  } finally {
    run.model.dispose();
  }
}

/** A writing measurement in a row's shape: accuracy = result-digit groups written right (%), # L = slots per question. */
function writingAsSeedsResult(w: WritingAccuracy, questions: number): Pick<SeedsResult, 'accuracy' | 'chainLength' | 'perSeedAccuracy' | 'perSeedChainLength'> & { msPerQuestion?: undefined } {
  const accuracy = 100 * w.nearestResult;
  const slots = w.slots / questions;
  return { accuracy: { mean: accuracy, ci95: 0 }, chainLength: { mean: slots, ci95: 0 }, perSeedAccuracy: [accuracy], perSeedChainLength: [slots] };
}

async function readCachedRow(file: string, spec: RowSpec): Promise<RowResult | null> {
  if (!existsSync(file)) return null;
  try {
    const cached = JSON.parse(await readFile(file, 'utf8')) as { spec: RowSpec; row: RowResult };
    return JSON.stringify(cached.spec) === JSON.stringify(spec) ? cached.row : null;
  } catch {
    return null; // unreadable: evaluated again
  }
}

/**
 * A stage's DONE record when the stage is whole: the marker parses and the run's checkpoint it
 * stands for exists. A marker without its checkpoint (files removed by hand) is not trusted.
 */
export async function finishedStage(runDir: string): Promise<{ seconds: number; steps: number } | null> {
  const done = join(runDir, 'DONE');
  if (!existsSync(done)) return null;
  try {
    const record = JSON.parse(await readFile(done, 'utf8')) as { seconds: number; steps: number };
    const last = await latestCheckpoint(runDir);
    if (Number.isFinite(record.seconds) && Number.isInteger(record.steps) && last && (await readState(last)).step === record.steps) return record;
  } catch {
    // unreadable: the stage runs again (it resumes from its checkpoints)
  }
  return null;
}
