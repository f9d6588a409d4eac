// The latent head beside an exported model: latent_head.safetensors (tensors under the
// checkpoint names, latent_head.w1 …) and latent_head.json, what inference needs to rebuild it:
//   {"hidden_size", "intermediate_size", "embed_std", "pooling", "layer_norm_eps", "activation"}
// Read from any ModelFiles source; writing is Node's (latent_head_write.ts).

import * as E from '../engine/index.js';
import { LatentHead } from './latent_head.js';
import { filePath, type ModelFiles, openFile, readJson } from './llama/model_files.js';
import { readTensorsInto, SafetensorsReader } from './llama/safetensors_reader.js';
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

/** latent_head.json of the source, validated. */
export async function readLatentHeadConfig(files: ModelFiles): Promise<LatentHeadConfig> {
  const file = filePath(files, LATENT_HEAD_CONFIG);
  const json = (await readJson(files, LATENT_HEAD_CONFIG)) as Record<string, unknown> | undefined;
  if (json === undefined) throw new Error(`${file}: cannot read: no such file`);
  const positive = (key: string) => {
    if (typeof json?.[key] !== 'number' || !((json[key] as number) > 0)) throw new Error(`${file}: field ${key} must be a positive number`);
  };
  ['hidden_size', 'intermediate_size', 'embed_std'].forEach(positive);
  if (json.pooling !== 'sqrt' && json.pooling !== 'mean') throw new Error(`${file}: field pooling must be "sqrt" or "mean"`);
  return json as unknown as LatentHeadConfig;
}

/** The head the source holds, for a model of the given hidden size; null when it holds none. */
export async function loadLatentHead(engine: E.Engine, files: ModelFiles, hiddenSize: number): Promise<{ head: LatentHead; pooling: Pooling } | null> {
  const source = await openFile(files, LATENT_HEAD_WEIGHTS);
  if (!source) return null;
  const weights = await SafetensorsReader.open(source, filePath(files, LATENT_HEAD_WEIGHTS));
  try {
    const config = await readLatentHeadConfig(files);
    if (config.hidden_size !== hiddenSize) throw new Error(`${filePath(files, LATENT_HEAD_CONFIG)}: hidden_size ${config.hidden_size} does not match the model's ${hiddenSize}`);
    const head = LatentHead.init(engine, hiddenSize, config.intermediate_size, config.embed_std, new E.Rng(0));
    E.checkModelFits(engine, [...head.namedParameters()].map(([name, t]) => ({ where: `${weights.path}: tensor "${name}"`, shape: t.shape, dtype: t.dtype })));
    await readTensorsInto(weights, head.namedParameters());
    return { head, pooling: config.pooling };
  } finally {
    await weights.close();
  }
}
