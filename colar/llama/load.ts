// Moving whole models between disk (Hugging Face layout) and the device. Tensors stream one at
// a time, so host memory holds at most one tensor beyond what the device copies.

import * as E from '../../engine/index.js';
import { buildLlama } from './init.js';
import type { Llama } from './model.js';
import { ModelDir, type ModelDirContents, type ModelTensorInfo, writeModelDir } from './model_dir.js';

export interface LoadOptions {
  /**
   * The base will not train (a LoRA run, inference): its BF16 matrices stay bf16 on the device,
   * half the memory of f32 and never widened. Norms (1-D) and other dtypes load as f32.
   */
  frozen?: boolean;
}

export async function loadModelDir(engine: E.Engine, path: string, opts: LoadOptions = {}): Promise<Llama> {
  const dir = await ModelDir.open(path);
  const keeps16 = (info: ModelTensorInfo) => opts.frozen === true && info.dtype === 'BF16' && info.shape.length === 2;
  try {
    const weights = new Map<string, E.Tensor>();
    for (const info of dir.tensors) {
      const t = keeps16(info) ? engine.tensor(await dir.readBf16Bits(info.name), info.shape, 'bf16') : engine.tensor(await dir.read(info.name), info.shape);
      weights.set(info.name, E.keep(t));
    }
    const model = buildLlama(engine, dir.config, (name, shape) => {
      const t = weights.get(name);
      if (!t) throw new Error(`${path}: tensor ${name} is missing`);
      if (t.shape.join() !== shape.join()) throw new Error(`${path}: tensor ${name} has shape [${t.shape}], expected [${shape}]`);
      weights.delete(name);
      return t;
    });
    // a checkpoint that ties embeddings may still carry lm_head.weight; extra tensors are dropped
    for (const t of weights.values()) t.dispose();
    return model;
  } finally {
    await dir.close();
  }
}

/**
 * Writes config.json, the weights (in `floatDType`, default F32) and the tokenizer files; LoRA
 * adapters must be merged first. `tokenizer` is a tokenizer.json path to copy or its parsed JSON.
 */
export async function saveModelDir(model: Llama, path: string, tokenizer: string | object, tokenizerConfig?: Record<string, unknown>, floatDType?: ModelDirContents['floatDType']): Promise<void> {
  const tensors = [...model.namedParameters()].map(([name, t]) => ({
    name,
    shape: [...t.shape],
    data: () => t.float32(),
  }));
  await writeModelDir(path, { config: model.config, tensors, tokenizer, tokenizerConfig, floatDType });
}
