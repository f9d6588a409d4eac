// Checkpoints: a directory of safetensors (weights under their Hugging Face / PEFT / latent-head
// names; optimizer moments) and state.json, written into a temporary directory and renamed into
// place, so a crash at any moment leaves the last good checkpoint intact. `latest` names the
// newest one and is itself replaced atomically; only the newest STEP_CHECKPOINTS_KEPT step-N
// directories stay (with best/), so a long run does not fill the disk. Nothing non-finite is
// ever written: a checkpoint holding NaN or Infinity is refused before it replaces anything.

import { readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as E from '../engine/index.js';
import { failpoint } from '../io/failpoint.js';
import { isTemporaryName, makeDir, withFileError, writeFileAtomic } from '../io/files.js';
import { firstNonFinite } from './llama/load.js';
import { openSafetensors, writeSafetensors } from './llama/safetensors.js';
import { readTensorsInto } from './llama/safetensors_reader.js';

export const WEIGHTS = 'weights.safetensors';
export const OPTIMIZER = 'optimizer.safetensors';
export const STATE = 'state.json';
export const STEP_CHECKPOINTS_KEPT = 2;

export interface CheckpointState {
  step: number;
  epoch: number;
  /** micro-batches of the current epoch already consumed */
  batchInEpoch: number;
  rng: E.RngState;
  bestMetric: number | null;
  /** the step at which validation last ran (null: never), so a resumed run knows what is left */
  validatedStep?: number | null;
  /** consecutive steps skipped for a non-finite loss or gradient */
  skippedSteps?: number;
  [key: string]: unknown;
}

const STEP_NAME = /^step-\d{6,}$/;

/** The values of a tensor read back for writing, refused when any is NaN or ±Infinity. */
async function finiteValues(name: string, t: E.Tensor): Promise<Float32Array> {
  const values = await t.float32();
  const at = firstNonFinite(values);
  if (at >= 0) throw new Error(`refusing to checkpoint non-finite values: tensor ${name} holds ${values[at]} at index ${at}`);
  return values;
}

/** Writes checkpoints/<name> atomically and points `latest` at it (unless name is 'best'). */
export async function saveCheckpoint(runDir: string, name: string, weights: Map<string, E.Tensor>, optimizer: E.AdamW | null, optimizerNames: string[], state: CheckpointState): Promise<string> {
  const root = join(runDir, 'checkpoints');
  const tmp = join(root, `.tmp-${name}`);
  const final = join(root, name);
  await withFileError('remove', tmp, () => rm(tmp, { recursive: true, force: true }));
  await makeDir(tmp);
  try {
    const weightsFile = join(tmp, WEIGHTS);
    await withFileError('write', weightsFile, () => writeSafetensors(weightsFile, [...weights].map(([n, t]) => ({ name: n, shape: [...t.shape], data: () => finiteValues(n, t) }))));
    if (optimizer) {
      const moments = optimizerNames.flatMap((n, i) => [
        { name: `m.${n}`, shape: [...optimizer.m[i].shape], data: () => finiteValues(`m.${n}`, optimizer.m[i]) },
        { name: `v.${n}`, shape: [...optimizer.v[i].shape], data: () => finiteValues(`v.${n}`, optimizer.v[i]) },
      ]);
      const optimizerFile = join(tmp, OPTIMIZER);
      failpoint('checkpoint-weights-written');
      await withFileError('write', optimizerFile, () => writeSafetensors(optimizerFile, moments, { step: String(optimizer.step) }));
    }
    await writeFileAtomic(join(tmp, STATE), JSON.stringify(state, null, 2));
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  // swap in: the old directory (if any) moves aside first, so one of the two is always whole
  const old = join(root, `.old-${name}`);
  await withFileError('remove', old, () => rm(old, { recursive: true, force: true }));
  await rename(final, old).catch(() => undefined);
  failpoint('checkpoint-swap');
  await withFileError('write', final, () => rename(tmp, final));
  await withFileError('remove', old, () => rm(old, { recursive: true, force: true }));
  if (name !== 'best') {
    failpoint('checkpoint-before-latest');
    await writeFileAtomic(join(root, 'latest'), name);
    await pruneStepCheckpoints(root, name);
  }
  return final;
}

/**
 * Puts a checkpoints/ folder back in order after a kill: a checkpoint moved aside (.old-X) while
 * its replacement was swapped in comes back when the replacement never arrived, and the
 * temporary directories of unfinished writes are removed. Call with the run's lock held.
 */
export async function recoverCheckpoints(runDir: string): Promise<void> {
  const root = join(runDir, 'checkpoints');
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return;
  }
  for (const n of names.filter((x) => x.startsWith('.old-'))) {
    const name = n.slice('.old-'.length);
    if (!names.includes(name)) await withFileError('write', join(root, name), () => rename(join(root, n), join(root, name)));
    else await withFileError('remove', join(root, n), () => rm(join(root, n), { recursive: true, force: true }));
  }
  for (const n of names.filter((x) => x.startsWith('.tmp-') || isTemporaryName(x))) {
    await withFileError('remove', join(root, n), () => rm(join(root, n), { recursive: true, force: true }));
  }
}

/** Removes all but the newest STEP_CHECKPOINTS_KEPT step-N directories; never `latest`'s. */
async function pruneStepCheckpoints(root: string, latest: string): Promise<void> {
  const steps = (await readdir(root))
    .filter((n) => STEP_NAME.test(n) && n !== latest)
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  for (const n of steps.slice(0, Math.max(0, steps.length - (STEP_CHECKPOINTS_KEPT - 1)))) {
    await withFileError('remove', join(root, n), () => rm(join(root, n), { recursive: true, force: true }));
  }
}

/**
 * The newest checkpoint directory of a run, or null when it has none. `latest` must name a
 * step-N directory of this run that exists; anything else is an error, never a silent fresh start.
 */
export async function latestCheckpoint(runDir: string): Promise<string | null> {
  const pointer = join(runDir, 'checkpoints', 'latest');
  let name: string;
  try {
    name = (await readFile(pointer, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read ${pointer}: ${(err as Error).message}`);
  }
  if (!STEP_NAME.test(name)) throw new Error(`${pointer}: names ${JSON.stringify(name.slice(0, 80))}, not a step-N checkpoint of this run`);
  const dir = join(runDir, 'checkpoints', name);
  const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw new Error(`${pointer}: names ${name}, which does not exist`);
  return dir;
}

/** A checkpoint's state.json, checked field by field. */
export async function readState(ckptDir: string): Promise<CheckpointState> {
  const file = join(ckptDir, STATE);
  const text = await withFileError('read', file, () => readFile(file, 'utf8'));
  let s: Record<string, unknown>;
  try {
    s = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const count = (key: string) => {
    if (!Number.isInteger(s?.[key]) || (s[key] as number) < 0) throw new Error(`${file}: ${key} must be an integer ≥ 0, got ${JSON.stringify(s?.[key])}`);
  };
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new Error(`${file}: expected a JSON object`);
  for (const key of ['step', 'epoch', 'batchInEpoch']) count(key);
  const rng = s.rng as Record<string, unknown> | undefined;
  if (!rng || !Number.isFinite(rng.seed) || !Number.isInteger(rng.offset)) throw new Error(`${file}: rng must be {seed, offset}, got ${JSON.stringify(s.rng)}`);
  if (s.bestMetric !== null && !Number.isFinite(s.bestMetric)) throw new Error(`${file}: bestMetric must be a number or null, got ${JSON.stringify(s.bestMetric)}`);
  return s as CheckpointState;
}

/**
 * Copies stored values into the given tensors by name. Every tensor must be found with the
 * same shape unless `partial` (loading a CoT checkpoint into a CoLaR model adds the head).
 */
export async function loadWeights(file: string, into: Map<string, E.Tensor>, opts: { partial?: boolean; prefix?: string } = {}): Promise<number> {
  const f = await openSafetensors(file);
  try {
    return await readTensorsInto(f, into, opts);
  } finally {
    await f.close();
  }
}

/** Restores AdamW moments and step count saved by saveCheckpoint. */
export async function loadOptimizer(file: string, optimizer: E.AdamW, names: string[]): Promise<void> {
  const f = await openSafetensors(file);
  try {
    optimizer.step = Number(f.metadata.step ?? 0);
    for (const [i, n] of names.entries()) {
      optimizer.m[i].assign(await f.read(`m.${n}`));
      optimizer.v[i].assign(await f.read(`v.${n}`));
    }
  } finally {
    await f.close();
  }
}

/**
 * Where a run starts: step 0, or (with `resume`) the state of the run's latest checkpoint, whose
 * weights and optimizer moments (saved under `optimizerNames`) are loaded into `named` and
 * `optimizer` in place.
 */
export async function startOrResume(runDir: string, resume: boolean, seed: number, named: Map<string, E.Tensor>, optimizer: E.AdamW, optimizerNames: string[], log: (line: string) => void): Promise<CheckpointState> {
  const from = resume ? await latestCheckpoint(runDir) : null;
  if (!from) return { step: 0, epoch: 0, batchInEpoch: 0, rng: { seed, offset: 0 }, bestMetric: null };
  const state = await readState(from);
  await loadWeights(join(from, WEIGHTS), named);
  await loadOptimizer(join(from, OPTIMIZER), optimizer, optimizerNames);
  log(`resumed from ${from} at step ${state.step} (epoch ${state.epoch + 1}, batch ${state.batchInEpoch})`);
  return state;
}
