// A run directory made into what other tools load (the run's best checkpoint, else its latest):
//   full fine-tuning, or LoRA with merge   a Hugging Face model directory, weights in the base's dtype
//                                          (as PEFT's merge_and_unload keeps it) or the one asked for:
//                                          float32 holds W + alpha/r · B·A exactly, bf16 rounds it
//   LoRA                                   a PEFT adapter (adapter_config.json, adapter_model.safetensors)
//                                          on its base: the Hugging Face directory the run read, or,
//                                          when the run's base was never one on disk (a fresh or an
//                                          earlier run's model), base_model/ written beside it
// and a CoLaR run's latent head as latent_head.safetensors + latent_head.json (latent_head_file.ts).

import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type * as E from '../engine/index.js';
import { refuseNonEmptyDir, refuseOutputOverInput, withFileError } from '../io/files.js';
import { LATENT_HEAD_CONFIG, LATENT_HEAD_WEIGHTS } from './latent_head_file.js';
import { saveLatentHead } from './latent_head_write.js';
import type { LlamaConfig } from './llama/config.js';
import { saveModelDir } from './llama/model_dir_write.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, mergeLora, saveLora, type LoraConfig } from './llama/lora.js';
import type { Llama } from './llama/model.js';
import { CONFIG_NAMES, resolveModelSource } from './model_source.js';
import { loadRun, readRunConfig, runTokenizer } from './run.js';
import type { TrainConfig } from './train_config.js';

/** Where the base of an unmerged LoRA export goes when the run's base is not a model directory already. */
export const BASE_SUBDIR = 'base_model';

export interface ExportOptions {
  /** fold a LoRA run's adapters into the base and write a plain model */
  merge: boolean;
  /** write into a non-empty directory, replacing what an earlier export left there */
  overwrite: boolean;
  /** a model export's weight dtype; default the base's */
  dtype?: ModelDType;
}

export type ModelDType = 'F32' | 'BF16' | 'F16';

export interface ExportResult {
  kind: 'model' | 'adapter';
  /** the adapter's base model directory */
  base?: string;
  head: boolean;
}

export async function exportRun(engine: E.Engine, runDir: string, out: string, opts: ExportOptions): Promise<ExportResult> {
  refuseOutputOverInput(out, [runDir]);
  if (!opts.overwrite) await refuseNonEmptyDir(out);
  if (opts.dtype && !opts.merge && (await readRunConfig(runDir)).lora.enabled) {
    throw new Error(`${runDir}: a LoRA run exports an adapter, in float32; a dtype (${opts.dtype}) applies with merge, which writes a model`);
  }
  const { cfg, run } = await loadRun(engine, runDir);
  const lora: LoraConfig | null = cfg.lora.enabled ? { r: cfg.lora.r, alpha: cfg.lora.alpha, dropout: cfg.lora.dropout, targetModules: cfg.lora.target_modules } : null;
  let result: ExportResult;
  if (!lora || opts.merge) {
    mergeLora(run.model);
    await writeModel(run.model, cfg, out, opts.dtype);
    result = { kind: 'model', head: run.head !== null };
  } else {
    let base = await modelDirBase(cfg);
    if (!base) {
      base = join(out, BASE_SUBDIR);
      await writeModel(run.model, cfg, base); // the adapters stay apart: the weights are the base's
    }
    await saveLora(run.model, lora, out, base);
    result = { kind: 'adapter', base, head: run.head !== null };
  }
  if (run.head) await saveLatentHead(out, run.head, cfg.colar.pooling);
  await removeStaleFiles(out, result);
  return result;
}

const DTYPES: Record<NonNullable<LlamaConfig['torchDtype']>, ModelDType> = { float32: 'F32', bfloat16: 'BF16', float16: 'F16' };

async function writeModel(model: Llama, cfg: TrainConfig, dir: string, dtype?: ModelDType): Promise<void> {
  const { json, config } = await runTokenizer(cfg);
  await saveModelDir(model, dir, json, config, dtype ?? DTYPES[model.config.torchDtype ?? 'float32']);
}

/**
 * The Hugging Face directory holding a LoRA run's base as it trained on it, or null: model.path
 * with no adapter folded in, and no init_from other than LoRA runs on that same base (their
 * checkpoints hold adapters, never base weights).
 */
async function modelDirBase(cfg: TrainConfig): Promise<string | null> {
  if (!cfg.model.path || cfg.model.adapter) return null;
  if ((await resolveModelSource(cfg.model.path, null, CONFIG_NAMES)).kind !== 'hf') return null;
  if (!cfg.model.init_from) return cfg.model.path;
  const parent = await readRunConfig(cfg.model.init_from).catch(() => null);
  return parent?.lora.enabled && parent.model.path === cfg.model.path && (await modelDirBase(parent)) ? cfg.model.path : null;
}

const MODEL_FILE = /^(config\.json|generation_config\.json|tokenizer\.json|tokenizer_config\.json|model\.safetensors|model\.safetensors\.index\.json|model-\d{5}-of-\d{5}\.safetensors)$/;
const ADAPTER_FILES = new Set([ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE]);
const HEAD_FILES = new Set([LATENT_HEAD_WEIGHTS, LATENT_HEAD_CONFIG]);

/** With --overwrite: removes the files an earlier export of another kind left, so the directory reads as this one. */
async function removeStaleFiles(out: string, result: ExportResult): Promise<void> {
  const stale = (name: string) => (result.kind === 'model' ? ADAPTER_FILES.has(name) : MODEL_FILE.test(name)) || (!result.head && HEAD_FILES.has(name));
  for (const name of await withFileError('read directory', out, () => readdir(out))) {
    if (stale(name)) await withFileError('remove', join(out, name), () => unlink(join(out, name)));
  }
}
