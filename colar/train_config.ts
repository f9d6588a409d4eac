// The training configuration: JSON-shaped, snake_case like the reference's YAML, built from a
// preset plus key=value overrides, and saved beside every run so eval needs only the run dir.

import { arithmeticOptionsProblem, DEFAULT_ARITHMETIC_OPTIONS, type ArithmeticOptions } from '../datasets/synthetic.js';
import { applyOverrides, type Json } from './overrides.js';

export type Stage = 'cot' | 'colar' | 'nocot' | 'rl';

/** The built-in task's options in config form: snake_case, the step range as [fewest, most]. */
export interface ArithmeticConfig {
  [key: string]: Json;
  steps: number[];
  max_start: number;
  max_addend: number;
  max_factor: number;
  min_value: number;
  max_value: number;
}

export function arithmeticConfig(o: ArithmeticOptions): ArithmeticConfig {
  return { steps: [o.minSteps, o.maxSteps], max_start: o.maxStart, max_addend: o.maxAddend, max_factor: o.maxFactor, min_value: o.minValue, max_value: o.maxValue };
}

/** A run saved before `data.arithmetic` existed was trained on the default task. */
export function arithmeticOptions(a: ArithmeticConfig | undefined): ArithmeticOptions {
  if (!a) return DEFAULT_ARITHMETIC_OPTIONS;
  return { minSteps: a.steps[0], maxSteps: a.steps[1], maxStart: a.max_start, maxAddend: a.max_addend, maxFactor: a.max_factor, minValue: a.min_value, maxValue: a.max_value };
}

export interface TrainConfig {
  [key: string]: Json;
  stage: Stage;
  seed: number;
  out_dir: string;
  model: {
    /** 'tiny' builds a fresh model; otherwise a Hugging Face model directory */
    preset: string | null;
    /** the model to build on: a Hugging Face model directory or a run directory */
    path: string | null;
    /** a PEFT adapter directory folded into model.path's weights (with a Hugging Face directory) */
    adapter?: string | null;
    /** weights to start from: a run directory, a checkpoint, or an exported model or adapter directory; CoLaR starts from a CoT run */
    init_from: string | null;
    hidden_size: number;
    layers: number;
    heads: number;
    kv_heads: number;
    intermediate_size: number;
  };
  data: {
    /** 'synthetic' or a dataset file */
    train: string;
    val: string;
    format: string | null;
    n_train: number;
    n_val: number;
    /** the synthetic tokenizer's numbers: 'digits' or 'chunks' */
    numbers: string;
    /** the built-in task's problems, as `colar-wgpu data synth` draws them */
    arithmetic: ArithmeticConfig;
  };
  train: {
    epochs: number;
    batch_size: number;
    grad_accum: number;
    lr: number;
    min_lr_ratio: number;
    warmup_steps: number;
    weight_decay: number;
    grad_clip: number;
    /** optimizer steps between checkpoints (and the most a kill -9 can lose) */
    ckpt_every: number;
    /** validation questions answered at the end of each epoch */
    val_samples: number;
    max_steps: number | null;
    /** batches of similar-length examples (less padding; the batch order stays random) */
    group_by_length: boolean;
    /** CoT/No-CoT: each slot also predicts the tokens 2..k ahead (multi_token.ts); 1 = off */
    multi_token: number;
  };
  lora: { enabled: boolean; r: number; alpha: number; dropout: number; target_modules: string[] };
  colar: {
    /** an integer (draw 1..n) or a list like "1,2,5" */
    max_compression_factor: number | string;
    pooling: string;
    latent_loss: string;
    ce_weight: number;
    latent_weight: number;
    entropy_weight: number;
    /** CE of a second pass fed the head's own samples (the reference's pred_embed_forward); 0 = off */
    pred_embed_forward_weight: number;
    /** std of Gaussian noise added to each compressed group fed in training, in embedding stds (0 = off) */
    input_noise: number;
    head_intermediate: number;
    /** std of the embedding entries; null measures it from the model */
    embed_std: number | null;
    /** compression factor used for validation */
    val_compression: number;
    /** fraction of training over which the factors drawn grow from the first to all (0: off) */
    curriculum_fraction: number;
  };
  rl: {
    group_size: number;
    questions_per_step: number;
    samples_per_epoch: number;
    epochs: number;
    exp_batch_size: number;
    lr: number;
    clip_eps: number;
    /** 'mean' over each sample's positions (the paper's averaged reward) or 'sum32' */
    aggregation: string;
    punish_latent_length: boolean;
    compression: number;
    max_latent_steps: number;
    ckpt_every: number;
  };
}

/**
 * The built-in task cut to what the tiny model learns in half an hour on lavapipe: 2–3 steps,
 * every value below 100. On the full task (2–6 steps, values to 999) 1,000 steps of it stayed
 * at chance; on this one CoT validation accuracy left chance after ~750 steps of 64.
 */
const TINY_TASK: ArithmeticOptions = { ...DEFAULT_ARITHMETIC_OPTIONS, minSteps: 2, maxSteps: 3, maxStart: 50, maxAddend: 30, maxFactor: 5, maxValue: 99 };

/** Sized for the 2-core CPU (lavapipe): see shared/CALIBRATION.md for what this scale shows. */
export const TINY_PRESET: TrainConfig = {
  stage: 'cot',
  seed: 0,
  out_dir: 'runs/tiny-cot',
  model: { preset: 'tiny', path: null, adapter: null, init_from: null, hidden_size: 64, layers: 2, heads: 4, kv_heads: 2, intermediate_size: 192 },
  data: { train: 'synthetic', val: 'synthetic', format: null, n_train: 16000, n_val: 200, numbers: 'digits', arithmetic: arithmeticConfig(TINY_TASK) },
  train: { epochs: 2, batch_size: 32, grad_accum: 1, lr: 2e-3, min_lr_ratio: 0.1, warmup_steps: 20, weight_decay: 0.01, grad_clip: 1.0, ckpt_every: 50, val_samples: 32, max_steps: null, group_by_length: true, multi_token: 1 },
  lora: { enabled: false, r: 128, alpha: 32, dropout: 0, target_modules: ['q_proj', 'v_proj'] },
  colar: {
    max_compression_factor: 5, pooling: 'sqrt', latent_loss: 'mse', ce_weight: 1, latent_weight: 1, entropy_weight: 0, pred_embed_forward_weight: 0, input_noise: 0,
    head_intermediate: 128, embed_std: null, val_compression: 2, curriculum_fraction: 0,
  },
  rl: {
    group_size: 8, questions_per_step: 4, samples_per_epoch: 64, epochs: 1, exp_batch_size: 8, lr: 1e-6, clip_eps: 0.2,
    aggregation: 'mean', punish_latent_length: false, compression: 2, max_latent_steps: 64, ckpt_every: 8,
  },
};

/**
 * The calibration's config B (CALIBRATION.md: d=96, 3 layers, ~340k weights, 20k problems,
 * batch 64, lr 1e-3, 10 epochs a stage): the scale at which CoT solved the task (98%). About
 * 15 minutes a stage on a GPU, hours on lavapipe.
 */
export const SMALL_PRESET: TrainConfig = {
  ...structuredClone(TINY_PRESET),
  out_dir: 'runs/small-cot',
  model: { ...TINY_PRESET.model, hidden_size: 96, layers: 3, heads: 4, kv_heads: 2, intermediate_size: 256 },
  data: { ...TINY_PRESET.data, n_train: 20000, n_val: 500, arithmetic: arithmeticConfig(DEFAULT_ARITHMETIC_OPTIONS) },
  train: { ...TINY_PRESET.train, epochs: 10, batch_size: 64, lr: 1e-3, ckpt_every: 200, val_samples: 128 },
};

/** The paper's setting on a user's Llama-3.2-1B and GSM8k-Aug files (needs a real GPU). */
export const LLAMA_1B_PRESET: TrainConfig = {
  ...structuredClone(TINY_PRESET),
  out_dir: 'runs/llama-1b-cot',
  model: { ...TINY_PRESET.model, preset: null, path: 'Llama-3.2-1B-Instruct' },
  data: { ...TINY_PRESET.data, train: 'gsm8k-aug/train.txt', val: 'gsm8k-aug/valid.txt', n_train: 0, n_val: 500 },
  train: { ...TINY_PRESET.train, epochs: 50, batch_size: 256, lr: 1e-4, weight_decay: 0.01, ckpt_every: 500, val_samples: 500 },
  lora: { ...TINY_PRESET.lora, enabled: true },
  colar: { ...TINY_PRESET.colar, head_intermediate: 2048, embed_std: 0.018, val_compression: 5 },
};

export const PRESETS: Record<string, TrainConfig> = { tiny: TINY_PRESET, small: SMALL_PRESET, 'llama-3.2-1b': LLAMA_1B_PRESET };

export function resolveConfig(preset: string, stage: Stage, overrides: string[]): TrainConfig {
  const base = PRESETS[preset];
  if (!base) throw new Error(`--preset ${preset}: unknown (expected ${Object.keys(PRESETS).join(', ')})`);
  const cfg = applyOverrides({ ...structuredClone(base), stage, out_dir: base.out_dir.replace(/cot$/, stage) }, overrides);
  validate(cfg);
  return cfg;
}

function validate(c: TrainConfig): void {
  const positiveInt = (v: unknown, key: string) => {
    if (!Number.isInteger(v) || (v as number) < 1) throw new Error(`config ${key}: must be a positive integer, got ${JSON.stringify(v)}`);
  };
  positiveInt(c.train.batch_size, 'train.batch_size');
  positiveInt(c.train.grad_accum, 'train.grad_accum');
  positiveInt(c.train.epochs, 'train.epochs');
  positiveInt(c.train.ckpt_every, 'train.ckpt_every');
  positiveInt(c.train.multi_token, 'train.multi_token');
  const a = c.data.arithmetic;
  if (!Array.isArray(a.steps) || a.steps.length !== 2 || !a.steps.every(Number.isInteger)) {
    throw new Error(`config data.arithmetic.steps: expected [fewest, most], got ${JSON.stringify(a.steps)}`);
  }
  for (const key of ['max_start', 'max_addend', 'max_factor', 'min_value', 'max_value'] as const) positiveInt(a[key], `data.arithmetic.${key}`);
  const taskProblem = arithmeticOptionsProblem(arithmeticOptions(a));
  if (taskProblem) throw new Error(`config data.arithmetic: ${taskProblem}`);
  if (c.train.multi_token > 1 && c.stage !== 'cot' && c.stage !== 'nocot') throw new Error(`config train.multi_token: a CoT-stage objective (stage cot or nocot), got ${c.train.multi_token} with stage ${c.stage}`);
  if (!(c.train.lr > 0)) throw new Error(`config train.lr: must be positive, got ${c.train.lr}`);
  if (!['sqrt', 'mean'].includes(c.colar.pooling)) throw new Error(`config colar.pooling: expected sqrt or mean, got ${c.colar.pooling}`);
  if (!['mse', 'nll', 'soft-mse'].includes(c.colar.latent_loss)) throw new Error(`config colar.latent_loss: expected mse, nll or soft-mse, got ${c.colar.latent_loss}`);
  compressionChoices(c.colar.max_compression_factor);
  if (!(c.colar.curriculum_fraction >= 0 && c.colar.curriculum_fraction <= 1)) throw new Error(`config colar.curriculum_fraction: expected a number in [0, 1], got ${JSON.stringify(c.colar.curriculum_fraction)}`);
  if (c.colar.latent_loss === 'soft-mse' && !(c.colar.entropy_weight < 0)) {
    throw new Error(`config colar.latent_loss soft-mse is mse − α·entropy: set colar.entropy_weight to −α (< 0), got ${c.colar.entropy_weight}`);
  }
  if (!['mean', 'sum32'].includes(c.rl.aggregation)) throw new Error(`config rl.aggregation: expected mean or sum32, got ${c.rl.aggregation}`);
  positiveInt(c.rl.group_size, 'rl.group_size');
  positiveInt(c.rl.exp_batch_size, 'rl.exp_batch_size');
}

/** The factors a training step draws from: 1..n for a number, the list for "1,2,5". */
export function compressionChoices(spec: number | string): number[] {
  const list = typeof spec === 'number' ? Array.from({ length: spec }, (_, i) => i + 1) : String(spec).split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((c) => !Number.isInteger(c) || c < 1)) throw new Error(`config colar.max_compression_factor: expected a positive integer or a list like "1,2,5", got ${JSON.stringify(spec)}`);
  return list;
}
