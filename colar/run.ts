// A training run's pieces, built from its resolved config: tokenizer, datasets, model (fresh,
// from a Hugging Face directory, or from an earlier run), LoRA, latent head. The run directory
// keeps run_config.json beside its checkpoints, so eval needs only it; `export` turns it into a
// Hugging Face model directory or a PEFT adapter.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as E from '../engine/index.js';
import { loadRecords } from '../datasets/load.js';
import type { PromptTokenizer } from '../datasets/prompt.js';
import type { QsaRecord } from '../datasets/record.js';
import type { Split } from '../datasets/split.js';
import { arithmeticDataset } from '../datasets/synthetic.js';
import { promptTokenizer, syntheticTokenizerFiles } from '../datasets/vocab.js';
import { withFileError, writeFileAtomic } from '../io/files.js';
import { latestCheckpoint, loadWeights, WEIGHTS } from './checkpoint.js';
import { embeddingStd, LatentHead } from './latent_head.js';
import { readLatentHeadConfig } from './latent_head_file.js';
import { MultiTokenHeads } from './multi_token.js';
import { parseLlamaConfig, toHF, type LlamaConfig } from './llama/config.js';
import { initLlama } from './llama/init.js';
import { ADAPTER_CONFIG_FILE, applyLora, loraParameters } from './llama/lora.js';
import type { Llama } from './llama/model.js';
import { CONFIG_FILE, checkTokenizerFitsModel } from './llama/model_dir.js';
import { dirFiles } from './llama/node_files.js';
import { Tokenizer } from './llama/tokenizer.js';
import type { InferenceModel } from './model_files.js';
import { CONFIG_NAMES, isFile, loadBaseModel, loadExportedWeights, resolveModelSource, sourceTokenizer } from './model_source.js';
import { arithmeticOptions, normalizeRunConfig, type TrainConfig } from './train_config.js';

export interface RunModel extends InferenceModel {
  /** the CoT stage's auxiliary heads (train.multi_token > 1), for training and resume only */
  multiToken?: MultiTokenHeads;
}

export const RUN_CONFIG = 'run_config.json';

/** model.path and model.adapter as a model source. */
const baseSource = (cfg: TrainConfig) => resolveModelSource(cfg.model.path!, cfg.model.adapter ?? null, CONFIG_NAMES);

/** The run's tokenizer: the synthetic task's own, or that of the model it builds on. */
export async function runTokenizer(cfg: TrainConfig): Promise<{ tokenizer: Tokenizer; json: object; config: Record<string, unknown> }> {
  if (cfg.model.path) return sourceTokenizer(await baseSource(cfg));
  const files = syntheticTokenizerFiles(cfg.data.numbers);
  return { tokenizer: Tokenizer.fromJSON(files.tokenizer, 'synthetic tokenizer'), json: files.tokenizer, config: files.config };
}

/** A split of the built-in task as the run configures it. */
export function syntheticDataset(cfg: TrainConfig, split: Split, n: number): QsaRecord[] {
  return arithmeticDataset(split, n, cfg.seed, arithmeticOptions(cfg.data.arithmetic));
}

/** Train and validation records: the synthetic task, or dataset files. */
export async function runDatasets(cfg: TrainConfig): Promise<{ train: QsaRecord[]; val: QsaRecord[] }> {
  const load = async (spec: string, split: 'train' | 'val', n: number) => {
    if (spec === 'synthetic') return syntheticDataset(cfg, split, n);
    const { records } = await loadRecords(spec, { format: cfg.data.format ?? undefined });
    return n > 0 ? records.slice(0, n) : records;
  };
  return { train: await load(cfg.data.train, 'train', cfg.data.n_train), val: await load(cfg.data.val, 'val', cfg.data.n_val) };
}

/** The model a preset builds from its sizes (model.preset tiny, small): what `init` writes too. */
export function freshModelConfig(cfg: TrainConfig, tokenizer: Tokenizer, prompt: Pick<PromptTokenizer, 'eosId' | 'padId'>): LlamaConfig {
  const m = cfg.model;
  if (m.hidden_size % m.heads !== 0) throw new Error(`config model.hidden_size ${m.hidden_size} is not a multiple of model.heads ${m.heads}`);
  return parseLlamaConfig(
    toHF({
      vocabSize: tokenizer.vocabSize, hiddenSize: m.hidden_size, intermediateSize: m.intermediate_size,
      numHiddenLayers: m.layers, numAttentionHeads: m.heads, numKeyValueHeads: m.kv_heads, headDim: m.hidden_size / m.heads,
      rmsNormEps: 1e-5, ropeTheta: 10000, maxPositionEmbeddings: 2048, tieWordEmbeddings: true,
      eosTokenId: prompt.eosId, padTokenId: prompt.padId, torchDtype: 'float32',
    }),
    'tiny preset',
  );
}

/** Named trainable tensors of a run: what checkpoints hold. */
export function checkpointTensors(run: RunModel, cfg: TrainConfig): Map<string, E.Tensor> {
  const m = new Map<string, E.Tensor>();
  if (!cfg.lora.enabled) for (const [n, t] of run.model.namedParameters()) m.set(n, t);
  else for (const [n, t] of loraParameters(run.model, cfg.lora.target_modules)) m.set(n, t);
  if (run.head) for (const [n, t] of run.head.namedParameters()) m.set(n, t);
  if (run.multiToken) for (const [n, t] of run.multiToken.namedParameters()) m.set(n, t);
  return m;
}

/**
 * Builds the run's model. A fresh run initialises (tiny) or loads (model.path) the base, then
 * takes weights from model.init_from when given; `withHead` adds the latent head. The head's
 * embedding std is the method's constant for the model it starts from: colar.embed_std when
 * set, else the init_from run's, else measured on the embeddings just loaded; it is written back
 * into cfg, so the saved run config pins it for eval and later stages.
 */
export async function buildRunModel(engine: E.Engine, cfg: TrainConfig, withHead: boolean): Promise<RunModel> {
  const { tokenizer, config: tokConfig } = await runTokenizer(cfg);
  const prompt = promptTokenizer(tokenizer, tokConfig);
  const rng = new E.Rng(cfg.seed);
  // a LoRA run freezes the base: its 16-bit weights stay 16-bit
  const model = cfg.model.path ? await loadBaseModel(engine, await baseSource(cfg), { frozen: cfg.lora.enabled }) : initLlama(engine, freshModelConfig(cfg, tokenizer, prompt), rng);
  if (cfg.model.path) checkTokenizerFitsModel(tokenizer, model.config, cfg.model.path);
  if (cfg.lora.enabled) applyLora(model, { r: cfg.lora.r, alpha: cfg.lora.alpha, dropout: cfg.lora.dropout, targetModules: cfg.lora.target_modules }, rng);
  const run: RunModel = { model, head: null, tokenizer, prompt };
  if ((cfg.train.multi_token ?? 1) > 1) run.multiToken = MultiTokenHeads.init(engine, model.config.hiddenSize, cfg.train.multi_token);
  if (cfg.model.init_from) await loadInitFrom(cfg.model.init_from, new Map([...model.namedParameters(), ...checkpointTensors(run, cfg)]), true);
  if (withHead) {
    const parent = cfg.model.init_from ? await readRunConfig(cfg.model.init_from).catch(() => null) : null;
    const exportedHead = cfg.model.init_from && !parent ? await readLatentHeadConfig(dirFiles(cfg.model.init_from)).catch(() => null) : null;
    cfg.colar.embed_std ??= parent?.colar.embed_std ?? exportedHead?.embed_std ?? (await embeddingStd(model.embedTokens));
    run.head = LatentHead.init(engine, model.config.hiddenSize, cfg.colar.head_intermediate, cfg.colar.embed_std, rng);
    if (cfg.model.init_from) await loadInitFrom(cfg.model.init_from, run.head.namedParameters(), false);
  }
  return run;
}

/**
 * Takes every tensor of `into` that a run, a checkpoint directory or an exported directory
 * holds. A LoRA run's checkpoints hold only its adapters and head, so its base comes from its own
 * init_from first.
 */
async function loadInitFrom(dir: string, into: Map<string, E.Tensor>, required: boolean): Promise<number> {
  const exported = (await isFile(join(dir, CONFIG_FILE))) || (await isFile(join(dir, ADAPTER_CONFIG_FILE)));
  if (exported && !(await isFile(join(dir, RUN_CONFIG)))) {
    const n = await loadExportedWeights(dir, into);
    if (required && n === 0) throw new Error(`model.init_from ${dir}: no tensor of this model's in the directory (another architecture or adapter targets?)`);
    return n;
  }
  if (!(await isFile(join(dir, RUN_CONFIG))) && !(await isFile(join(dir, WEIGHTS)))) {
    throw new Error(`model.init_from ${dir}: expected a run directory (${RUN_CONFIG}), a checkpoint (${WEIGHTS}), or a model or adapter directory written by export (${CONFIG_FILE} / ${ADAPTER_CONFIG_FILE})`);
  }
  const parent = await readRunConfig(dir).catch(() => null);
  const inherited = parent?.lora.enabled && parent.model.init_from ? await loadInitFrom(parent.model.init_from, into, false) : 0;
  const ckpt = (await bestOrLatest(dir)) ?? (parent ? null : dir);
  if (!ckpt) throw new Error(`model.init_from ${dir}: the run has no checkpoint yet`);
  const n = inherited + (await loadWeights(join(ckpt, WEIGHTS), into, { partial: true }));
  if (required && n === 0) throw new Error(`model.init_from ${dir}: no matching tensors in ${ckpt}`);
  return n;
}

/** A run's best checkpoint when it has one, else its latest; null for a plain checkpoint dir. */
export async function bestOrLatest(runDir: string): Promise<string | null> {
  const best = join(runDir, 'checkpoints', 'best');
  try {
    await readFile(join(best, 'state.json'));
    return best;
  } catch {
    return latestCheckpoint(runDir);
  }
}

/** Writes run_config.json into the run directory: with the checkpoints, all eval and export need. */
export async function writeRunFiles(runDir: string, cfg: TrainConfig): Promise<void> {
  await writeFileAtomic(join(runDir, RUN_CONFIG), JSON.stringify(cfg, null, 2) + '\n');
}

/** A run's saved config, brought to the current shape and checked (normalizeRunConfig). */
export async function readRunConfig(runDir: string): Promise<TrainConfig> {
  const file = join(runDir, RUN_CONFIG);
  const text = await withFileError('read', file, () => readFile(file, 'utf8'));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  return normalizeRunConfig(json, file);
}

/** The trained model of a run directory (its best checkpoint, else its latest), for eval. */
export async function loadRun(engine: E.Engine, runDir: string): Promise<{ cfg: TrainConfig; run: RunModel }> {
  const cfg = await readRunConfig(runDir);
  const ckpt = await bestOrLatest(runDir);
  if (!ckpt) throw new Error(`${runDir}: the run has no checkpoint yet`);
  // a LoRA run's base comes from the run it started from; anything else is all in its checkpoint
  const run = await buildRunModel(engine, { ...cfg, model: { ...cfg.model, init_from: cfg.lora.enabled ? cfg.model.init_from : null } }, cfg.stage === 'colar' || cfg.stage === 'rl');
  await loadWeights(join(ckpt, WEIGHTS), checkpointTensors(run, cfg));
  return { cfg, run };
}
