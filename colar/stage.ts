// One training stage, start to finish, as the train command and the repro plan both run it:
// claim the run directory (one owner; fresh, resume, overwrite or continue), on resume check the
// request against the run's saved config, build the model and data, write the run's files,
// train (SFT or GRPO), and release the directory.

import * as E from '../engine/index.js';
import { getPath, leafKeys, setPath } from './config_schema.js';
import type { Json } from './overrides.js';
import { trainRl } from './rl.js';
import { buildRunModel, readRunConfig, runDatasets, writeRunFiles } from './run.js';
import { claimRunDir, type ClaimMode } from './run_dir.js';
import type { TrainConfig } from './train_config.js';
import { train } from './trainer.js';

export interface StageResult {
  runDir: string;
  steps: number;
  /** best validation accuracy (SFT stages), null when none was measured */
  bestMetric: number | null;
  resumed: boolean;
}

/** The keys a resumed run may change: how long it trains and how it checkpoints, nothing it learns from. */
const CHANGEABLE_ON_RESUME = new Set(['train.epochs', 'train.max_steps', 'train.ckpt_every', 'train.val_samples', 'train.max_skipped_steps', 'rl.epochs', 'rl.ckpt_every']);

export async function runStage(engine: E.Engine, requested: TrainConfig, mode: ClaimMode, log: (line: string) => void): Promise<StageResult> {
  const claim = await claimRunDir(requested.out_dir, mode, log);
  try {
    const cfg = claim.resume ? resumedConfig(await readRunConfig(claim.dir), requested, log) : requested;
    if (cfg.stage === 'rl' && !cfg.model.init_from) throw new Error('--stage rl: set model.init_from=RUN_DIR to a CoLaR run');
    const run = await buildRunModel(engine, cfg, cfg.stage === 'colar' || cfg.stage === 'rl');
    try {
      const data = await runDatasets(cfg);
      if (data.train.length === 0) throw new Error(`data.train ${cfg.data.train}: no training records`);
      await writeRunFiles(claim.dir, cfg);
      if (cfg.stage === 'rl') {
        const rl = await trainRl(engine, cfg, run, data, { resume: claim.resume, log });
        return { runDir: claim.dir, steps: rl.steps, bestMetric: rl.bestMetric, resumed: claim.resume };
      }
      const result = await train(engine, cfg, run, data, { resume: claim.resume, log });
      return { runDir: claim.dir, steps: result.steps, bestMetric: result.bestMetric, resumed: claim.resume };
    } finally {
      run.model.dispose();
    }
  } finally {
    claim.release();
  }
}

/**
 * The config a resumed run continues with: the saved one, with the changes a resume may make
 * taken from the request. Any other difference is an error (it would make the run two runs); a
 * value the run measured itself (null asked, a number saved: colar.embed_std) stays as saved.
 */
export function resumedConfig(saved: TrainConfig, requested: TrainConfig, log: (line: string) => void): TrainConfig {
  const out = structuredClone(saved);
  const conflicts: string[] = [];
  out.out_dir = requested.out_dir; // the directory may have moved since
  for (const key of leafKeys(requested).filter((k) => k !== 'out_dir')) {
    const want = getPath(requested, key) as Json;
    const had = getPath(saved, key) as Json;
    if (JSON.stringify(want) === JSON.stringify(had) || (want === null && had !== null)) continue;
    if (CHANGEABLE_ON_RESUME.has(key)) {
      setPath(out, key, want);
      log(`resume: ${key} ${JSON.stringify(had)} -> ${JSON.stringify(want)}`);
    } else conflicts.push(`${key}=${JSON.stringify(want)} (the run has ${JSON.stringify(had)})`);
  }
  if (conflicts.length > 0) {
    throw new Error(`--resume ${saved.out_dir}: this command asks for ${conflicts.slice(0, 3).join(', ')}${conflicts.length > 3 ? ` and ${conflicts.length - 3} more` : ''}; a resume may change only ${[...CHANGEABLE_ON_RESUME].join(', ')}`);
  }
  return out;
}
