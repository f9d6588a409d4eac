// Writing a Hugging Face model directory (the layout model_dir.ts reads) in Node: config,
// weights (sharded with an index when large), tokenizer files, generation config; every file
// atomically.

import { readFile, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { makeDir, withFileError, writeFileAtomic } from '../../io/files.js';
import { type GenerationConfig, type LlamaConfig, generationConfigToHF, parseLlamaConfig, toHF } from './config.js';
import type { Llama } from './model.js';
import { CONFIG_FILE, GENERATION_CONFIG_FILE, SHARD_NAME, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE, WEIGHTS_INDEX_FILE } from './model_dir.js';
import { readJsonFile } from './node_files.js';
import { type TensorToWrite, writeSafetensors } from './safetensors.js';
import { Tokenizer } from './tokenizer.js';

const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000; // transformers' long-standing default, "5GB"

export interface ModelDirContents {
  config: LlamaConfig;
  /** written in this order; `data` may be a function so tensors are produced one at a time */
  tensors: TensorToWrite[];
  /** on-disk type of floating-point tensors (integer tensors stay I32); default F32 */
  floatDType?: 'F32' | 'BF16' | 'F16';
  /** a tokenizer.json: a path to copy, or its parsed JSON */
  tokenizer?: string | object;
  /** written as is; by default a minimal one naming the BOS/EOS/pad tokens, when a tokenizer is given */
  tokenizerConfig?: Record<string, unknown>;
  /** default: BOS/EOS/pad ids from the config */
  generationConfig?: GenerationConfig;
  /** a checkpoint above this size is split into shards with an index; default 5 GB */
  maxShardBytes?: number;
}

const TORCH_DTYPE = { F32: 'float32', BF16: 'bfloat16', F16: 'float16' } as const;
const BYTES_PER_ELEMENT = { F32: 4, BF16: 2, F16: 2, I32: 4 } as const;

const json = (value: unknown) => JSON.stringify(value, null, 2) + '\n';

/**
 * Writes a model directory that transformers' from_pretrained loads (config, weights — sharded
 * with an index when large — tokenizer files, generation config). Each file is written atomically;
 * weight files left over from an earlier save in a different layout are removed afterwards.
 */
export async function writeModelDir(dir: string, contents: ModelDirContents): Promise<void> {
  const floatDType = contents.floatDType ?? 'F32';
  const config: LlamaConfig = { ...contents.config, torchDtype: TORCH_DTYPE[floatDType] };
  parseLlamaConfig(toHF(config), `writeModelDir ${dir}: config`);
  const tensors = contents.tensors.map((t) => ({ ...t, dtype: t.dtype ?? (t.data instanceof Int32Array ? ('I32' as const) : floatDType) }));

  let tokenizer: Tokenizer | undefined;
  let tokenizerJSON: unknown;
  if (contents.tokenizer !== undefined) {
    // Validate before writing anything, so a bad tokenizer cannot leave a half-written directory.
    const source = typeof contents.tokenizer === 'string' ? contents.tokenizer : TOKENIZER_FILE;
    tokenizerJSON = typeof contents.tokenizer === 'string' ? await readJsonFile(contents.tokenizer) : contents.tokenizer;
    tokenizer = Tokenizer.fromJSON(tokenizerJSON, source);
    const ids = [config.bosTokenId, config.padTokenId, ...[config.eosTokenId].flat()].filter((id) => id !== undefined);
    for (const id of ids) if (id >= tokenizer.vocabSize) throw new Error(`writeModelDir ${dir}: token id ${id} in the config is outside the tokenizer's vocabulary (${tokenizer.vocabSize})`);
    if (config.vocabSize < tokenizer.vocabSize) throw new Error(`writeModelDir ${dir}: config vocab_size ${config.vocabSize} is smaller than the tokenizer's ${tokenizer.vocabSize}`);
  }

  await makeDir(dir);

  // Greedy sharding in the given order, as transformers does.
  const maxShardBytes = contents.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  const shards: (typeof tensors)[] = [[]];
  let shardBytes = 0;
  let totalBytes = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[t.dtype];
    if (shardBytes > 0 && shardBytes + bytes > maxShardBytes) {
      shards.push([]);
      shardBytes = 0;
    }
    shards[shards.length - 1].push(t);
    shardBytes += bytes;
    totalBytes += bytes;
  }
  const shardName = (i: number) => (shards.length === 1 ? WEIGHTS_FILE : `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`);

  // Writes go to the final names only through atomic renames, so a crash leaves old or new files, never torn ones.
  const written = new Set<string>();
  for (let i = 0; i < shards.length; i++) {
    await writeSafetensors(path.join(dir, shardName(i)), shards[i], { format: 'pt' });
    written.add(shardName(i));
  }
  if (shards.length > 1) {
    const weightMap: Record<string, string> = {};
    shards.forEach((shard, i) => shard.forEach((t) => (weightMap[t.name] = shardName(i))));
    const sortedMap = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    await writeFileAtomic(path.join(dir, WEIGHTS_INDEX_FILE), json({ metadata: { total_size: totalBytes }, weight_map: sortedMap }));
    written.add(WEIGHTS_INDEX_FILE);
  }
  await writeFileAtomic(path.join(dir, CONFIG_FILE), json(toHF(config)));
  const generation = contents.generationConfig ?? {
    ...(config.bosTokenId !== undefined && { bosTokenId: config.bosTokenId }),
    eosTokenId: config.eosTokenId,
    ...(config.padTokenId !== undefined && { padTokenId: config.padTokenId }),
  };
  await writeFileAtomic(path.join(dir, GENERATION_CONFIG_FILE), json(generationConfigToHF(generation)));

  if (tokenizer) {
    if (typeof contents.tokenizer === 'string') {
      const source = contents.tokenizer;
      await writeFileAtomic(path.join(dir, TOKENIZER_FILE), await withFileError('read', source, () => readFile(source)));
    } else {
      await writeFileAtomic(path.join(dir, TOKENIZER_FILE), JSON.stringify(tokenizerJSON));
    }
    await writeFileAtomic(path.join(dir, TOKENIZER_CONFIG_FILE), json(contents.tokenizerConfig ?? defaultTokenizerConfig(config, tokenizer)));
  }

  // Remove weights of an earlier save that this layout does not use (e.g. old shards).
  for (const name of await withFileError('read directory', dir, () => readdir(dir))) {
    const isWeights = name === WEIGHTS_FILE || name === WEIGHTS_INDEX_FILE || SHARD_NAME.test(name);
    if (isWeights && !written.has(name)) await withFileError('remove', path.join(dir, name), () => unlink(path.join(dir, name)));
  }
}

/** What transformers needs to build a fast tokenizer from tokenizer.json, and the special tokens by name. */
function defaultTokenizerConfig(config: LlamaConfig, tokenizer: Tokenizer): Record<string, unknown> {
  const name = (id: number | undefined) => (id === undefined ? undefined : tokenizer.idToToken(id));
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    // We decode exactly; transformers' default clean-up would rewrite " ." into ".".
    clean_up_tokenization_spaces: false,
    model_input_names: ['input_ids', 'attention_mask'],
    model_max_length: config.maxPositionEmbeddings,
  };
  const bos = name(config.bosTokenId);
  const eos = name([config.eosTokenId].flat()[0]);
  const pad = name(config.padTokenId);
  if (bos !== undefined) tokenizerConfig.bos_token = bos;
  if (eos !== undefined) tokenizerConfig.eos_token = eos;
  if (pad !== undefined) tokenizerConfig.pad_token = pad;
  return tokenizerConfig;
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
