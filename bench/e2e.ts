// End to end: training tokens/s (CoLaR SFT steps, forward + backward + AdamW) and latent
// decoding steps/s (one latent step for a batch through the KV cache) for the tiny preset; and a
// per-kernel profile of one CoT and one CoLaR training step, of a preset's model or of LoRA on a
// model directory (the llama-3.2-1b preset's adapters: r 128, alpha 32 on q_proj and v_proj).
import * as E from '../engine/index.js';
import { encodeExample, encodeInferencePrompt } from '../datasets/prompt.js';
import type { QsaRecord } from '../datasets/record.js';
import { arithmeticDataset, DEFAULT_ARITHMETIC_OPTIONS } from '../datasets/synthetic.js';
import { Decoder } from '../colar/llama/decoder.js';
import { buildRunModel, checkpointTensors, type RunModel } from '../colar/run.js';
import { buildSlotBatch } from '../colar/sequence.js';
import { DEFAULT_SFT_LOSS, sftLosses } from '../colar/sft.js';
import { resolveConfig, type TrainConfig } from '../colar/train_config.js';
import { modelFlopsPerToken } from '../colar/trainer.js';
import type { Gpu } from '../kernels/gpu.js';
import { kernelFamily, summarizeKernelTimes } from '../kernels/profiler.js';
import type { BenchRecord } from './record.js';

/** What the steps train: a preset's fresh model, or LoRA on the model directory `modelDir`. */
export interface StepModelSource {
  preset: string;
  modelDir?: string;
}

// a model directory trains as the paper's setting: batches of 4 of about 128 tokens (7-step problems)
const MODEL_DIR_BATCH = 4;
const MODEL_DIR_PROBLEMS = { ...DEFAULT_ARITHMETIC_OPTIONS, minSteps: 7, maxSteps: 7 };

interface StepModel {
  cfg: TrainConfig;
  run: RunModel;
  records: QsaRecord[];
  shape: string;
}

/** The run model (with its latent head) and a fixed batch of problems. */
async function stepModel(engine: E.Engine, source: StepModelSource): Promise<StepModel> {
  const cfg = source.modelDir
    ? resolveConfig('llama-3.2-1b', 'colar', [`model.path=${JSON.stringify(source.modelDir)}`, `train.batch_size=${MODEL_DIR_BATCH}`])
    : resolveConfig(source.preset, 'colar', []);
  const run = await buildRunModel(engine, cfg, true);
  const records = arithmeticDataset('train', cfg.train.batch_size, 0, source.modelDir ? MODEL_DIR_PROBLEMS : DEFAULT_ARITHMETIC_OPTIONS);
  const c = run.model.config;
  const lora = cfg.lora.enabled ? ` LoRA r=${cfg.lora.r} on ${cfg.lora.target_modules.join(',')}` : '';
  const shape = `${source.modelDir ? 'model dir' : source.preset} d=${c.hiddenSize} L=${c.numHiddenLayers} V=${c.vocabSize}${lora} batch=${cfg.train.batch_size}`;
  return { cfg, run, records, shape };
}

/** One SFT step (forward, backward, AdamW) on the fixed batch: CoT (c = 1, no latent head) or CoLaR (c = 2). */
function sftStep(engine: E.Engine, m: StepModel, stage: 'cot' | 'colar') {
  const c = stage === 'cot' ? 1 : 2;
  const run = { ...m.run, head: stage === 'cot' ? null : m.run.head };
  const batch = buildSlotBatch(m.records.map((r) => encodeExample(run.prompt, r, c)), { compression: c, pooling: 'sqrt', padId: run.prompt.padId, random: () => 0.5 });
  const params = [...checkpointTensors(run, m.cfg).values()];
  for (const p of params) p.requiresGrad = true;
  const opt = new E.AdamW(params, { lr: 1e-4 });
  const rng = new E.Rng(0);
  const step = async () => {
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
  const tokens = batch.mask.reduce((s, x) => s + x, 0);
  return { step, tokens, flopsPerToken: modelFlopsPerToken(run, params), dispose: () => opt.dispose() };
}

/** Milliseconds for one latent-decoding pass of the batch's questions: the prompt, then `steps` latents through the KV cache. */
async function latentDecodeMs(engine: E.Engine, m: StepModel, steps: number): Promise<number> {
  const { run } = m;
  const prompts = m.records.map((r) => encodeInferencePrompt(run.prompt, r.question, 2));
  const t0 = performance.now();
  const decoder = new Decoder(run.model, prompts.length, Math.max(...prompts.map((p) => p.length)) + steps);
  let step = await decoder.prompt(prompts, run.prompt.padId, false);
  const active = prompts.map(() => true);
  for (let i = 0; i < steps; i++) {
    const z = E.noGrad(() => engine.scope(() => E.scale(run.head!.forward(step.hidden).mean, run.head!.embedStd)));
    step.hidden.dispose();
    step = await decoder.embeds(z, active);
    z.dispose();
  }
  step.hidden.dispose();
  decoder.dispose();
  return performance.now() - t0;
}

/**
 * Where a CoT and a CoLaR training step's time goes, each after a warm-up step (which compiles
 * the pipelines): the step's wall time unprofiled (tokens/s, model GFLOP/s and, given the best
 * matmul GFLOP/s of the same run, its percentage of that), then the same step with every dispatch
 * timed by GPU timestamps (each in its own pass, so slower), summed per kernel family and per
 * kernel; and latent decoding steps/s at the same shape.
 */
export async function benchStepProfile(engine: E.Engine, gpu: Gpu, source: StepModelSource, bestMatmulGflops?: number): Promise<BenchRecord[]> {
  const m = await stepModel(engine, source);
  const common = { backend: 'webgpu', adapter: engine.backend.deviceName } as const;
  const records: BenchRecord[] = [];
  for (const stage of ['cot', 'colar'] as const) {
    const { step, tokens, flopsPerToken, dispose } = sftStep(engine, m, stage);
    await step();
    let t0 = performance.now();
    await step();
    const ms = performance.now() - t0;
    const gflops = (flopsPerToken * tokens) / (ms * 1e6);
    gpu.startProfiling();
    t0 = performance.now();
    await step();
    const profiledMs = performance.now() - t0;
    const times = await gpu.stopProfiling();
    dispose();
    const kernelMs = times.reduce((s, t) => s + t.ns / 1e6, 0);
    const share = (what: string, ms: number): BenchRecord => ({ name: `${stage}_${what}`, shape: '', ...common, ms_median: ms, pct_of_step: (100 * ms) / profiledMs });
    records.push(
      { name: `${stage}_step`, shape: `${m.shape} tokens=${tokens}`, ...common, ms_median: ms, tokens_per_s: (1000 * tokens) / ms, gflops, ...(bestMatmulGflops ? { pct_of_ceiling: (100 * gflops) / bestMatmulGflops } : {}) },
      { ...share('step_profiled', profiledMs), shape: 'every dispatch timed' },
      { ...share('step_kernels', kernelMs), shape: `${times.length} dispatches` },
      ...summarizeKernelTimes(times, kernelFamily).map((k) => ({ ...share('family', k.ms), shape: `${k.kernel} x${k.dispatches}` })),
      ...summarizeKernelTimes(times).map((k) => ({ ...share('kernel', k.ms), shape: `${k.kernel} x${k.dispatches}` })),
    );
  }
  const latentSteps = 8;
  await latentDecodeMs(engine, m, 1); // compiles the decoding pipelines
  const decodeMs = await latentDecodeMs(engine, m, latentSteps);
  records.push({ name: 'latent_decode', shape: `${m.shape} steps=${latentSteps} (incl. prompt)`, ...common, ms_median: decodeMs / latentSteps, steps_per_s: (1000 * latentSteps) / decodeMs });
  m.run.model.dispose();
  return records;
}

export async function benchEndToEnd(engine: E.Engine, steps = 5): Promise<BenchRecord[]> {
  const m = await stepModel(engine, { preset: 'tiny' });
  const { step, tokens, dispose } = sftStep(engine, m, 'colar');
  await step(); // compiles every pipeline
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  const trainMs = (performance.now() - t0) / steps;
  dispose();
  const latentSteps = 16;
  await latentDecodeMs(engine, m, latentSteps);
  const decodeMs = await latentDecodeMs(engine, m, latentSteps);
  m.run.model.dispose();
  const common = { backend: engine.backend.name, adapter: engine.backend.deviceName };
  return [
    { name: 'train_step', shape: `${m.shape} tokens=${tokens}`, ...common, ms_median: trainMs, tokens_per_s: (1000 * tokens) / trainMs },
    { name: 'latent_decode', shape: `${m.shape} steps=${latentSteps} (incl. prompt)`, ...common, ms_median: decodeMs / latentSteps, steps_per_s: (1000 * latentSteps) / decodeMs },
  ];
}
