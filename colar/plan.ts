// An experiment as data: a plan file (YAML, plans/*.yaml) lists training stages, each a config
// (preset ← key=value overrides, optionally started from an earlier stage and repeated over
// training seeds), then evaluation rows (a stage's run decoded in one mode at one compression
// factor, over evaluation seeds). readPlan checks the file field by field, each problem one line
// naming the file and the field, and expands it into the exact stages and rows to run, every
// stage's config resolved (so a bad override fails before any training starts).

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { EvalMode } from './evaluate.js';
import { STAGES } from './config_schema.js';
import { packageRoot, resolveConfig, type Stage, type TrainConfig } from './train_config.js';

/** The values the run command's flags may change. */
export interface PlanSettings {
  preset: string;
  /** the factors `{compressions}` and `compression: all` stand for */
  compressions: number[];
  /** evaluation seeds per row */
  seeds: number;
  /** test questions per row */
  questions: number;
  /** questions decoded together in evaluation */
  batch: number;
  /** key=value overrides for every stage (the plan's, then the command line's) */
  overrides: string[];
}

export interface PlanStage {
  /** the run's name: its directory under <out>/runs, `<stage>-s<seed>` for a seeded stage */
  name: string;
  /** the plan's name for the stage (a lever of the ablation) */
  base: string;
  trainingSeed: number | null;
  config: TrainConfig;
}

export interface PlanRow {
  row: string;
  group: string;
  /** the run evaluated (a PlanStage name) */
  run: string;
  base: string;
  trainingSeed: number | null;
  mode: RowMode;
  compression: number;
  greedy: boolean;
}

/**
 * How a row evaluates its run: decoded in one of evaluate.ts' modes, or `head-writes` — whether
 * the latent head writes the gold chain's groups under the true prefix (writing_accuracy.ts; no
 * seeds: it samples nothing). Its accuracy is the share of result-digit groups written right.
 */
export type RowMode = EvalMode | 'head-writes';

export const REPORTS = ['repro', 'ablation'] as const;
export type ReportKind = (typeof REPORTS)[number];

export interface Plan {
  file: string;
  description: string;
  out: string;
  report: ReportKind | null;
  settings: PlanSettings;
  stages: PlanStage[];
  rows: PlanRow[];
}

/** What the command line changes: the output directory and any setting. */
export type PlanChanges = Partial<Omit<PlanSettings, 'overrides'>> & { out?: string; overrides?: string[] };

const ROW_MODES: readonly RowMode[] = ['latent', 'cot', 'no-cot', 'teacher-forced', 'head-writes'];
const TOP_KEYS = ['description', 'out', 'report', 'preset', 'compressions', 'eval', 'overrides', 'stages', 'rows'];
const EVAL_KEYS = ['seeds', 'questions', 'batch'];
const STAGE_KEYS = ['name', 'stage', 'overrides', 'init_from', 'seeds'];
const ROW_KEYS = ['row', 'group', 'run', 'mode', 'compression', 'greedy'];

type Node = Record<string, unknown>;

export const PLANS_DIR = join(packageRoot(), 'plans');

/** The plans that ship with the package: plans/<name>.yaml. */
export function builtinPlans(): string[] {
  return readdirSync(PLANS_DIR).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length)).sort();
}

/** A plan argument as a file: a path to a plan file, or the name of a built-in plan. */
export function planFile(arg: string): string {
  if (existsSync(arg)) return arg;
  if (builtinPlans().includes(arg)) return join(PLANS_DIR, `${arg}.yaml`);
  throw new Error(`plan ${arg}: no such file, and not a built-in plan (${builtinPlans().join(', ')})`);
}

export function readPlan(file: string, changes: PlanChanges = {}): Plan {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`plan ${file}: cannot read it (${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code ?? (err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text, { prettyErrors: false });
  } catch (err) {
    throw new Error(`${file}: not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  return expandPlan(parsed, file, changes);
}

/** A parsed plan file checked and expanded; `file` names the source in every message. */
export function expandPlan(parsed: unknown, file: string, changes: PlanChanges = {}): Plan {
  const fail = (field: string, problem: string): never => {
    throw new Error(`${file} ${field}: ${problem}`);
  };
  const top = mapping(parsed, file, '(top level)', TOP_KEYS);
  const evalNode = top.eval === undefined ? {} : mapping(top.eval, file, 'eval', EVAL_KEYS);
  const settings: PlanSettings = {
    preset: changes.preset ?? text(top.preset ?? 'tiny', 'preset', fail),
    compressions: changes.compressions ?? intList(top.compressions ?? [1], 'compressions', fail),
    seeds: changes.seeds ?? int(evalNode.seeds ?? 1, 'eval.seeds', fail, 1),
    questions: changes.questions ?? int(evalNode.questions ?? 100, 'eval.questions', fail, 1),
    batch: changes.batch ?? int(evalNode.batch ?? 32, 'eval.batch', fail, 1),
    overrides: [...textList(top.overrides ?? [], 'overrides', fail), ...(changes.overrides ?? [])],
  };
  const out = changes.out ?? text(top.out ?? 'results', 'out', fail);
  const report = top.report === undefined || top.report === null ? null : (oneOf(top.report, REPORTS, 'report', fail) as ReportKind);
  const substitute = (override: string) => override.replaceAll('{compressions}', JSON.stringify(settings.compressions));

  if (!Array.isArray(top.stages) || top.stages.length === 0) fail('stages', 'expected a non-empty list of stages');
  const stages: PlanStage[] = [];
  const seedsOf = new Map<string, number[] | null>();
  (top.stages as unknown[]).forEach((entry, i) => {
    const field = `stages[${i}]`;
    const s = mapping(entry, file, field, STAGE_KEYS);
    const name = text(s.name, `${field}.name`, fail);
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) fail(`${field}.name`, `expected letters, digits, '.', '_' or '-' (it names a directory), got ${JSON.stringify(name)}`);
    if (seedsOf.has(name)) fail(`${field}.name`, `a stage named ${JSON.stringify(name)} comes earlier`);
    const stage = oneOf(s.stage, STAGES, `${field}.stage`, fail) as Stage;
    const own = textList(s.overrides ?? [], `${field}.overrides`, fail).map(substitute);
    const seeds = s.seeds === undefined ? null : intList(s.seeds, `${field}.seeds`, fail, 0);
    const initFrom = s.init_from === undefined ? null : text(s.init_from, `${field}.init_from`, fail);
    for (const seed of seeds ?? [null]) {
      const runName = seed === null ? name : `${name}-s${seed}`;
      const from = initFrom === null ? [] : [`model.init_from=${JSON.stringify(join(out, 'runs', initRun(initFrom, seed, seedsOf, `${field}.init_from`, fail)))}`];
      const overrides = [...settings.overrides, ...(seed === null ? [] : [`seed=${seed}`]), ...from, ...own, `out_dir=${JSON.stringify(join(out, 'runs', runName))}`];
      let config: TrainConfig;
      try {
        config = resolveConfig(settings.preset, stage, overrides);
      } catch (err) {
        return fail(field, (err as Error).message);
      }
      stages.push({ name: runName, base: name, trainingSeed: seed, config });
    }
    seedsOf.set(name, seeds);
  });

  if (!Array.isArray(top.rows)) fail('rows', 'expected a list of evaluation rows');
  const rows: PlanRow[] = [];
  (top.rows as unknown[]).forEach((entry, i) => {
    const field = `rows[${i}]`;
    const r = mapping(entry, file, field, ROW_KEYS);
    const label = text(r.row, `${field}.row`, fail);
    const base = text(r.run, `${field}.run`, fail);
    if (!seedsOf.has(base)) fail(`${field}.run`, `no stage named ${JSON.stringify(base)} (stages: ${[...seedsOf.keys()].join(', ')})`);
    const mode = oneOf(r.mode, ROW_MODES, `${field}.mode`, fail) as RowMode;
    const greedy = r.greedy === undefined ? false : r.greedy === true || r.greedy === false ? r.greedy : fail(`${field}.greedy`, `expected true or false, got ${JSON.stringify(r.greedy)}`);
    const group = r.group === undefined ? base : text(r.group, `${field}.group`, fail);
    for (const seed of seedsOf.get(base) ?? [null]) {
      const run = seed === null ? base : `${base}-s${seed}`;
      const config = stages.find((s) => s.name === run)!.config;
      const factors = rowCompressions(r.compression, settings.compressions, config, `${field}.compression`, fail);
      if (factors.length > 1 && !label.includes('{c}')) fail(`${field}.row`, `several compression factors need {c} in the label, got ${JSON.stringify(label)}`);
      for (const c of factors) {
        const row = label.replaceAll('{c}', String(c));
        if (rows.some((x) => x.run === run && x.row === row)) fail(`${field}.row`, `run ${run} already has a row ${JSON.stringify(row)}`);
        rows.push({ row, group, run, base, trainingSeed: seed, mode, compression: c, greedy });
      }
    }
  });
  const description = top.description === undefined ? '' : text(top.description, 'description', fail);
  return { file, description, out, report, settings, stages, rows };
}

/** The run an init_from names: a stage seeded like this one resolves to its run of the same seed. */
function initRun(ref: string, seed: number | null, seedsOf: Map<string, number[] | null>, field: string, fail: (f: string, p: string) => never): string {
  const expanded = [...seedsOf].flatMap(([name, seeds]) => (seeds ? seeds.map((s) => `${name}-s${s}`) : []));
  if (expanded.includes(ref)) return ref;
  if (!seedsOf.has(ref)) return fail(field, `no earlier stage named ${JSON.stringify(ref)} (a stage starts from one listed before it)`);
  const seeds = seedsOf.get(ref);
  if (seeds === null) return ref;
  if (seed === null || !seeds!.includes(seed)) return fail(field, `${ref} is run per seed (${seeds!.join(', ')}): name one run (e.g. ${ref}-s${seeds![0]}) or give this stage seeds among them`);
  return `${ref}-s${seed}`;
}

/** A row's factors: a number, a list, `all` (the plan's compressions) or `rl` (the run's rl.compression). */
function rowCompressions(value: unknown, all: number[], config: TrainConfig, field: string, fail: (f: string, p: string) => never): number[] {
  if (value === undefined) return [1];
  if (value === 'all') return all;
  if (value === 'rl') return [config.rl.compression];
  if (typeof value === 'number') return [int(value, field, fail, 1)];
  if (Array.isArray(value)) return intList(value, field, fail, 1);
  return fail(field, `expected an integer ≥ 1, a list of them, all (the plan's compressions) or rl (the run's rl.compression), got ${JSON.stringify(value)}`);
}

function mapping(value: unknown, file: string, field: string, keys: string[]): Node {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${file} ${field}: expected a mapping (${keys.join(', ')})`);
  const unknown = Object.keys(value).find((k) => !keys.includes(k));
  if (unknown !== undefined) throw new Error(`${file} ${field === '(top level)' ? unknown : `${field}.${unknown}`}: unknown field (expected ${keys.join(', ')})`);
  return value as Node;
}

function text(value: unknown, field: string, fail: (f: string, p: string) => never): string {
  return typeof value === 'string' && value !== '' ? value : fail(field, `expected a non-empty string, got ${JSON.stringify(value) ?? 'nothing'}`);
}

function textList(value: unknown, field: string, fail: (f: string, p: string) => never): string[] {
  if (!Array.isArray(value)) return fail(field, `expected a list of key=value strings, got ${JSON.stringify(value)}`);
  return value.map((v, i) => (typeof v === 'string' && v.includes('=') ? v : fail(`${field}[${i}]`, `expected key=value, got ${JSON.stringify(v)}`)));
}

function int(value: unknown, field: string, fail: (f: string, p: string) => never, min: number): number {
  return Number.isInteger(value) && (value as number) >= min ? (value as number) : fail(field, `expected an integer ≥ ${min}, got ${JSON.stringify(value)}`);
}

function intList(value: unknown, field: string, fail: (f: string, p: string) => never, min = 1): number[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((v) => Number.isInteger(v) && (v as number) >= min)) return fail(field, `expected a non-empty list of integers ≥ ${min}, got ${JSON.stringify(value)}`);
  return list as number[];
}

function oneOf(value: unknown, choices: readonly string[], field: string, fail: (f: string, p: string) => never): string {
  return typeof value === 'string' && choices.includes(value) ? value : fail(field, `expected one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
}
