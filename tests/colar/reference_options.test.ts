// The options that choose between the reference implementation's behaviour and this project's:
// each test fails when its option is ignored.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cotChainLength } from '../../colar/inference.js';
import { openSafetensors } from '../../colar/llama/safetensors.js';
import { buildRunModel, checkpointTensors } from '../../colar/run.js';
import { runStage } from '../../colar/stage.js';
import { resolveConfig, type Stage } from '../../colar/train_config.js';
import { learningRate } from '../../colar/trainer.js';
import { EMBEDDING } from '../../colar/training_loop.js';
import { webgpu } from '../helpers/engines.js';

const tiny = ['model.hidden_size=16', 'model.layers=1', 'model.heads=2', 'model.kv_heads=1', 'model.intermediate_size=24', 'colar.head_intermediate=16',
  'data.n_train=16', 'data.n_val=2', 'train.batch_size=4', 'train.val_samples=1', 'train.warmup_steps=1', 'train.epochs=1', 'train.ckpt_every=100'];

/** A fresh run of `stage` trained as configured: its directory, latest weights and metrics. */
async function trained(stage: Stage, extra: string[]): Promise<{ dir: string; weights: Map<string, number[]>; metrics: Array<Record<string, number>> }> {
  const dir = join(await mkdtemp(join(tmpdir(), 'options-')), 'run');
  await runStage(await webgpu(), resolveConfig('tiny', stage, [...tiny, ...extra, `out_dir=${JSON.stringify(dir)}`]), 'fresh', () => {});
  const f = await openSafetensors(join(dir, 'checkpoints', await latest(dir), 'weights.safetensors'));
  const weights = new Map<string, number[]>();
  for (const t of f.tensors) weights.set(t.name, Array.from(await f.read(t.name)));
  await f.close();
  const metrics = (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  return { dir, weights, metrics };
}

async function latest(dir: string): Promise<string> {
  return (await readFile(join(dir, 'checkpoints', 'latest'), 'utf8')).trim();
}

describe('options for the reference\'s behaviour', () => {
  it('train.lr_schedule constant: lr throughout, no warmup or decay', () => {
    const t = resolveConfig('tiny', 'cot', ['train.lr_schedule=constant', 'train.lr=0.5']).train;
    expect([1, 10, 50, 100].map((s) => learningRate(s, 100, t))).toEqual([0.5, 0.5, 0.5, 0.5]);
    expect(learningRate(100, 100, { ...t, lr_schedule: 'cosine' })).toBeCloseTo(0.05);
  });

  it('train.grad_clip null: no clipping (a tiny clip changes the step, null is the same as no bound)', async () => {
    const unclipped = await trained('cot', ['train.max_steps=1', 'train.grad_clip=null']);
    const huge = await trained('cot', ['train.max_steps=1', 'train.grad_clip=1e30']);
    const tinyClip = await trained('cot', ['train.max_steps=1', 'train.grad_clip=1e-12']);
    expect(unclipped.weights).toEqual(huge.weights);
    expect(unclipped.weights).not.toEqual(tinyClip.weights);
  });

  it('colar.freeze_embeddings: the embedding table does not move and has no optimizer moments; the rest trains', async () => {
    const engine = await webgpu();
    const start = await buildRunModel(engine, resolveConfig('tiny', 'colar', tiny), true);
    const before = checkpointTensors(start, resolveConfig('tiny', 'colar', tiny));
    const initial = new Map(await Promise.all([...before].map(async ([n, t]) => [n, Array.from(await t.data())] as const)));
    start.model.dispose();
    const frozen = await trained('colar', ['train.max_steps=2', 'colar.freeze_embeddings=true']);
    const free = await trained('colar', ['train.max_steps=2']);
    expect(frozen.weights.get(EMBEDDING)).toEqual(initial.get(EMBEDDING));
    expect(free.weights.get(EMBEDDING)).not.toEqual(initial.get(EMBEDDING));
    expect(frozen.weights.get('model.layers.0.self_attn.q_proj.weight')).not.toEqual(initial.get('model.layers.0.self_attn.q_proj.weight'));
    const optimizer = await openSafetensors(join(frozen.dir, 'checkpoints', await latest(frozen.dir), 'optimizer.safetensors'));
    expect(optimizer.tensors.map((t) => t.name)).not.toContain(`m.${EMBEDDING}`);
    await optimizer.close();
  });

  it('colar.reference_padding and colar.pred_embed_forward_variant reach the training step', async () => {
    const base = ['train.max_steps=1', 'colar.compression_factors=3', 'colar.pred_embed_forward_weight=1'];
    const ours = (await trained('colar', base)).metrics[0];
    const padded = (await trained('colar', [...base, 'colar.reference_padding=true'])).metrics[0];
    const reference = (await trained('colar', [...base, 'colar.pred_embed_forward_variant=reference'])).metrics[0];
    expect(padded.ce).not.toBe(ours.ce);
    expect(reference.ce).toBe(ours.ce);
    expect(reference.pred_embed_forward).not.toBe(ours.pred_embed_forward);
  });

  it('rl.zero_advantage_steps: step moves the weights (weight decay) when every advantage is 0; skip leaves them', async () => {
    const colar = await trained('colar', ['train.max_steps=1']);
    const rl = (mode: string) => trained('rl', [`model.init_from=${JSON.stringify(colar.dir)}`, 'rl.samples_per_epoch=4', 'rl.questions_per_step=2', 'rl.group_size=2', 'rl.max_latent_steps=4', 'rl.lr=0.01', 'rl.validate=false', `rl.zero_advantage_steps=${mode}`]);
    const skipped = await rl('skip');
    const stepped = await rl('step');
    expect(skipped.metrics.every((m) => m.reward === 0)).toBe(true);
    const name = 'model.layers.0.self_attn.q_proj.weight';
    expect(skipped.weights.get(name)).toEqual(colar.weights.get(name));
    expect(stepped.weights.get(name)).not.toEqual(colar.weights.get(name));
  });

  it('rl.validate: validation after each epoch and best/ kept', async () => {
    const colar = await trained('colar', ['train.max_steps=1']);
    const rl = (validate: boolean) => trained('rl', [`model.init_from=${JSON.stringify(colar.dir)}`, 'rl.samples_per_epoch=2', 'rl.epochs=2', 'rl.questions_per_step=2', 'rl.group_size=2', 'rl.max_latent_steps=4', `rl.validate=${validate}`]);
    const on = await rl(true);
    const off = await rl(false);
    expect(on.metrics.filter((m) => 'val_accuracy' in m).map((m) => m.step)).toEqual([1, 2]);
    expect(existsSync(join(on.dir, 'checkpoints', 'best'))).toBe(true);
    expect(off.metrics.some((m) => 'val_accuracy' in m)).toBe(false);
    expect(existsSync(join(off.dir, 'checkpoints', 'best'))).toBe(false);
  });

  it('CoT #L as the reference counts it: first "###" minus 1, else first ":" minus 3, else the length', () => {
    const SEP = 9;
    const COLON = 7;
    expect(cotChainLength([1, 2, 3, SEP, 5], SEP, COLON, 'reference')).toBe(2);
    expect(cotChainLength([1, 2, 3, SEP, 5], SEP, COLON, 'separator')).toBe(3);
    expect(cotChainLength([1, 2, 3, 4, COLON, 5], SEP, COLON, 'reference')).toBe(1);
    expect(cotChainLength([1, 2, 3], SEP, COLON, 'reference')).toBe(3);
    expect(cotChainLength([1, 2, 3], SEP, undefined, 'separator')).toBe(0);
  });

  it('the defaults: the reference\'s where it is unambiguous, this project\'s where it chose otherwise', () => {
    const c = resolveConfig('tiny', 'rl', []);
    expect([c.train.val_decoding, c.rl.samples_per_epoch, c.rl.validate]).toEqual(['sampled', 512, true]);
    expect([c.train.lr_schedule, c.train.grad_clip, c.colar.reference_padding, c.colar.pred_embed_forward_variant, c.colar.freeze_embeddings, c.rl.zero_advantage_steps, c.rl.aggregation])
      .toEqual(['cosine', 1, false, 'aligned', false, 'skip', 'mean']);
  });
});
