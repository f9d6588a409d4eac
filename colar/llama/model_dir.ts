// A Hugging Face model directory, the layout transformers reads and writes:
//   config.json                         the architecture (see config.ts)
//   model.safetensors                   the weights, or, when sharded,
//   model-00001-of-0000N.safetensors    the shards, with
//   model.safetensors.index.json        {"metadata": {"total_size"}, "weight_map": {tensor: shard}}
//   tokenizer.json                      the tokenizer (see tokenizer.ts)
//   tokenizer_config.json               optional: special-token names, chat template
//   generation_config.json              optional: stop tokens and sampling defaults
// The files come from a ModelFiles source (a directory in Node, a URL or dropped files in a page).
// Opening reads only the JSON files and the safetensors headers; where the source opens files for
// random access, tensors are then read one at a time, so a model streams to the device without
// ever being whole in host memory. Writing a directory is Node's: model_dir_write.ts.

import { type GenerationConfig, type LlamaConfig, parseGenerationConfig, parseLlamaConfig } from './config.js';
import { filePath, type ModelFiles, openFile, readJson } from './model_files.js';
import { SafetensorsReader, type TensorData, type TensorInfo } from './safetensors_reader.js';
import { Tokenizer } from './tokenizer.js';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';
export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
export const GENERATION_CONFIG_FILE = 'generation_config.json';

export const SHARD_NAME = /^model-\d{5}-of-\d{5}\.safetensors$/;

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
    if (typeof file !== 'string' || file === '' || file === '.' || file === '..' || file.includes('/') || file.includes('\\')) {
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
  throw new Error(`${filePath(dir, TOKENIZER_FILE)}: token ${JSON.stringify(tokenizer.idToToken(id))} has id ${id}, but ${filePath(dir, CONFIG_FILE)} has vocab_size ${config.vocabSize}: ids must be below it`);
}

export class ModelDir {
  private readonly byName: Map<string, { info: ModelTensorInfo; shard: SafetensorsReader }>;

  private constructor(
    readonly files: ModelFiles,
    readonly config: LlamaConfig,
    readonly generationConfig: GenerationConfig | undefined,
    readonly tokenizerConfig: TokenizerConfig | undefined,
    private readonly shards: Map<string, SafetensorsReader>,
    /** every tensor, in the order they lie in the files (shard by shard) */
    readonly tensors: ModelTensorInfo[],
  ) {
    this.byName = new Map(tensors.map((info) => [info.name, { info, shard: shards.get(info.file)! }]));
  }

  /** Opens a model directory: parses its JSON files and the headers of its weight files. */
  static async open(files: ModelFiles): Promise<ModelDir> {
    const at = (name: string) => filePath(files, name);
    const required = async (name: string) => {
      const json = await readJson(files, name);
      if (json === undefined) throw new Error(`${at(name)}: cannot read: no such file`);
      return json;
    };
    const config = parseLlamaConfig(await required(CONFIG_FILE), at(CONFIG_FILE));
    const generationJson = await readJson(files, GENERATION_CONFIG_FILE);
    const generationConfig = generationJson === undefined ? undefined : parseGenerationConfig(generationJson, at(GENERATION_CONFIG_FILE));
    const tokenizerJson = await readJson(files, TOKENIZER_CONFIG_FILE);
    const tokenizerConfig = tokenizerJson === undefined ? undefined : parseTokenizerConfig(tokenizerJson, at(TOKENIZER_CONFIG_FILE));

    const shards = new Map<string, SafetensorsReader>();
    const openShard = async (name: string) => {
      const source = await openFile(files, name);
      if (!source) return null;
      const shard = await SafetensorsReader.open(source, at(name));
      shards.set(name, shard);
      return shard;
    };
    try {
      const tensors: ModelTensorInfo[] = [];
      // Like transformers: a single model.safetensors wins over an index.
      const single = await openShard(WEIGHTS_FILE);
      if (single) {
        for (const t of single.tensors) tensors.push({ ...t, file: WEIGHTS_FILE });
      } else {
        const index = await readJson(files, WEIGHTS_INDEX_FILE);
        if (index === undefined) throw new Error(`${files.label}: no ${WEIGHTS_FILE} or ${WEIGHTS_INDEX_FILE} (only safetensors weights are read)`);
        const indexPath = at(WEIGHTS_INDEX_FILE);
        const weightMap = parseWeightIndex(index, indexPath);
        for (const name of [...new Set(weightMap.values())].sort()) {
          const file = await openShard(name);
          if (!file) throw new Error(`${indexPath}: weight_map names ${name}, which ${files.label} does not hold`);
          for (const t of file.tensors) {
            if (weightMap.get(t.name) !== name) throw new Error(`${indexPath}: ${name} holds tensor "${t.name}" but the weight_map ${weightMap.has(t.name) ? `assigns it to ${weightMap.get(t.name)}` : 'does not list it'}`);
            tensors.push({ ...t, file: name });
          }
        }
        const found = new Set(tensors.map((t) => t.name));
        for (const [name, file] of weightMap) if (!found.has(name)) throw new Error(`${indexPath}: weight_map puts tensor "${name}" in ${file}, which does not contain it`);
      }
      return new ModelDir(files, config, generationConfig, tokenizerConfig, shards, tensors);
    } catch (e) {
      await Promise.all([...shards.values()].map((s) => s.close()));
      throw e;
    }
  }

  /** A file of the directory as errors name it. */
  path(name: string): string {
    return filePath(this.files, name);
  }

  info(name: string): ModelTensorInfo | undefined {
    return this.byName.get(name)?.info;
  }

  async read(name: string): Promise<TensorData> {
    const entry = this.byName.get(name);
    if (!entry) throw new Error(`${this.files.label}: the checkpoint has no tensor "${name}"`);
    return entry.shard.read(name);
  }

  async readBf16Bits(name: string): Promise<Uint16Array> {
    const entry = this.byName.get(name);
    if (!entry) throw new Error(`${this.files.label}: the checkpoint has no tensor "${name}"`);
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
    const json = await readJson(this.files, TOKENIZER_FILE);
    if (json === undefined) throw new Error(`${this.path(TOKENIZER_FILE)}: cannot read: no such file`);
    const tokenizer = Tokenizer.fromJSON(json, this.path(TOKENIZER_FILE));
    checkTokenizerFitsModel(tokenizer, this.config, this.files.label);
    return tokenizer;
  }

  async close(): Promise<void> {
    await Promise.all([...this.shards.values()].map((s) => s.close()));
  }
}
