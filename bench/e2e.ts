// End to end: training tokens/s (CoLaR SFT steps, forward + backward + AdamW) and latent
// decoding steps/s (one latent step for a batch through the KV cache) for the tiny preset; and a
// per-kernel profile of one training step.
import * as E from '../engine/index.js';
import { encodeExample, encodeInferencePrompt } from '../datasets/prompt.js';
import { arithmeticDataset } from '../datasets/synthetic.js';
import { Decoder } from '../colar/llama/decoder.js';
import { buildRunModel } from '../colar/run.js';
import { buildSlotBatch } from '../colar/sequence.js';
import { DEFAULT_SFT_LOSS, sftLosses } from '../colar/sft.js';
import { resolveConfig } from '../colar/train_config.js';
import type { Gpu } from '../kernels/gpu.js';
import { summarizeKernelTimes } from '../kernels/profiler.js';
import type { BenchRecord } from './record.js';

/** One CoLaR SFT step (c = 2) of a preset's model on a fixed batch, and what it holds. */
async function trainStepFixture(engine: E.Engine, preset: string) {
  const cfg = resolveConfig(preset, 'colar', []);
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
  const tokens = batch.mask.reduce((s, m) => s + m, 0);
  const shape = `${preset} d=${cfg.model.hidden_size} L=${cfg.model.layers} batch=${cfg.train.batch_size}`;
  return { cfg, run, records, opt, trainStep, tokens, shape };
}

/**
 * Where one training step's time goes: every dispatch timed by GPU timestamps (each in its own
 * pass, so the step runs slower than unprofiled), summed per kernel, against the step's wall time.
 */
export async function benchStepProfile(engine: E.Engine, gpu: Gpu, preset = 'tiny'): Promise<BenchRecord[]> {
  const { run, opt, trainStep, tokens, shape } = await trainStepFixture(engine, preset);
  await trainStep(); // compiles every pipeline
  gpu.startProfiling();
  const t0 = performance.now();
  await trainStep();
  const wallMs = performance.now() - t0;
  const kernels = summarizeKernelTimes(await gpu.stopProfiling());
  opt.dispose();
  run.model.dispose();
  const adapter = engine.backend.deviceName;
  const kernelMs = kernels.reduce((s, k) => s + k.ms, 0);
  const dispatches = kernels.reduce((s, k) => s + k.dispatches, 0);
  const record = (name: string, what: string, ms: number): BenchRecord => ({ name, shape: what, backend: 'webgpu', adapter, ms_median: ms, pct_of_step: (100 * ms) / wallMs });
  return [
    record('step_wall', `${shape} tokens=${tokens}, profiled`, wallMs),
    record('step_kernels', `${dispatches} dispatches`, kernelMs),
    ...kernels.map((k) => record('kernel', `${k.kernel} x${k.dispatches}`, k.ms)),
  ];
}

export async function benchEndToEnd(engine: E.Engine, steps = 5): Promise<BenchRecord[]> {
  const { run, records, opt, trainStep, tokens, shape } = await trainStepFixture(engine, 'tiny');
  await trainStep(); // compiles every pipeline
  let t0 = performance.now();
  for (let i = 0; i < steps; i++) await trainStep();
  const trainMs = (performance.now() - t0) / steps;
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
  return [
    { name: 'train_step', shape: `${shape} tokens=${tokens}`, backend, adapter, ms_median: trainMs, tokens_per_s: (1000 * tokens) / trainMs },
    { name: 'latent_decode', shape: `${shape} steps=${latentSteps} (incl. prompt)`, backend, adapter, ms_median: decodeMs / Math.max(1, latentSteps), steps_per_s: (1000 * latentSteps) / decodeMs },
  ];
}
