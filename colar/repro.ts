// The reproduction report's inputs, read from a plan's results (plans/repro.yaml: CoT and No-CoT
// SFT, one CoLaR model trained with the factors to evaluate drawn at random, GRPO on it averaged
// and, as the ablation, summed / 32; every row over several seeds, plus the gold chain
// teacher-forced into the CoLaR model at each c): the rows, each stage's metrics curve, the task,
// and the findings computed from the rows. It only reads what the runner wrote.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PlanResults } from './experiment.js';
import type { CurvePoint, ReproResults, ReproRow } from './report/repro_report.js';
import { readRunConfig } from './run.js';
import type { ArithmeticConfig } from './train_config.js';

export async function reproResults(r: PlanResults): Promise<ReproResults> {
  const curves: Record<string, CurvePoint[]> = {};
  for (const s of r.stages) curves[s.name] = await readCurve(join(s.runDir, 'metrics.jsonl'));
  const task = (await readRunConfig(r.stages[0].runDir)).data.arithmetic;
  const rlCompression = r.rows.find((row) => row.group === 'rl')?.compression ?? 1;
  return {
    command: r.command, machine: r.machine, adapter: r.adapter, startedAt: r.startedAt, seconds: r.seconds,
    dataset: `built-in synthetic arithmetic (test split; ${taskDescription(task)})`,
    testQuestions: r.questions, seeds: r.seeds, evalBatch: r.batch,
    stages: r.stages.map(({ name, seconds, steps, runDir }) => ({ name, seconds, steps, runDir })),
    rows: r.rows.map(({ row, group, accuracy, chainLength, perSeedAccuracy, perSeedChainLength, msPerQuestion }) => ({ row, group, accuracy, chainLength, perSeedAccuracy, perSeedChainLength, msPerQuestion })),
    curves,
    notes: findings(r.rows, rlCompression, curves),
  };
}

function taskDescription(a: ArithmeticConfig): string {
  return `${a.steps[0]}–${a.steps[1]} steps, values ${a.min_value}–${a.max_value}`;
}

async function readCurve(file: string): Promise<CurvePoint[]> {
  if (!existsSync(file)) return [];
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  return lines.map((l) => JSON.parse(l) as CurvePoint).filter((p) => typeof p.step === 'number');
}

/** The comparisons the report draws, computed from the rows (never typed in). */
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
