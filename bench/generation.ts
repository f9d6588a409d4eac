// Text generation through the KV cache: prefill tokens/s (a batch of prompts in one forward) and
// decode tokens/s (one new token per row per step), for the tiny preset's shape or any model
// directory (e.g. the Llama-3.2-1B shape written by `colar-wgpu init --preset llama-3.2-1b`).
import * as E from '../engine/index.js';
import { Decoder } from '../colar/llama/decoder.js';
import { loadModelDir } from '../colar/llama/node_files.js';
import type { Llama } from '../colar/llama/model.js';
import { buildRunModel } from '../colar/run.js';
import { resolveConfig } from '../colar/train_config.js';
import type { BenchRecord } from './record.js';

export interface GenerationShape {
  batch: number;
  promptTokens: number;
  newTokens: number;
}

export async function benchGeneration(engine: E.Engine, modelDir?: string, shape: GenerationShape = { batch: 8, promptTokens: 64, newTokens: 16 }): Promise<BenchRecord[]> {
  const model: Llama = modelDir ? await loadModelDir(engine, modelDir) : (await buildRunModel(engine, resolveConfig('tiny', 'cot', []), false)).model;
  const { batch, promptTokens, newTokens } = shape;
  const V = model.config.vocabSize;
  const prompts = Array.from({ length: batch }, (_, b) => Array.from({ length: promptTokens }, (_, t) => (b * 7919 + t * 104729) % V));
  const run = async () => {
    const decoder = new Decoder(model, batch, promptTokens + newTokens);
    let t0 = performance.now();
    (await decoder.prompt(prompts, 0)).hidden.dispose(); // waits for the logits: the device is done
    const prefillMs = performance.now() - t0;
    t0 = performance.now();
    for (let i = 0; i < newTokens; i++) (await decoder.tokens(prompts.map((p) => p[i]), prompts.map(() => true))).hidden.dispose();
    const decodeMs = performance.now() - t0;
    decoder.dispose();
    return { prefillMs, decodeMs };
  };
  await run(); // compiles every pipeline
  const { prefillMs, decodeMs } = await run();
  model.dispose();
  const c = model.config;
  const name = modelDir ? `d=${c.hiddenSize} L=${c.numHiddenLayers} V=${V}` : `tiny d=${c.hiddenSize} L=${c.numHiddenLayers}`;
  const common = { backend: engine.backend.name, adapter: engine.backend.deviceName } as const;
  return [
    { name: 'prefill', shape: `${name} batch=${batch} prompt=${promptTokens}`, ...common, ms_median: prefillMs, tokens_per_s: (1000 * batch * promptTokens) / prefillMs },
    { name: 'decode', shape: `${name} batch=${batch} steps=${newTokens}`, ...common, ms_median: decodeMs / newTokens, tokens_per_s: (1000 * batch * newTokens) / decodeMs },
  ];
}
