// Every training-config key with its type and domain. A config (preset, file, overrides, or a
// run_config.json read back) is checked against this table before anything runs, so a value
// outside its domain fails at once with one line naming the key, the value and what is allowed,
// rather than as a NaN loss an hour later. Values arriving as strings from the command line
// (`train.compression_factors=1,2`) are coerced here, once.

import { INPUT_FORMATS } from '../datasets/load.js';
import { NUMBER_TOKENS } from '../datasets/vocab.js';
import type { Json } from './overrides.js';

type Rule =
  | { kind: 'int'; min: number; nullable?: boolean }
  | { kind: 'number'; min?: number; max?: number; above?: number; below?: number; nullable?: boolean }
  | { kind: 'bool' }
  | { kind: 'string'; nullable?: boolean }
  | { kind: 'enum'; choices: readonly string[]; nullable?: boolean }
  | { kind: 'int-list'; min: number; length?: number }
  | { kind: 'string-list'; choices?: readonly string[] };

export const STAGES = ['cot', 'nocot', 'colar', 'rl'] as const;
// the choices of the enum-like keys: TrainConfig's types are derived from these lists
export const POOLINGS = ['sqrt', 'mean'] as const;
export const LATENT_LOSSES = ['mse', 'nll', 'soft-mse'] as const;
export const AGGREGATIONS = ['mean', 'sum32'] as const;
export const LR_SCHEDULES = ['cosine', 'constant'] as const;
export const VAL_DECODINGS = ['sampled', 'greedy'] as const;
export const PRED_EMBED_FORWARD_VARIANTS = ['aligned', 'reference'] as const;
export const ZERO_ADVANTAGE_STEPS = ['skip', 'step'] as const;
export const LORA_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;

const int = (min: number, nullable = false): Rule => ({ kind: 'int', min, nullable });
const num = (r: Omit<Extract<Rule, { kind: 'number' }>, 'kind'>): Rule => ({ kind: 'number', ...r });
const str = (nullable = false): Rule => ({ kind: 'string', nullable });
const oneOf = (choices: readonly string[], nullable = false): Rule => ({ kind: 'enum', choices, nullable });
const bool: Rule = { kind: 'bool' };

/** Dotted key → rule, in the order a config file lists them. */
export const CONFIG_SCHEMA: Record<string, Rule> = {
  stage: oneOf(STAGES),
  seed: int(0),
  out_dir: str(true),
  'model.preset': str(true),
  'model.path': str(true),
  'model.adapter': str(true),
  'model.init_from': str(true),
  'model.hidden_size': int(1),
  'model.layers': int(1),
  'model.heads': int(1),
  'model.kv_heads': int(1),
  'model.intermediate_size': int(1),
  'data.train': str(),
  'data.val': str(),
  'data.format': oneOf(INPUT_FORMATS, true),
  'data.n_train': int(0),
  'data.n_val': int(0),
  'data.numbers': oneOf(NUMBER_TOKENS),
  'data.arithmetic.steps': { kind: 'int-list', min: 1, length: 2 },
  'data.arithmetic.max_start': int(1),
  'data.arithmetic.max_addend': int(1),
  'data.arithmetic.max_factor': int(1),
  'data.arithmetic.min_value': int(1),
  'data.arithmetic.max_value': int(1),
  'train.epochs': int(1),
  'train.batch_size': int(1),
  'train.grad_accum': int(1),
  'train.lr': num({ above: 0 }),
  'train.min_lr_ratio': num({ min: 0, max: 1 }),
  'train.warmup_steps': int(0),
  'train.weight_decay': num({ min: 0 }),
  'train.lr_schedule': oneOf(LR_SCHEDULES),
  'train.grad_clip': num({ above: 0, nullable: true }),
  'train.ckpt_every': int(1),
  'train.val_samples': int(0),
  'train.max_steps': int(1, true),
  'train.group_by_length': bool,
  'train.multi_token': int(1),
  'train.max_skipped_steps': int(1),
  'train.val_decoding': oneOf(VAL_DECODINGS),
  'lora.enabled': bool,
  'lora.r': int(1),
  'lora.alpha': num({ above: 0 }),
  'lora.dropout': num({ min: 0, below: 1 }),
  'lora.target_modules': { kind: 'string-list', choices: LORA_MODULES },
  'colar.compression_factors': { kind: 'int-list', min: 1 },
  'colar.pooling': oneOf(POOLINGS),
  'colar.latent_loss': oneOf(LATENT_LOSSES),
  'colar.ce_weight': num({ min: 0 }),
  'colar.latent_weight': num({ min: 0 }),
  'colar.entropy_weight': num({}),
  'colar.pred_embed_forward_weight': num({ min: 0 }),
  'colar.pred_embed_forward_variant': oneOf(PRED_EMBED_FORWARD_VARIANTS),
  'colar.input_noise': num({ min: 0 }),
  'colar.head_intermediate': int(1),
  'colar.embed_std': num({ above: 0, nullable: true }),
  'colar.val_compression': int(1),
  'colar.curriculum_fraction': num({ min: 0, max: 1 }),
  'colar.reference_padding': bool,
  'colar.freeze_embeddings': bool,
  'rl.group_size': int(1),
  'rl.questions_per_step': int(1),
  'rl.samples_per_epoch': int(1),
  'rl.epochs': int(1),
  'rl.exp_batch_size': int(1),
  'rl.lr': num({ above: 0 }),
  'rl.clip_eps': num({ above: 0 }),
  'rl.aggregation': oneOf(AGGREGATIONS),
  'rl.punish_latent_length': bool,
  'rl.compression': int(1),
  'rl.max_latent_steps': int(1),
  'rl.ckpt_every': int(1),
  'rl.zero_advantage_steps': oneOf(ZERO_ADVANTAGE_STEPS),
  'rl.validate': bool,
};

/** Every leaf key of a config object, dotted. */
export function leafKeys(obj: Record<string, Json>, prefix = ''): string[] {
  return Object.entries(obj).flatMap(([k, v]) => (isObject(v) && !(`${prefix}${k}` in CONFIG_SCHEMA) ? leafKeys(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

export function isObject(v: Json | undefined): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function getPath(obj: Record<string, Json>, key: string): Json | undefined {
  let node: Json | undefined = obj;
  for (const part of key.split('.')) node = isObject(node) ? node[part] : undefined;
  return node;
}

/** Sets the value at a dotted key whose parents exist. */
export function setPath(obj: Record<string, Json>, key: string, value: Json): void {
  const parts = key.split('.');
  let node = obj;
  for (const part of parts.slice(0, -1)) node = node[part] as Record<string, Json>;
  node[parts[parts.length - 1]] = value;
}

/**
 * Checks every key of `cfg` against the schema, in place coercing command-line strings into
 * lists where a list is expected. `where` prefixes each message (`config`, or a file's path).
 */
export function checkConfig(cfg: Record<string, Json>, where = 'config'): void {
  for (const key of leafKeys(cfg)) {
    if (!(key in CONFIG_SCHEMA)) throw new Error(`${where}: unknown key ${key}`);
  }
  for (const [key, rule] of Object.entries(CONFIG_SCHEMA)) {
    const value = getPath(cfg, key);
    if (value === undefined) throw new Error(`${where}: missing key ${key}`);
    const coerced = coerce(rule, value);
    const problem = violation(rule, coerced);
    if (problem) throw new Error(`${where} ${key}: expected ${problem}, got ${JSON.stringify(value)}`);
    if (coerced !== value) setPath(cfg, key, coerced);
  }
}

/** Lists may be written `1,2,5` or as a single item on the command line. */
function coerce(rule: Rule, value: Json): Json {
  if (rule.kind === 'int-list') {
    if (typeof value === 'number') return [value];
    if (typeof value === 'string' && value.trim() !== '') return value.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
  }
  if (rule.kind === 'string-list' && typeof value === 'string') return value.split(',').map((s) => s.trim());
  return value;
}

/** What the rule allows, when `value` breaks it; null when it is fine. */
function violation(rule: Rule, value: Json): string | null {
  if (value === null) return 'nullable' in rule && rule.nullable ? null : describe(rule);
  switch (rule.kind) {
    case 'int':
      return Number.isInteger(value) && (value as number) >= rule.min ? null : describe(rule);
    case 'number': {
      const ok = typeof value === 'number' && Number.isFinite(value)
        && (rule.min === undefined || value >= rule.min) && (rule.max === undefined || value <= rule.max)
        && (rule.above === undefined || value > rule.above) && (rule.below === undefined || value < rule.below);
      return ok ? null : describe(rule);
    }
    case 'bool':
      return typeof value === 'boolean' ? null : describe(rule);
    case 'string':
      return typeof value === 'string' && value !== '' ? null : describe(rule);
    case 'enum':
      return typeof value === 'string' && rule.choices.includes(value) ? null : describe(rule);
    case 'int-list': {
      const ok = Array.isArray(value) && value.length > 0 && (rule.length === undefined || value.length === rule.length)
        && value.every((v) => Number.isInteger(v) && (v as number) >= rule.min);
      return ok ? null : describe(rule);
    }
    case 'string-list': {
      const ok = Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string' && (!rule.choices || rule.choices.includes(v)));
      return ok ? null : describe(rule);
    }
  }
}

function describe(rule: Rule): string {
  const orNull = 'nullable' in rule && rule.nullable ? ' or null' : '';
  switch (rule.kind) {
    case 'int':
      return `an integer ≥ ${rule.min}${orNull}`;
    case 'number': {
      const bounds = [
        rule.above !== undefined ? `> ${rule.above}` : rule.min !== undefined ? `≥ ${rule.min}` : '',
        rule.below !== undefined ? `< ${rule.below}` : rule.max !== undefined ? `≤ ${rule.max}` : '',
      ].filter(Boolean);
      return `a finite number${bounds.length ? ' ' + bounds.join(' and ') : ''}${orNull}`;
    }
    case 'bool':
      return 'true or false';
    case 'string':
      return `a non-empty string${orNull}`;
    case 'enum':
      return `one of ${rule.choices.join(', ')}${orNull}`;
    case 'int-list':
      return rule.length ? `a list of ${rule.length} integers ≥ ${rule.min}` : `a non-empty list of integers ≥ ${rule.min} (e.g. 1,2,5)`;
    case 'string-list':
      return `a non-empty list${rule.choices ? ` of ${rule.choices.join(', ')}` : ''}`;
  }
}
