// A Hugging Face model directory, the layout transformers reads and writes:
//   config.json                         the architecture (see config.ts)
//   model.safetensors                   the weights, or, when sharded,
//   model-00001-of-0000N.safetensors    the shards, with
//   model.safetensors.index.json        {"metadata": {"total_size"}, "weight_map": {tensor: shard}}
//   tokenizer.json                      the tokenizer (see tokenizer.ts)
//   tokenizer_config.json               optional: special-token names, chat template
//   generation_config.json              optional: stop tokens and sampling defaults
// Opening reads only the JSON files and the safetensors headers; tensors are then read one at a
// time, so a model streams to the device without ever being whole in host memory.

import { readFile, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { makeDir, withFileError, writeFileAtomic } from '../../io/files.js';
import { type GenerationConfig, type LlamaConfig, generationConfigToHF, parseLlamaConfig, readGenerationConfig, readJsonFile, readLlamaConfig, toHF } from './config.js';
import { SafetensorsFile, type TensorData, type TensorInfo, type TensorToWrite, writeSafetensors } from './safetensors.js';
import { Tokenizer } from './tokenizer.js';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';
export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
export const GENERATION_CONFIG_FILE = 'generation_config.json';

const SHARD_NAME = /^model-\d{5}-of-\d{5}\.safetensors$/;
const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000; // transformers' long-standing default, "5GB"

/** The parts of tokenizer_config.json that matter outside transformers' Python classes. */
export interface TokenizerConfig {
  bosToken?: string;
  eosToken?: string;
  padToken?: string;
  chatTemplate?: string;
  modelMaxLength?: number;
  /** the whole file, for anything else */
  raw: Record<string, unknown>;
}

export interface ModelTensorInfo extends TensorInfo {
  /** the safetensors file holding it, relative to the directory */
  file: string;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** Validates a parsed tokenizer_config.json. Special tokens may be strings or AddedToken objects. */
export function parseTokenizerConfig(json: unknown, source = TOKENIZER_CONFIG_FILE): TokenizerConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${source}: expected a JSON object at the top level`);
  const raw = json as Record<string, unknown>;
  const token = (field: string): string | undefined => {
    const v = raw[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    const content = (v as Record<string, unknown>)?.content;
    if (typeof content === 'string') return content;
    throw new Error(`${source}: field "${field}" must be a string or an object with a string "content" (got ${JSON.stringify(v)})`);
  };
  const config: TokenizerConfig = { raw };
  const bos = token('bos_token');
  const eos = token('eos_token');
  const pad = token('pad_token');
  if (bos !== undefined) config.bosToken = bos;
  if (eos !== undefined) config.eosToken = eos;
  if (pad !== undefined) config.padToken = pad;
  if (raw.chat_template !== undefined && raw.chat_template !== null) {
    if (typeof raw.chat_template !== 'string') throw new Error(`${source}: field "chat_template" must be a string`);
    config.chatTemplate = raw.chat_template;
  }
  if (raw.model_max_length !== undefined && raw.model_max_length !== null) {
    if (typeof raw.model_max_length !== 'number' || !(raw.model_max_length > 0)) throw new Error(`${source}: field "model_max_length" must be a positive number`);
    config.modelMaxLength = raw.model_max_length;
  }
  return config;
}

/** Which safetensors file holds each tensor, from the index of a sharded checkpoint. */
function parseWeightIndex(json: unknown, source: string): Map<string, string> {
  const weightMap = (json as Record<string, unknown> | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) throw new Error(`${source}: field "weight_map" must be an object of tensor name → file name`);
  const files = new Map<string, string>();
  for (const [name, file] of Object.entries(weightMap)) {
    // A bare file name: the index must not reach outside the directory.
    if (typeof file !== 'string' || file === '' || file !== path.basename(file) || file === '.' || file === '..' || file.includes('\\')) {
      throw new Error(`${source}: field "weight_map.${name}" must be a file name in the same directory (got ${JSON.stringify(file)})`);
    }
    files.set(name, file);
  }
  if (files.size === 0) throw new Error(`${source}: field "weight_map" lists no tensors`);
  return files;
}

/** Refuses a tokenizer whose ids (vocabulary and added tokens) reach past the model's vocab_size. */
export function checkTokenizerFitsModel(tokenizer: Tokenizer, config: LlamaConfig, dir: string): void {
  if (tokenizer.vocabSize <= config.vocabSize) return;
  const id = tokenizer.vocabSize - 1;
  throw new Error(
    `${path.join(dir, TOKENIZER_FILE)}: token ${JSON.stringify(tokenizer.idToToken(id))} has id ${id}, but ${path.join(dir, CONFIG_FILE)} has vocab_size ${config.vocabSize}: ids must be below it`,
  );
}

export class ModelDir {
  private readonly byName: Map<string, { info: ModelTensorInfo; shard: SafetensorsFile }>;

  private constructor(
    readonly dir: string,
    readonly config: LlamaConfig,
    readonly generationConfig: GenerationConfig | undefined,
    readonly tokenizerConfig: TokenizerConfig | undefined,
    private readonly shards: SafetensorsFile[],
    /** every tensor, in the order they lie on disk (shard by shard) */
    readonly tensors: ModelTensorInfo[],
  ) {
    this.byName = new Map();
    for (const info of tensors) this.byName.set(info.name, { info, shard: shards.find((s) => path.basename(s.path) === info.file)! });
  }

  /** Opens a model directory: parses its JSON files and the headers of its weight files. */
  static async open(dir: string): Promise<ModelDir> {
    const config = await readLlamaConfig(path.join(dir, CONFIG_FILE));
    const generationPath = path.join(dir, GENERATION_CONFIG_FILE);
    const generationConfig = (await exists(generationPath)) ? await readGenerationConfig(generationPath) : undefined;
    const tokenizerConfigPath = path.join(dir, TOKENIZER_CONFIG_FILE);
    const tokenizerConfig = (await exists(tokenizerConfigPath)) ? parseTokenizerConfig(await readJsonFile(tokenizerConfigPath), tokenizerConfigPath) : undefined;

    const shards: SafetensorsFile[] = [];
    try {
      const tensors: ModelTensorInfo[] = [];
      // Like transformers: a single model.safetensors wins over an index.
      if (await exists(path.join(dir, WEIGHTS_FILE))) {
        const file = await SafetensorsFile.open(path.join(dir, WEIGHTS_FILE));
        shards.push(file);
        for (const t of file.tensors) tensors.push({ ...t, file: WEIGHTS_FILE });
      } else if (await exists(path.join(dir, WEIGHTS_INDEX_FILE))) {
        const indexPath = path.join(dir, WEIGHTS_INDEX_FILE);
        const weightMap = parseWeightIndex(await readJsonFile(indexPath), indexPath);
        for (const name of [...new Set(weightMap.values())].sort()) {
          const file = await SafetensorsFile.open(path.join(dir, name));
          shards.push(file);
          for (const t of file.tensors) {
            if (weightMap.get(t.name) !== name) throw new Error(`${indexPath}: ${name} holds tensor "${t.name}" but the weight_map ${weightMap.has(t.name) ? `assigns it to ${weightMap.get(t.name)}` : 'does not list it'}`);
            tensors.push({ ...t, file: name });
          }
        }
        const found = new Set(tensors.map((t) => t.name));
        for (const [name, file] of weightMap) if (!found.has(name)) throw new Error(`${indexPath}: weight_map puts tensor "${name}" in ${file}, which does not contain it`);
      } else {
        throw new Error(`${dir}: no ${WEIGHTS_FILE} or ${WEIGHTS_INDEX_FILE} (only safetensors weights are read)`);
      }
      return new ModelDir(dir, config, generationConfig, tokenizerConfig, shards, tensors);
    } catch (e) {
      await Promise.all(shards.map((s) => s.close()));
      throw e;
    }
  }

  info(name: string): ModelTensorInfo | undefined {
    return this.byName.get(name)?.info;
  }

  async read(name: string): Promise<TensorData> {
    const entry = this.byName.get(name);
    if (!entry) throw new Error(`${this.dir}: the checkpoint has no tensor "${name}"`);
    return entry.shard.read(name);
  }

  async readBf16Bits(name: string): Promise<Uint16Array> {
    const entry = this.byName.get(name);
    if (!entry) throw new Error(`${this.dir}: the checkpoint has no tensor "${name}"`);
    return entry.shard.readBf16Bits(name);
  }

  /** Every tensor, one at a time, in on-disk order: the next is read only when asked for. */
  async *stream(): AsyncGenerator<{ info: ModelTensorInfo; data: TensorData }> {
    for (const info of this.tensors) yield { info, data: await this.read(info.name) };
  }

  /** The stop tokens: generation_config.json's list when present (the instruct models widen it), else config.json's. */
  eosTokenIds(): number[] {
    return [this.generationConfig?.eosTokenId ?? this.config.eosTokenId].flat();
  }

  /** tokenizer.json, refused when it can produce a token id the model has no embedding for. */
  async loadTokenizer(): Promise<Tokenizer> {
    const tokenizer = await Tokenizer.fromFile(path.join(this.dir, TOKENIZER_FILE));
    checkTokenizerFitsModel(tokenizer, this.config, this.dir);
    return tokenizer;
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.close()));
  }
}

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
