// End to end: training tokens/s (CoLaR SFT steps, forward + backward + AdamW) and latent
// decoding steps/s (one latent step for a batch through the KV cache) for the tiny preset.
import * as E from '../engine/index.js';
import { encodeExample, encodeInferencePrompt } from '../datasets/prompt.js';
import { arithmeticDataset } from '../datasets/synthetic.js';
import { Decoder } from '../colar/llama/decoder.js';
import { buildRunModel } from '../colar/run.js';
import { buildSlotBatch } from '../colar/sequence.js';
import { DEFAULT_SFT_LOSS, sftLosses } from '../colar/sft.js';
import { resolveConfig } from '../colar/train_config.js';
import type { BenchRecord } from './record.js';

export async function benchEndToEnd(engine: E.Engine, steps = 5): Promise<BenchRecord[]> {
  const cfg = resolveConfig('tiny', 'colar', []);
  const run = await buildRunModel(engine, cfg, true);
  const records = arithmeticDataset('train', cfg.train.batch_size, 0);
  const batch = buildSlotBatch(records.map((r) => encodeExample(run.prompt, r, 2)), { compression: 2, pooling: 'sqrt', padId: run.prompt.padId, random: () => 0.5 });
  const params = [...run.model.namedParameters().values(), ...run.head!.namedParameters().values()];
  for (const p of params) p.requiresGrad = true;
  const opt = new E.AdamW(params, { lr: 1e-4 });
  const rng = new E.Rng(0);
  const trainStep = async () => {
    const loss = engine.scope(() => {
      const l = sftLosses(run.model, run.head, batch, DEFAULT_SFT_LOSS, rng).total;
      E.backward(l);
      opt.update();
      opt.zeroGrad();
      return l;
    });
    await loss.item();
    loss.dispose();
  };
  await trainStep(); // compiles every pipeline
  let t0 = performance.now();
  for (let i = 0; i < steps; i++) await trainStep();
  const trainMs = (performance.now() - t0) / steps;
  const tokens = batch.mask.reduce((s, m) => s + m, 0);
  opt.dispose();

  // latent decoding: the head's mean fed back through the KV cache, a fixed number of steps
  const prompts = records.map((r) => encodeInferencePrompt(run.prompt, r.question, 2));
  const latentSteps = 16;
  const decodeLatents = async () => {
    const decoder = new Decoder(run.model, prompts.length, Math.max(...prompts.map((p) => p.length)) + latentSteps);
    let step = await decoder.prompt(prompts, run.prompt.padId, false);
    const active = prompts.map(() => true);
    for (let i = 0; i < latentSteps; i++) {
      const z = E.noGrad(() => engine.scope(() => E.scale(run.head!.forward(step.hidden).mean, run.head!.embedStd)));
      step.hidden.dispose();
      step = await decoder.embeds(z, active);
      z.dispose();
    }
    step.hidden.dispose();
    decoder.dispose();
  };
  await decodeLatents();
  t0 = performance.now();
  await decodeLatents();
  const decodeMs = performance.now() - t0;
  run.model.dispose();
  const adapter = engine.backend.deviceName;
  const backend = engine.backend.name;
  const shape = `tiny d=${cfg.model.hidden_size} L=${cfg.model.layers} batch=${cfg.train.batch_size}`;
  return [
    { name: 'train_step', shape: `${shape} tokens=${tokens}`, backend, adapter, ms_median: trainMs, tokens_per_s: (1000 * tokens) / trainMs },
    { name: 'latent_decode', shape: `${shape} steps=${latentSteps} (incl. prompt)`, backend, adapter, ms_median: decodeMs / Math.max(1, latentSteps), steps_per_s: (1000 * latentSteps) / decodeMs },
  ];
}
