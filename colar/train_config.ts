// The training configuration: JSON-shaped, snake_case like the reference's YAML. A preset
// (configs/<name>.yaml), then an optional config file, then key=value overrides, each merged over
// the last; the result is checked key by key (config_schema.ts) and saved beside every run as
// run_config.json, so eval needs only the run dir. Run configs written by older versions are
// brought to the current shape in one place, normalizeRunConfig.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { arithmeticOptionsProblem, DEFAULT_ARITHMETIC_OPTIONS, type ArithmeticOptions } from '../datasets/synthetic.js';
import type { InputFormat } from '../datasets/load.js';
import type { NumberTokens } from '../datasets/vocab.js';
import { checkConfig, isObject, STAGES, type LR_SCHEDULES, type VAL_DECODINGS, type ZERO_ADVANTAGE_STEPS } from './config_schema.js';
import type { Aggregation } from './grpo.js';
import type { Pooling } from './sequence.js';
import type { LatentLossKind, PredEmbedForwardVariant } from './sft.js';
import { applyOverrides, type Json } from './overrides.js';

export type Stage = (typeof STAGES)[number];

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
  /** resolved to runs/<preset>-<stage> when a config leaves it null */
  out_dir: string;
  model: {
    /** 'tiny' builds a fresh model; otherwise a Hugging Face model directory */
    preset: string | null;
    /** the model to build on: a Hugging Face model directory or a run directory */
    path: string | null;
    /** a PEFT adapter directory folded into model.path's weights (with a Hugging Face directory) */
    adapter: string | null;
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
    format: InputFormat | null;
    n_train: number;
    n_val: number;
    /** the synthetic tokenizer's numbers: 'digits' or 'chunks' */
    numbers: NumberTokens;
    /** the built-in task's problems, as `colar-wgpu data synth` draws them */
    arithmetic: ArithmeticConfig;
  };
  train: {
    epochs: number;
    batch_size: number;
    grad_accum: number;
    lr: number;
    /** 'cosine': linear warmup, then cosine decay to min_lr_ratio·lr; 'constant': lr throughout (the reference's) */
    lr_schedule: (typeof LR_SCHEDULES)[number];
    min_lr_ratio: number;
    warmup_steps: number;
    weight_decay: number;
    /** global gradient-norm clip; null: none (the reference's) */
    grad_clip: number | null;
    /** optimizer steps between checkpoints (and the most a kill -9 can lose) */
    ckpt_every: number;
    /** validation questions answered at the end of each epoch */
    val_samples: number;
    max_steps: number | null;
    /** batches of similar-length examples (less padding; the batch order stays random) */
    group_by_length: boolean;
    /** CoT/No-CoT: each slot also predicts the tokens 2..k ahead (multi_token.ts); 1 = off */
    multi_token: number;
    /** consecutive steps with a non-finite loss or gradient (each skipped) before the run stops */
    max_skipped_steps: number;
    /** validation decodes 'sampled' as the test does (the reference's) or 'greedy' with mean latents */
    val_decoding: (typeof VAL_DECODINGS)[number];
  };
  lora: { enabled: boolean; r: number; alpha: number; dropout: number; target_modules: string[] };
  colar: {
    /** each training step draws one of these */
    compression_factors: number[];
    pooling: Pooling;
    latent_loss: LatentLossKind;
    ce_weight: number;
    latent_weight: number;
    entropy_weight: number;
    /** CE of a second pass fed the head's own samples (the reference's pred_embed_forward); 0 = off */
    pred_embed_forward_weight: number;
    /** how that pass feeds the samples: 'aligned' (this project's) or 'reference' (sft.ts, ownLatentsCE) */
    pred_embed_forward_variant: PredEmbedForwardVariant;
    /** std of Gaussian noise added to each compressed group fed in training, in embedding stds (0 = off) */
    input_noise: number;
    head_intermediate: number;
    /** std of the embedding entries; null measures it from the model */
    embed_std: number | null;
    /** compression factor used for validation */
    val_compression: number;
    /** fraction of training over which the factors drawn grow from the first to all (0: off) */
    curriculum_fraction: number;
    /** the reference's all-padding groups in each batch (sequence.ts) */
    reference_padding: boolean;
    /** the embedding table (and a tied LM head) does not train: the latent head's targets stay fixed */
    freeze_embeddings: boolean;
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
    aggregation: Aggregation;
    punish_latent_length: boolean;
    compression: number;
    max_latent_steps: number;
    ckpt_every: number;
    /** a minibatch whose advantages are all 0: 'skip' it, or 'step' the optimizer anyway (the reference's) */
    zero_advantage_steps: (typeof ZERO_ADVANTAGE_STEPS)[number];
    /** validation after each epoch with best-checkpoint selection (the reference's) */
    validate: boolean;
  };
}

/** The folder that holds package.json (and configs/), from the source tree or from dist/. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the package root (package.json) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

export const CONFIGS_DIR = path.join(packageRoot(), 'configs');

/** The presets: one YAML file each under configs/. */
export function presetNames(): string[] {
  return ['tiny', 'small', 'llama-3.2-1b'];
}

type JsonObject = { [key: string]: Json };

/** A config file's contents: YAML (JSON is YAML too), an object at the top. */
export function readConfigFile(file: string): JsonObject {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`--config ${file}: cannot read it (${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code ?? (err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text, { prettyErrors: false });
  } catch (err) {
    throw new Error(`${file}: not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  if (!isObject(parsed as Json)) throw new Error(`${file}: expected a mapping of config keys at the top level`);
  return parsed as JsonObject;
}

/** `over` merged into `base`: objects key by key, everything else (lists too) replaced. */
function deepMerge(base: JsonObject, over: JsonObject, file: string, prefix = ''): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const key = `${prefix}${k}`;
    if (!(k in base)) throw new Error(`${file}: unknown key ${key}`);
    out[k] = isObject(v) && isObject(base[k]) ? deepMerge(base[k] as JsonObject, v, file, `${key}.`) : v;
  }
  return out;
}

/**
 * A config file resolved through its `extends:` chain (a preset name or another file, relative
 * to it) onto `base` (the starting preset when the file extends nothing).
 */
function loadLayered(file: string, base: JsonObject | null, seen: string[] = []): JsonObject {
  if (seen.includes(path.resolve(file))) throw new Error(`${file}: extends itself through ${seen.join(' -> ')}`);
  const { extends: parent, ...own } = readConfigFile(file);
  let under = base;
  if (parent !== undefined) {
    if (typeof parent !== 'string') throw new Error(`${file}: extends: expected a preset name or a file, got ${JSON.stringify(parent)}`);
    const parentFile = presetNames().includes(parent) ? presetFile(parent) : path.resolve(path.dirname(file), parent);
    under = loadLayered(parentFile, null, [...seen, path.resolve(file)]);
  }
  return under ? deepMerge(under, own, file) : own;
}

function presetFile(name: string): string {
  if (!presetNames().includes(name)) throw new Error(`--preset ${name}: unknown (expected ${presetNames().join(', ')})`);
  return path.join(CONFIGS_DIR, `${name}.yaml`);
}

/** A preset as its file describes it, before any stage is chosen (out_dir may be null). */
export function presetConfig(name: string): JsonObject {
  return loadLayered(presetFile(name), null);
}

export interface ResolveOptions {
  /** a YAML config file merged over the preset */
  configFile?: string;
}

/** preset ← config file ← key=value, for one stage, checked. */
export function resolveConfig(preset: string, stage: Stage, overrides: string[], opts: ResolveOptions = {}): TrainConfig {
  const base = { ...presetConfig(preset), stage } as JsonObject;
  const layered = opts.configFile ? loadLayered(opts.configFile, base) : base;
  const cfg = applyOverrides({ ...layered, stage }, overrides) as JsonObject;
  if (cfg.stage !== stage) throw new Error(`stage=${JSON.stringify(cfg.stage)}: set the stage with --stage ${String(cfg.stage)}`);
  cfg.out_dir ??= `runs/${preset}-${stage}`;
  checkConfig(cfg);
  const config = cfg as TrainConfig;
  checkRelations(config, 'config');
  return config;
}

/** The resolved config as a config file: what --print-config prints. */
export function configToYaml(cfg: TrainConfig): string {
  return stringifyYaml(cfg, { lineWidth: 0 });
}

/**
 * A run_config.json read back: configs written before a key existed get that key's old meaning
 * (e.g. colar.max_compression_factor n → compression_factors 1..n), then the same checks as a
 * fresh config. `file` names the source in every message.
 */
export function normalizeRunConfig(json: unknown, file: string): TrainConfig {
  if (!isObject(json as Json)) throw new Error(`${file}: expected a JSON object (a run's config)`);
  const cfg = structuredClone(json) as JsonObject;
  const defaults = presetConfig('tiny');
  for (const section of ['model', 'data', 'train', 'lora', 'colar', 'rl']) {
    if (!isObject(cfg[section])) throw new Error(`${file}: not a run config (no ${section} section)`);
  }
  const colar = cfg.colar as JsonObject;
  if ('max_compression_factor' in colar) {
    const old = colar.max_compression_factor;
    delete colar.max_compression_factor;
    colar.compression_factors = typeof old === 'number' ? Array.from({ length: old }, (_, i) => i + 1) : old;
  }
  // keys added since: their defaults are what older runs did
  const data = cfg.data as JsonObject;
  const tinyData = defaults.data as JsonObject;
  const addedKeys: Array<[JsonObject, string, Json]> = [
    [data, 'arithmetic', arithmeticConfig(DEFAULT_ARITHMETIC_OPTIONS)],
    [cfg.train as JsonObject, 'multi_token', 1],
    [cfg.train as JsonObject, 'max_skipped_steps', (defaults.train as JsonObject).max_skipped_steps],
    [colar, 'input_noise', 0],
    [colar, 'pred_embed_forward_weight', 0],
    [colar, 'curriculum_fraction', 0],
    [data, 'numbers', tinyData.numbers],
    [cfg.model as JsonObject, 'adapter', null],
    [cfg.train as JsonObject, 'lr_schedule', 'cosine'],
    [cfg.train as JsonObject, 'val_decoding', 'greedy'],
    [colar, 'pred_embed_forward_variant', 'aligned'],
    [colar, 'reference_padding', false],
    [colar, 'freeze_embeddings', false],
    [cfg.rl as JsonObject, 'zero_advantage_steps', 'skip'],
    [cfg.rl as JsonObject, 'validate', false],
  ];
  for (const [section, key, value] of addedKeys) if (!(key in section)) section[key] = value;
  checkConfig(cfg, file);
  const config = cfg as TrainConfig;
  checkRelations(config, file);
  return config;
}

/** The checks that relate several keys. */
function checkRelations(c: TrainConfig, where: string): void {
  const a = c.data.arithmetic;
  const taskProblem = arithmeticOptionsProblem(arithmeticOptions(a));
  if (taskProblem) throw new Error(`${where} data.arithmetic: ${taskProblem}`);
  if (c.model.heads % c.model.kv_heads !== 0) throw new Error(`${where} model.kv_heads: must divide model.heads (${c.model.heads}), got ${c.model.kv_heads}`);
  if (c.model.hidden_size % c.model.heads !== 0) throw new Error(`${where} model.hidden_size: must be a multiple of model.heads (${c.model.heads}), got ${c.model.hidden_size}`);
  if (c.train.multi_token > 1 && c.stage !== 'cot' && c.stage !== 'nocot') throw new Error(`${where} train.multi_token: a CoT-stage objective (stage cot or nocot), got ${c.train.multi_token} with stage ${c.stage}`);
  if (c.colar.latent_loss === 'soft-mse' && !(c.colar.entropy_weight < 0)) {
    throw new Error(`${where} colar.latent_loss soft-mse is mse − α·entropy: set colar.entropy_weight to −α (< 0), got ${c.colar.entropy_weight}`);
  }
  for (const [key, name] of [['train', 'data.n_train'], ['val', 'data.n_val']] as const) {
    const n = key === 'train' ? c.data.n_train : c.data.n_val;
    if (c.data[key] === 'synthetic' && n < 1) throw new Error(`${where} ${name}: the built-in task needs at least 1 problem, got ${n}`);
  }
}
