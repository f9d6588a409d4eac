// Resuming from a checkpoint reproduces the uninterrupted run exactly (weights, optimizer,
// RNG, data position), and checkpoints are written whole (temp dir + rename).
import { cp, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRunModel, checkpointTensors, runDatasets, writeRunFiles } from '../../colar/run.js';
import { resolveConfig } from '../../colar/train_config.js';
import { train } from '../../colar/trainer.js';
import { webgpu } from '../helpers/engines.js';

const tiny = ['model.hidden_size=16', 'model.layers=1', 'model.heads=2', 'model.kv_heads=1', 'model.intermediate_size=24', 'colar.head_intermediate=16',
  'data.n_train=16', 'data.n_val=2', 'train.batch_size=4', 'train.epochs=1', 'train.ckpt_every=2', 'train.val_samples=1', 'train.warmup_steps=1'];

// on WebGPU: every kernel is deterministic and weights are float32 like the checkpoints
async function runTo(outDir: string, resume: boolean, stage: 'colar' | 'cot', extra: string[]) {
  const engine = await webgpu();
  const cfg = resolveConfig('tiny', stage, [...tiny, ...extra, `out_dir=${JSON.stringify(outDir)}`]);
  const run = await buildRunModel(engine, cfg, stage === 'colar');
  const data = await runDatasets(cfg);
  if (!resume) await writeRunFiles(outDir, cfg);
  await train(engine, cfg, run, data, { resume, log: () => {} });
  const weights = new Map<string, number[]>();
  for (const [name, t] of checkpointTensors(run, cfg)) weights.set(name, await t.array());
  return weights;
}

describe('resume', () => {
  it.each([
    ['colar', []],
    ['cot', ['train.multi_token=3']],
  ] as const)('continues a %s run %j from step 2 of 4 to the same weights as the uninterrupted run', async (stage, extra) => {
    const root = await mkdtemp(join(tmpdir(), 'resume-'));
    const full = await runTo(join(root, 'full'), false, stage, [...extra]);
    if (extra.length) expect([...full.keys()].filter((n) => n.startsWith('multi_token.'))).toEqual(['multi_token.2.weight', 'multi_token.3.weight']);
    // a run that "died" after its step-2 checkpoint: its directory holds only that checkpoint
    const died = join(root, 'died');
    await cp(join(root, 'full'), died, { recursive: true });
    for (const name of await readdir(join(died, 'checkpoints'))) {
      if (name !== 'step-000002' && name !== 'latest') await cp(join(died, 'checkpoints', 'step-000002'), join(died, 'checkpoints', name), { recursive: true, force: true });
    }
    await writeFile(join(died, 'checkpoints', 'latest'), 'step-000002');
    const resumed = await runTo(died, true, stage, [...extra]);
    expect(resumed.size).toBe(full.size);
    for (const [name, values] of full) expect(resumed.get(name), name).toEqual(values);
  });
});
