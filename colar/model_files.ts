// An exported model (a Hugging Face directory, with the latent head when it has one) loaded from
// any ModelFiles source: a directory in Node (model_source.ts), fetched or dropped files in a
// page. Imports nothing from Node, so a page bundles it.

import type * as E from '../engine/index.js';
import type { PromptTokenizer } from '../datasets/prompt.js';
import { promptTokenizer } from '../datasets/vocab.js';
import type { LatentHead } from './latent_head.js';
import { loadLatentHead } from './latent_head_file.js';
import { loadLlama } from './llama/load.js';
import type { Llama } from './llama/model.js';
import { ModelDir } from './llama/model_dir.js';
import type { ModelFiles } from './llama/model_files.js';
import type { Tokenizer } from './llama/tokenizer.js';
import type { Pooling } from './sequence.js';

export { DeviceLimitError } from '../engine/device_limits.js';
export { bytesSource, filePath, memoryFiles, type ByteSource, type ModelFiles } from './llama/model_files.js';

/** What inference runs on. */
export interface InferenceModel {
  model: Llama;
  head: LatentHead | null;
  tokenizer: Tokenizer;
  prompt: PromptTokenizer;
}

export interface LoadedModelFiles {
  run: InferenceModel;
  /** how the latent head's chains were compressed in training ('sqrt', the default, without a head) */
  pooling: Pooling;
  /** the tokens that end a generated text */
  eosIds: number[];
}

export interface LoadModelFilesOptions {
  /** load weights holding NaN or infinity instead of refusing them */
  allowNonFinite?: boolean;
  /**
   * A PEFT adapter on the base (Node: `--adapter`): applied once the base is loaded; a latent
   * head among its files wins over one beside the base.
   */
  adapter?: { files: ModelFiles; apply(model: Llama): Promise<void> };
}

/**
 * The model of an exported directory, ready for inference: tokenizer checked against the model,
 * every tensor checked against the device's limits (a DeviceLimitError names the first that does
 * not fit) before the first upload, 16-bit weights kept 16-bit (inference trains nothing).
 */
export async function loadModelFiles(engine: E.Engine, files: ModelFiles, opts: LoadModelFilesOptions = {}): Promise<LoadedModelFiles> {
  const dir = await ModelDir.open(files);
  let tokenizer: Tokenizer;
  try {
    tokenizer = await dir.loadTokenizer();
  } catch (e) {
    await dir.close();
    throw e;
  }
  const eosIds = dir.eosTokenIds();
  const prompt = promptTokenizer(tokenizer, dir.tokenizerConfig?.raw ?? {});
  const model = await loadLlama(engine, dir, { frozen: true, allowNonFinite: opts.allowNonFinite });
  try {
    if (opts.adapter) await opts.adapter.apply(model);
    const found = (opts.adapter && (await loadLatentHead(engine, opts.adapter.files, model.config.hiddenSize))) ?? (await loadLatentHead(engine, files, model.config.hiddenSize));
    return { run: { model, head: found?.head ?? null, tokenizer, prompt }, pooling: found?.pooling ?? 'sqrt', eosIds };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
