// What every training stage (SFT in trainer.ts, GRPO in rl.ts) opens around its steps: the
// tensors it checkpoints (the run's checkpoint tensors) and those of them it trains (all, or all
// but the embedding table with colar.freeze_embeddings), AdamW over the trained ones, the start
// or the resumed checkpoint's state, metrics.jsonl, TensorBoard, a progress line and the
// divergence guard; validation with best-checkpoint selection; and how it ends: the progress
// line closed, then every log flushed and the optimizer freed, also when a step throws.

import { join } from 'node:path';
import * as E from '../engine/index.js';
import { runThenClose } from '../io/files.js';
import { saveCheckpoint, startOrResume, type CheckpointState } from './checkpoint.js';
import { DivergenceGuard } from './divergence.js';
import { MetricsLog } from './logging/metrics.js';
import { Progress } from './logging/progress.js';
import { TensorBoardWriter } from './logging/tensorboard.js';
import type { QsaRecord } from '../datasets/record.js';
import { evaluateAccuracy, type EvalMode } from './evaluate.js';
import { checkpointTensors, type RunModel } from './run.js';
import type { TrainConfig } from './train_config.js';

/** The embedding table's name among a run's tensors (also the LM head, when tied). */
export const EMBEDDING = 'model.embed_tokens.weight';

export interface TrainingLoop {
  /** the checkpointed tensors under their checkpoint names */
  named: Map<string, E.Tensor>;
  /** the ones that train */
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
  /**
   * After a validation at the current step: logs it, keeps best/ when it is the best so far
   * (ties go to the later step), and writes the step's checkpoint; `snapshot` gives the state saved.
   */
  recordValidation(accuracy: number, snapshot: () => CheckpointState): Promise<void>;
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
  const frozen = cfg.colar.freeze_embeddings && (cfg.stage === 'colar' || cfg.stage === 'rl') ? new Set([EMBEDDING]) : new Set<string>();
  const names = [...named.keys()].filter((n) => !frozen.has(n));
  const params = names.map((n) => named.get(n)!);
  for (const [n, p] of named) p.requiresGrad = !frozen.has(n);
  const optimizer = new E.AdamW(params, { lr: o.lr, weightDecay: cfg.train.weight_decay });
  const state = await startOrResume(runDir, o.resume, cfg.seed, named, optimizer, names, o.log);
  const metrics = await MetricsLog.open(join(runDir, 'metrics.jsonl'), { resumeFromStep: state.step });
  const tb = await TensorBoardWriter.create(runDir);
  const progress = new Progress({ total: o.totalSteps - state.step, label: `${o.label}${state.step ? ` (resumed at step ${state.step})` : ''}`, stream: process.stderr });
  const guard = new DivergenceGuard(cfg.train.max_skipped_steps, state.skippedSteps ?? 0, runDir, o.log);
  const save = (name: string, saved: CheckpointState) => saveCheckpoint(runDir, name, named, optimizer, names, saved);
  return {
    named, params, optimizer, state, metrics, tb, progress, guard, save,
    recordValidation: async (accuracy, snapshot) => {
      state.validatedStep = state.step;
      metrics.write({ step: state.step, epoch: state.epoch, val_accuracy: accuracy });
      tb.scalar('val/accuracy', accuracy, state.step);
      if (state.bestMetric === null || accuracy >= state.bestMetric) {
        state.bestMetric = accuracy;
        await save('best', snapshot());
      }
      await save(stepCheckpointName(state.step), snapshot());
    },
    run: (steps) => runThenClose(async () => {
      await steps();
      progress.done();
    }, [() => metrics.close(), () => tb.close(), () => optimizer.dispose()]),
  };
}

export function stepCheckpointName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

/**
 * Validation as the run configures it: the first train.val_samples questions of the validation
 * set, decoded as the test decodes them (train.val_decoding 'sampled', the reference's) or greedy
 * with mean latents, at the given mode and compression factor.
 */
export async function validationAccuracy(engine: E.Engine, cfg: TrainConfig, run: RunModel, val: QsaRecord[], mode: EvalMode, compression: number): Promise<number> {
  const records = val.slice(0, cfg.train.val_samples);
  if (records.length === 0) return 0;
  const greedy = cfg.train.val_decoding === 'greedy';
  const { accuracy } = await evaluateAccuracy(engine, run, records, { mode, compression, seed: cfg.seed, greedy, deterministic: greedy, pooling: cfg.colar.pooling });
  return accuracy;
}
