// The latent head beside an exported model: latent_head.safetensors (tensors under the
// checkpoint names, latent_head.w1 …) and latent_head.json, what inference needs to rebuild it:
//   {"hidden_size", "intermediate_size", "embed_std", "pooling", "layer_norm_eps", "activation"}

import { join } from 'node:path';
import * as E from '../engine/index.js';
import { writeFileAtomic } from '../io/files.js';
import { loadWeights } from './checkpoint.js';
import { LatentHead } from './latent_head.js';
import { readJsonFile } from './llama/config.js';
import { writeSafetensors } from './llama/safetensors.js';
import type { Pooling } from './sequence.js';

export const LATENT_HEAD_WEIGHTS = 'latent_head.safetensors';
export const LATENT_HEAD_CONFIG = 'latent_head.json';

export interface LatentHeadConfig {
  hidden_size: number;
  intermediate_size: number;
  /** the latent space's unit: the head predicts embeddings / embed_std */
  embed_std: number;
  /** how c token embeddings are compressed into one latent */
  pooling: Pooling;
  layer_norm_eps: number;
  activation: 'gelu';
}

export async function saveLatentHead(dir: string, head: LatentHead, pooling: Pooling): Promise<void> {
  const params = head.namedParameters();
  await writeSafetensors(join(dir, LATENT_HEAD_WEIGHTS), [...params].map(([name, t]) => ({ name, shape: [...t.shape], data: () => t.float32() })), { format: 'pt' });
  const config: LatentHeadConfig = {
    hidden_size: head.params.wMean.shape[0],
    intermediate_size: head.params.w1.shape[0],
    embed_std: head.embedStd,
    pooling,
    layer_norm_eps: 1e-5,
    activation: 'gelu',
  };
  await writeFileAtomic(join(dir, LATENT_HEAD_CONFIG), JSON.stringify(config, null, 2) + '\n');
}

export async function readLatentHeadConfig(dir: string): Promise<LatentHeadConfig> {
  const file = join(dir, LATENT_HEAD_CONFIG);
  const json = (await readJsonFile(file)) as Record<string, unknown>;
  const positive = (key: string) => {
    if (typeof json?.[key] !== 'number' || !((json[key] as number) > 0)) throw new Error(`${file}: field ${key} must be a positive number`);
  };
  ['hidden_size', 'intermediate_size', 'embed_std'].forEach(positive);
  if (json.pooling !== 'sqrt' && json.pooling !== 'mean') throw new Error(`${file}: field pooling must be "sqrt" or "mean"`);
  return json as unknown as LatentHeadConfig;
}

/** The head saved in `dir`, for a model of the given hidden size. */
export async function loadLatentHead(engine: E.Engine, dir: string, hiddenSize: number): Promise<{ head: LatentHead; pooling: Pooling }> {
  const config = await readLatentHeadConfig(dir);
  if (config.hidden_size !== hiddenSize) throw new Error(`${join(dir, LATENT_HEAD_CONFIG)}: hidden_size ${config.hidden_size} does not match the model's ${hiddenSize}`);
  const head = LatentHead.init(engine, hiddenSize, config.intermediate_size, config.embed_std, new E.Rng(0));
  await loadWeights(join(dir, LATENT_HEAD_WEIGHTS), head.namedParameters());
  return { head, pooling: config.pooling };
}
