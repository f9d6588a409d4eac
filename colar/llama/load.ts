// Moving whole models between disk (Hugging Face layout) and the device. Tensors stream one at
// a time, so host memory holds at most one tensor beyond what the device copies.

import * as E from '../../engine/index.js';
import { buildLlama } from './init.js';
import type { Llama } from './model.js';
import { ModelDir, type ModelDirContents, writeModelDir } from './model_dir.js';

export async function loadModelDir(engine: E.Engine, path: string): Promise<Llama> {
  const dir = await ModelDir.open(path);
  try {
    const weights = new Map<string, E.Tensor>();
    for await (const { info, data } of dir.stream()) weights.set(info.name, E.keep(engine.tensor(data, info.shape)));
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
