// What every training stage (SFT in trainer.ts, GRPO in rl.ts) opens around its steps: the
// tensors it trains (the run's checkpoint tensors), AdamW over them, the start or the resumed
// checkpoint's state, metrics.jsonl, TensorBoard, a progress line and the divergence guard; and
// how it ends: the progress line closed, then every log flushed and the optimizer freed, also
// when a step throws.

import { join } from 'node:path';
import * as E from '../engine/index.js';
import { runThenClose } from '../io/files.js';
import { saveCheckpoint, startOrResume, type CheckpointState } from './checkpoint.js';
import { DivergenceGuard } from './divergence.js';
import { MetricsLog } from './logging/metrics.js';
import { Progress } from './logging/progress.js';
import { TensorBoardWriter } from './logging/tensorboard.js';
import { checkpointTensors, type RunModel } from './run.js';
import type { TrainConfig } from './train_config.js';

export interface TrainingLoop {
  /** the trained tensors under their checkpoint names */
  named: Map<string, E.Tensor>;
  params: E.Tensor[];
  optimizer: E.AdamW;
  /** step 0, or the resumed checkpoint's state; the stage advances it */
  state: CheckpointState;
  metrics: MetricsLog;
  tb: TensorBoardWriter;
  progress: Progress;
  guard: DivergenceGuard;
  /** writes checkpoints/<name> atomically: the weights, the optimizer and `state` */
  save(name: string, state: CheckpointState): Promise<string>;
  /** runs the steps, then closes the progress line; logs and the optimizer are closed whatever happens */
  run(steps: () => Promise<void>): Promise<void>;
}

export interface LoopOptions {
  lr: number;
  totalSteps: number;
  /** the progress line's label; a resumed run adds where it resumed */
  label: string;
  resume: boolean;
  log: (line: string) => void;
}

export async function openTrainingLoop(cfg: TrainConfig, run: RunModel, o: LoopOptions): Promise<TrainingLoop> {
  const runDir = cfg.out_dir;
  const named = checkpointTensors(run, cfg);
  const names = [...named.keys()];
  const params = [...named.values()];
  for (const p of params) p.requiresGrad = true;
  const optimizer = new E.AdamW(params, { lr: o.lr, weightDecay: cfg.train.weight_decay });
  const state = await startOrResume(runDir, o.resume, cfg.seed, named, optimizer, o.log);
  const metrics = await MetricsLog.open(join(runDir, 'metrics.jsonl'), { resumeFromStep: state.step });
  const tb = await TensorBoardWriter.create(runDir);
  const progress = new Progress({ total: o.totalSteps - state.step, label: `${o.label}${state.step ? ` (resumed at step ${state.step})` : ''}`, stream: process.stderr });
  const guard = new DivergenceGuard(cfg.train.max_skipped_steps, state.skippedSteps ?? 0, runDir, o.log);
  return {
    named, params, optimizer, state, metrics, tb, progress, guard,
    save: (name, saved) => saveCheckpoint(runDir, name, named, optimizer, names, saved),
    run: (steps) => runThenClose(async () => {
      await steps();
      progress.done();
    }, [() => metrics.close(), () => tb.close(), () => optimizer.dispose()]),
  };
}
