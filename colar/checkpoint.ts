// Checkpoints: a directory of safetensors (weights under their Hugging Face / PEFT / latent-head
// names; optimizer moments) and state.json, written into a temporary directory and renamed into
// place, so a crash at any moment leaves the last good checkpoint intact. `latest` names the
// newest one and is itself replaced atomically; only the newest STEP_CHECKPOINTS_KEPT step-N
// directories stay (with best/), so a long run does not fill the disk.

import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as E from '../engine/index.js';
import { SafetensorsFile, writeSafetensors } from './llama/safetensors.js';

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
  [key: string]: unknown;
}

/** Writes checkpoints/<name> atomically and points `latest` at it (unless name is 'best'). */
export async function saveCheckpoint(runDir: string, name: string, weights: Map<string, E.Tensor>, optimizer: E.AdamW | null, optimizerNames: string[], state: CheckpointState): Promise<string> {
  const root = join(runDir, 'checkpoints');
  const tmp = join(root, `.tmp-${name}`);
  const final = join(root, name);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await writeSafetensors(join(tmp, WEIGHTS), [...weights].map(([n, t]) => ({ name: n, shape: [...t.shape], data: () => t.float32() })));
  if (optimizer) {
    const moments = optimizerNames.flatMap((n, i) => [
      { name: `m.${n}`, shape: [...optimizer.m[i].shape], data: () => optimizer.m[i].float32() },
      { name: `v.${n}`, shape: [...optimizer.v[i].shape], data: () => optimizer.v[i].float32() },
    ]);
    await writeSafetensors(join(tmp, OPTIMIZER), moments, { step: String(optimizer.step) });
  }
  await writeFile(join(tmp, STATE), JSON.stringify(state, null, 2));
  // swap in: the old directory (if any) moves aside first, so one of the two is always whole
  const old = join(root, `.old-${name}`);
  await rm(old, { recursive: true, force: true });
  await rename(final, old).catch(() => undefined);
  await rename(tmp, final);
  await rm(old, { recursive: true, force: true });
  if (name !== 'best') {
    await writeFile(join(root, '.latest.tmp'), name);
    await rename(join(root, '.latest.tmp'), join(root, 'latest'));
    await pruneStepCheckpoints(root);
  }
  return final;
}

/** Removes all but the newest STEP_CHECKPOINTS_KEPT step-N directories (after `latest` moved on). */
async function pruneStepCheckpoints(root: string): Promise<void> {
  const steps = (await readdir(root))
    .filter((n) => /^step-\d+$/.test(n))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  for (const n of steps.slice(0, -STEP_CHECKPOINTS_KEPT)) await rm(join(root, n), { recursive: true, force: true });
}

/** The newest checkpoint directory of a run, or null. */
export async function latestCheckpoint(runDir: string): Promise<string | null> {
  try {
    const name = (await readFile(join(runDir, 'checkpoints', 'latest'), 'utf8')).trim();
    return join(runDir, 'checkpoints', name);
  } catch {
    return null;
  }
}

export async function readState(ckptDir: string): Promise<CheckpointState> {
  return JSON.parse(await readFile(join(ckptDir, STATE), 'utf8')) as CheckpointState;
}

/**
 * Copies stored values into the given tensors by name. Every tensor must be found with the
 * same shape unless `partial` (loading a CoT checkpoint into a CoLaR model adds the head).
 */
export async function loadWeights(file: string, into: Map<string, E.Tensor>, opts: { partial?: boolean; prefix?: string } = {}): Promise<number> {
  const f = await SafetensorsFile.open(file);
  try {
    const stored = new Map(f.tensors.map((t) => [t.name, t]));
    let loaded = 0;
    for (const [name, t] of into) {
      const info = stored.get((opts.prefix ?? '') + name);
      if (!info) {
        if (opts.partial) continue;
        throw new Error(`${file}: tensor ${name} is missing`);
      }
      if (info.shape.join() !== t.shape.join()) throw new Error(`${file}: tensor ${name} has shape [${info.shape}] but the model needs [${t.shape}]`);
      t.assign(await f.read(info.name));
      loaded++;
    }
    return loaded;
  } finally {
    await f.close();
  }
}

/** Restores AdamW moments and step count saved by saveCheckpoint. */
export async function loadOptimizer(file: string, optimizer: E.AdamW, names: string[]): Promise<void> {
  const f = await SafetensorsFile.open(file);
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
 * weights and optimizer moments are loaded into `named` and `optimizer` in place.
 */
export async function startOrResume(runDir: string, resume: boolean, seed: number, named: Map<string, E.Tensor>, optimizer: E.AdamW, log: (line: string) => void): Promise<CheckpointState> {
  const from = resume ? await latestCheckpoint(runDir) : null;
  if (!from) return { step: 0, epoch: 0, batchInEpoch: 0, rng: { seed, offset: 0 }, bestMetric: null };
  const state = await readState(from);
  await loadWeights(join(from, WEIGHTS), named);
  await loadOptimizer(join(from, OPTIMIZER), optimizer, [...named.keys()]);
  log(`resumed from ${from} at step ${state.step} (epoch ${state.epoch + 1}, batch ${state.batchInEpoch})`);
  return state;
}
