// Where a model comes from. Every command that reads a model (generate, score, eval, and train's
// model.path and model.init_from) takes one of:
//   a Hugging Face model directory   config.json, weights, tokenizer files (what `export` writes)
//   the same plus a PEFT adapter     adapter_config.json + adapter_model.safetensors (`export` of a LoRA run)
//   a run directory                  run_config.json + checkpoints/ (what `train` writes)
// A latent head travels beside the adapter, or beside the weights when there is no adapter.

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as E from '../engine/index.js';
import { loadWeights } from './checkpoint.js';
import { LATENT_HEAD_WEIGHTS } from './latent_head_file.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, loadLora, mergeLora } from './llama/lora.js';
import type { Llama } from './llama/model.js';
import { CONFIG_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from './llama/model_dir.js';
import { dirFiles, loadModelDir, openModelDir, readJsonFile } from './llama/node_files.js';
import { Tokenizer } from './llama/tokenizer.js';
import { loadModelFiles, type LoadedModelFiles } from './model_files.js';
import { loadRun, readRunConfig, RUN_CONFIG, runTokenizer, type RunModel } from './run.js';
import type { TrainConfig } from './train_config.js';

export type ModelSource = { kind: 'run'; dir: string } | { kind: 'hf'; dir: string; adapter: string | null };

/** How the user named the model and the adapter, for messages: CLI flags or config keys. */
export interface SourceNames {
  model: string;
  adapter: string;
}
export const CLI_NAMES: SourceNames = { model: '--model', adapter: '--adapter' };
export const CONFIG_NAMES: SourceNames = { model: 'model.path', adapter: 'model.adapter' };

const EXPECTED = 'expected a Hugging Face model directory (config.json) or a run directory (run_config.json)';

export async function isFile(file: string): Promise<boolean> {
  return stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** Tells the three kinds apart by the files they hold; a wrong directory gets one line saying what was expected. */
export async function resolveModelSource(dir: string, adapter: string | null, names: SourceNames): Promise<ModelSource> {
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) throw new Error(`${names.model} ${dir}: no such directory; ${EXPECTED}`);
  if (adapter !== null && !(await isFile(join(adapter, ADAPTER_CONFIG_FILE)))) throw new Error(`${names.adapter} ${adapter}: not a PEFT adapter directory (no ${ADAPTER_CONFIG_FILE})`);
  if (await isFile(join(dir, RUN_CONFIG))) {
    if (adapter !== null) throw new Error(`${names.adapter} ${adapter}: ${names.model} ${dir} is a run directory, which carries its own adapters; ${names.adapter} goes with a Hugging Face model directory`);
    return { kind: 'run', dir };
  }
  if (await isFile(join(dir, CONFIG_FILE))) return { kind: 'hf', dir, adapter };
  if (await isFile(join(dir, ADAPTER_CONFIG_FILE))) throw new Error(`${names.model} ${dir}: is a PEFT adapter; give its base model with ${names.model} and the adapter with ${names.adapter}`);
  throw new Error(`${names.model} ${dir}: ${EXPECTED}`);
}

export interface LoadedModel extends LoadedModelFiles {
  run: RunModel;
  /** the run's config; null for an exported directory */
  cfg: TrainConfig | null;
}

/** The model of any source, ready for inference: adapters applied, latent head when there is one. */
export async function loadModel(engine: E.Engine, source: ModelSource, opts: { allowNonFinite?: boolean } = {}): Promise<LoadedModel> {
  if (source.kind === 'run') {
    const { cfg, run } = await loadRun(engine, source.dir);
    return { run, cfg, pooling: cfg.colar.pooling, eosIds: [run.prompt.eosId] };
  }
  const adapter = source.adapter;
  const loaded = await loadModelFiles(engine, dirFiles(source.dir), {
    allowNonFinite: opts.allowNonFinite,
    adapter: adapter === null ? undefined : { files: dirFiles(adapter), apply: async (model) => void (await loadLora(model, adapter)) },
  });
  return { ...loaded, cfg: null };
}

/** The model a training run builds on (model.path, model.adapter): adapters folded in, no head. */
export async function loadBaseModel(engine: E.Engine, source: ModelSource, opts: { frozen?: boolean } = {}): Promise<Llama> {
  if (source.kind === 'hf') {
    const model = await loadModelDir(engine, source.dir, { frozen: opts.frozen && !source.adapter });
    if (source.adapter) {
      await loadLora(model, source.adapter);
      mergeLora(model);
    }
    return model;
  }
  const { run } = await loadRun(engine, source.dir);
  mergeLora(run.model);
  for (const t of [...(run.head?.namedParameters().values() ?? []), ...(run.multiToken?.namedParameters().values() ?? [])]) t.dispose();
  return run.model;
}

/** The tokenizer of a model directory, with the JSON of tokenizer.json and tokenizer_config.json. */
export async function modelDirTokenizer(dir: string): Promise<{ tokenizer: Tokenizer; json: object; config: Record<string, unknown> }> {
  const json = (await readJsonFile(join(dir, TOKENIZER_FILE))) as object;
  const configFile = join(dir, TOKENIZER_CONFIG_FILE);
  const config = (await isFile(configFile)) ? ((await readJsonFile(configFile)) as Record<string, unknown>) : {};
  return { tokenizer: Tokenizer.fromJSON(json, join(dir, TOKENIZER_FILE)), json, config };
}

/** The tokenizer of any source (an adapter never changes it). */
export async function sourceTokenizer(source: ModelSource): Promise<{ tokenizer: Tokenizer; json: object; config: Record<string, unknown> }> {
  return source.kind === 'run' ? runTokenizer(await readRunConfig(source.dir)) : modelDirTokenizer(source.dir);
}

/**
 * model.init_from of an exported directory: copies into `into` every tensor it holds — base
 * weights of a model directory, adapters of an adapter directory, the latent head of either.
 */
export async function loadExportedWeights(dir: string, into: Map<string, E.Tensor>): Promise<number> {
  let loaded = 0;
  if (await isFile(join(dir, CONFIG_FILE))) {
    const model = await openModelDir(dir);
    try {
      for (const [name, t] of into) {
        const info = model.info(name);
        if (!info) continue;
        if (info.shape.join() !== t.shape.join()) throw new Error(`${model.path(info.file)}: tensor ${name} has shape [${info.shape}] but the model needs [${t.shape}]`);
        t.assign(await model.read(name));
        loaded++;
      }
    } finally {
      await model.close();
    }
  }
  for (const file of [ADAPTER_WEIGHTS_FILE, LATENT_HEAD_WEIGHTS]) {
    if (await isFile(join(dir, file))) loaded += await loadWeights(join(dir, file), into, { partial: true });
  }
  return loaded;
}
