// Moving a whole model from its files (Hugging Face layout, any ModelFiles source) to the device.
// Tensors stream one at a time, so host memory holds at most one tensor beyond what the device
// copies. Every tensor is checked against the device's limits before the first is uploaded.
//
// Loading is strict: the checkpoint must hold exactly the weights config.json describes, with
// their shapes, as floating-point values, and finite unless asked otherwise. Names, shapes and
// dtypes are checked from the headers before any tensor is read.

import * as E from '../../engine/index.js';
import { buildLlama, llamaWeightNames, llamaWeightShape } from './init.js';
import type { Llama } from './model.js';
import { CONFIG_FILE, type ModelDir, type ModelTensorInfo } from './model_dir.js';
import type { SafetensorsDType, TensorData } from './safetensors_reader.js';

export interface LoadModelOptions {
  /** Load weights holding NaN or infinity instead of refusing them (e.g. to inspect a diverged run). */
  allowNonFinite?: boolean;
  /**
   * The base will not train (a LoRA run, inference): its BF16 matrices stay bf16 on the device,
   * half the memory of f32 and never widened. Norms (1-D) and other dtypes load as f32.
   */
  frozen?: boolean;
}

const FLOAT_DTYPES: SafetensorsDType[] = ['F32', 'F16', 'BF16', 'F64'];

// A buffer that older transformers versions saved and recomputes from the config; it carries no weights.
const RECOMPUTED_BUFFER = /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/;

/** Refuses a checkpoint whose tensors are not exactly the weights of the model its config.json describes. */
function checkTensors(dir: ModelDir): void {
  const where = (t: ModelTensorInfo) => `${dir.path(t.file)}: tensor "${t.name}"`;
  const config = dir.path(CONFIG_FILE);
  for (const t of dir.tensors) {
    const shape = llamaWeightShape(dir.config, t.name);
    if (shape === undefined) {
      if (RECOMPUTED_BUFFER.test(t.name)) continue;
      // A tied model may still carry lm_head.weight (a copy of the embeddings).
      if (t.name === 'lm_head.weight' && dir.config.tieWordEmbeddings) continue;
      const layer = /^model\.layers\.(\d+)\./.exec(t.name);
      if (layer && Number(layer[1]) >= dir.config.numHiddenLayers) throw new Error(`${where(t)} belongs to layer ${layer[1]}, but ${config} has num_hidden_layers ${dir.config.numHiddenLayers}`);
      throw new Error(`${where(t)} is not a weight of the Llama model ${config} describes`);
    }
    if (t.shape.join() !== shape.join()) throw new Error(`${where(t)} has shape [${t.shape}], but ${config} needs [${shape}]`);
    if (!FLOAT_DTYPES.includes(t.dtype)) throw new Error(`${where(t)} has dtype ${t.dtype}; weights must be floating point (${FLOAT_DTYPES.join(', ')})`);
  }
  for (const name of llamaWeightNames(dir.config)) if (dir.info(name) === undefined) throw new Error(`${dir.files.label}: tensor "${name}" is missing (${config} needs it)`);
}

/** The index of the first NaN or ±Infinity in `values`, or -1. */
export function firstNonFinite(values: TensorData): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/** bf16 words whose exponent is all ones are NaN or ±Infinity. */
function firstNonFiniteBf16(bits: Uint16Array): number {
  return bits.findIndex((b) => (b & 0x7f80) === 0x7f80);
}

/** The model of an opened directory on the engine's device; closes the directory. */
export async function loadLlama(engine: E.Engine, dir: ModelDir, options: LoadModelOptions = {}): Promise<Llama> {
  const weights = new Map<string, E.Tensor>();
  const keeps16 = (info: ModelTensorInfo) => options.frozen === true && info.dtype === 'BF16' && info.shape.length === 2;
  try {
    checkTensors(dir);
    // what the model does not use (a tied model's lm_head copy) is never read
    const used = dir.tensors.filter((info) => llamaWeightShape(dir.config, info.name) !== undefined);
    E.checkModelFits(engine, used.map((info) => ({ where: `${dir.path(info.file)}: tensor "${info.name}"`, shape: info.shape, dtype: keeps16(info) ? 'bf16' : 'f32' })));
    for (const info of used) {
      const nonFinite = (at: number, value: number) => new Error(`${dir.path(info.file)}: tensor "${info.name}" holds ${value} at element ${at}; weights must be finite`);
      if (keeps16(info)) {
        const bits = await dir.readBf16Bits(info.name);
        const bad = options.allowNonFinite ? -1 : firstNonFiniteBf16(bits);
        if (bad >= 0) throw nonFinite(bad, new Float32Array(new Uint32Array([bits[bad] << 16]).buffer)[0]);
        weights.set(info.name, E.keep(engine.tensor(bits, info.shape, 'bf16')));
        continue;
      }
      const data = await dir.read(info.name);
      const bad = options.allowNonFinite ? -1 : firstNonFinite(data);
      if (bad >= 0) throw nonFinite(bad, data[bad]);
      weights.set(info.name, E.keep(engine.tensor(data, info.shape)));
    }
    return buildLlama(engine, dir.config, (name) => weights.get(name)!);
  } catch (e) {
    for (const t of weights.values()) t.dispose();
    throw e;
  } finally {
    await dir.close();
  }
}
