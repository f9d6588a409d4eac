// Starting one stage from another: a CoLaR run takes the CoT run's weights and measures the
// embedding std (the latent space's unit) on those weights, not on the random init it replaced,
// and pins it in its config; a LoRA run's base comes from the run it started from.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { saveCheckpoint } from '../../colar/checkpoint.js';
import { embeddingStd } from '../../colar/latent_head.js';
import { buildRunModel, checkpointTensors, loadRun, writeRunFiles } from '../../colar/run.js';
import { resolveConfig } from '../../colar/train_config.js';
import { cpu } from '../helpers/engines.js';

const small = ['model.hidden_size=16', 'model.layers=1', 'model.heads=2', 'model.kv_heads=1', 'model.intermediate_size=24', 'colar.head_intermediate=16'];
const state = { step: 1, epoch: 1, batchInEpoch: 0, rng: new E.Rng(0).state(), bestMetric: null };

async function savedRun(dir: string, stage: 'cot' | 'colar', overrides: string[], edit: (run: Awaited<ReturnType<typeof buildRunModel>>) => Promise<void>) {
  const cfg = resolveConfig('tiny', stage, [...small, ...overrides, `out_dir=${JSON.stringify(dir)}`]);
  const run = await buildRunModel(cpu, cfg, stage === 'colar');
  await edit(run);
  await writeRunFiles(dir, cfg);
  await saveCheckpoint(dir, 'best', checkpointTensors(run, cfg), null, [], state);
  return { cfg, run };
}

const scaleEmbeddings = (k: number) => async (run: Awaited<ReturnType<typeof buildRunModel>>) => {
  run.model.embedTokens.assign(Array.from(await run.model.embedTokens.data(), (x) => k * x));
};

/** Equal up to the float32 rounding of checkpoints. */
async function expectSameWeights(a: E.Tensor, b: E.Tensor) {
  const [x, y] = [await a.data(), await b.data()];
  expect(x.length).toBe(y.length);
  x.forEach((v, i) => expect(Math.abs(v - y[i])).toBeLessThan(1e-7 * (1 + Math.abs(v))));
}

describe('model.init_from', () => {
  it('measures the embedding std on the weights it starts from and saves it', async () => {
    const root = await mkdtemp(join(tmpdir(), 'init-from-'));
    const cot = await savedRun(join(root, 'cot'), 'cot', [], scaleEmbeddings(7));
    const cotStd = await embeddingStd(cot.run.model.embedTokens);
    const colar = await savedRun(join(root, 'colar'), 'colar', [`model.init_from=${JSON.stringify(join(root, 'cot'))}`], async () => {});
    expect(colar.run.head!.embedStd).toBeCloseTo(cotStd, 6);
    expect(colar.cfg.colar.embed_std).toBe(colar.run.head!.embedStd);
    await expectSameWeights(colar.run.model.embedTokens, cot.run.model.embedTokens);
    // eval rebuilds the run from its directory with the same unit and weights
    const loaded = await loadRun(cpu, join(root, 'colar'));
    expect(loaded.run.head!.embedStd).toBe(colar.run.head!.embedStd);
  });

  it('gives a LoRA run its base from the run it started from, in training and in eval', async () => {
    const root = await mkdtemp(join(tmpdir(), 'init-from-lora-'));
    const cot = await savedRun(join(root, 'cot'), 'cot', [], scaleEmbeddings(3));
    await savedRun(join(root, 'lora'), 'colar', [`model.init_from=${JSON.stringify(join(root, 'cot'))}`, 'lora.enabled=true', 'lora.r=2'], async () => {});
    const loaded = await loadRun(cpu, join(root, 'lora'));
    await expectSameWeights(loaded.run.model.embedTokens, cot.run.model.embedTokens);
  });
});
