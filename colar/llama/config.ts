// The Llama model configuration, read from and written to Hugging Face's config.json (snake_case)
// and generation_config.json, plus the presets this project trains and loads.
//
// Parsing is strict where a silent default would build a different model: the shape fields are
// required, and architecture options we do not implement (biases, other activations or rope
// types) are errors rather than ignored. Reading the files is the caller's (node_files.ts in
// Node, model_files.ts from any source).

export interface Llama3RopeScaling {
  type: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

export interface LlamaConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling?: Llama3RopeScaling;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  bosTokenId?: number;
  eosTokenId: number | number[];
  padTokenId?: number;
  /** dtype of the weights on disk, as config.json records it */
  torchDtype?: 'float32' | 'bfloat16' | 'float16';
}

/** The sampling defaults and stop tokens of generation_config.json that generation uses. */
export interface GenerationConfig {
  bosTokenId?: number;
  eosTokenId?: number | number[];
  padTokenId?: number;
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  maxNewTokens?: number;
  maxLength?: number;
}

/** Field access for one JSON file; each failure is one line naming the file and the field. */
class ConfigReader {
  constructor(
    private readonly obj: Record<string, unknown>,
    private readonly source: string,
    private readonly prefix = '',
  ) {}

  fail(field: string, problem: string): never {
    throw new Error(`${this.source}: field "${this.prefix}${field}" ${problem}`);
  }

  has(field: string): boolean {
    return this.obj[field] !== undefined && this.obj[field] !== null;
  }

  positiveInt(field: string, fallback?: number): number {
    const v = this.obj[field] ?? fallback;
    if (v === undefined) this.fail(field, 'is missing');
    if (!Number.isSafeInteger(v) || (v as number) <= 0) this.fail(field, `must be a positive integer (got ${JSON.stringify(v)})`);
    return v as number;
  }

  positiveNumber(field: string, fallback?: number): number {
    const v = this.obj[field] ?? fallback;
    if (v === undefined) this.fail(field, 'is missing');
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) this.fail(field, `must be a positive number (got ${JSON.stringify(v)})`);
    return v;
  }

  optionalTokenId(field: string): number | undefined {
    const v = this.obj[field];
    if (v === undefined || v === null) return undefined;
    if (!Number.isSafeInteger(v) || (v as number) < 0) this.fail(field, `must be a token id (got ${JSON.stringify(v)})`);
    return v as number;
  }

  /** A token id or a non-empty list of them (HF allows both for eos_token_id). */
  optionalTokenIds(field: string): number | number[] | undefined {
    const v = this.obj[field];
    if (v === undefined || v === null) return undefined;
    const ok = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
    if (ok(v)) return v as number;
    if (Array.isArray(v) && v.length > 0 && v.every(ok)) return [...v] as number[];
    return this.fail(field, `must be a token id or a list of token ids (got ${JSON.stringify(v)})`);
  }

  optionalBoolean(field: string): boolean | undefined {
    const v = this.obj[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') this.fail(field, `must be true or false (got ${JSON.stringify(v)})`);
    return v;
  }

  optionalNumber(field: string, check: (x: number) => boolean, expected: string): number | undefined {
    const v = this.obj[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !check(v)) this.fail(field, `must be ${expected} (got ${JSON.stringify(v)})`);
    return v;
  }

  /** Options we do not implement must be absent or have the value that means "off". */
  only(field: string, allowed: unknown[]): void {
    if (this.has(field) && !allowed.includes(this.obj[field])) this.fail(field, `has unsupported value ${JSON.stringify(this.obj[field])} (supported: ${allowed.map((a) => JSON.stringify(a)).join(', ')})`);
  }

  sub(field: string): ConfigReader {
    const v = this.obj[field];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, `must be an object (got ${JSON.stringify(v)})`);
    return new ConfigReader(v as Record<string, unknown>, this.source, `${this.prefix}${field}.`);
  }

  value(field: string): unknown {
    return this.obj[field];
  }
}

function asObject(json: unknown, source: string): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${source}: expected a JSON object at the top level`);
  return json as Record<string, unknown>;
}

/** Validates a parsed HF config.json of a Llama model; `source` names the file in errors. */
export function parseLlamaConfig(json: unknown, source = 'config.json'): LlamaConfig {
  const r = new ConfigReader(asObject(json, source), source);
  r.only('model_type', ['llama']);
  r.only('hidden_act', ['silu']);
  r.only('attention_bias', [false]);
  r.only('mlp_bias', [false]);
  r.only('pretraining_tp', [1]);

  const hiddenSize = r.positiveInt('hidden_size');
  const numAttentionHeads = r.positiveInt('num_attention_heads');
  const numKeyValueHeads = r.positiveInt('num_key_value_heads', numAttentionHeads);
  if (numAttentionHeads % numKeyValueHeads !== 0) r.fail('num_key_value_heads', `(${numKeyValueHeads}) must divide num_attention_heads (${numAttentionHeads})`);
  if (!r.has('head_dim') && hiddenSize % numAttentionHeads !== 0) r.fail('head_dim', `is missing and hidden_size (${hiddenSize}) is not a multiple of num_attention_heads (${numAttentionHeads})`);
  const headDim = r.positiveInt('head_dim', hiddenSize / numAttentionHeads);
  if (headDim % 2 !== 0) r.fail('head_dim', `must be even for rotary embeddings (got ${headDim})`);

  // transformers 5 moves rope_theta and the scaling into rope_parameters; older files have both at the top.
  const rope = r.has('rope_parameters') ? r.sub('rope_parameters') : undefined;
  const ropeTheta = rope?.has('rope_theta') ? rope.positiveNumber('rope_theta') : r.positiveNumber('rope_theta', 10000);
  const ropeScaling = parseRopeScaling(rope ?? (r.has('rope_scaling') ? r.sub('rope_scaling') : undefined));

  const torchDtype = r.value('torch_dtype') ?? r.value('dtype');
  if (torchDtype !== undefined && torchDtype !== null && !['float32', 'bfloat16', 'float16'].includes(torchDtype as string)) {
    r.fail(r.has('torch_dtype') ? 'torch_dtype' : 'dtype', `has unsupported value ${JSON.stringify(torchDtype)} (supported: "float32", "bfloat16", "float16")`);
  }

  const config: LlamaConfig = {
    vocabSize: r.positiveInt('vocab_size'),
    hiddenSize,
    intermediateSize: r.positiveInt('intermediate_size'),
    numHiddenLayers: r.positiveInt('num_hidden_layers'),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    rmsNormEps: r.positiveNumber('rms_norm_eps', 1e-6),
    ropeTheta,
    maxPositionEmbeddings: r.positiveInt('max_position_embeddings', 2048),
    tieWordEmbeddings: r.optionalBoolean('tie_word_embeddings') ?? false,
    eosTokenId: r.optionalTokenIds('eos_token_id') ?? r.fail('eos_token_id', 'is missing'),
  };
  if (ropeScaling) config.ropeScaling = ropeScaling;
  const bos = r.optionalTokenId('bos_token_id');
  if (bos !== undefined) config.bosTokenId = bos;
  const pad = r.optionalTokenId('pad_token_id');
  if (pad !== undefined) config.padTokenId = pad;
  if (torchDtype) config.torchDtype = torchDtype as LlamaConfig['torchDtype'];
  for (const [field, id] of [['bos_token_id', bos], ['pad_token_id', pad], ...[config.eosTokenId].flat().map((e) => ['eos_token_id', e])] as [string, number | undefined][]) {
    if (id !== undefined && id >= config.vocabSize) r.fail(field, `(${id}) must be below vocab_size (${config.vocabSize})`);
  }
  return config;
}

/** rope_scaling / rope_parameters: absent, "default" (none), or llama3. */
function parseRopeScaling(r: ConfigReader | undefined): Llama3RopeScaling | undefined {
  if (r === undefined) return undefined;
  const type = r.value('rope_type') ?? r.value('type') ?? 'default';
  if (type === 'default') return undefined;
  if (type !== 'llama3') r.fail(r.has('rope_type') ? 'rope_type' : 'type', `has unsupported value ${JSON.stringify(type)} (supported: "default", "llama3")`);
  const scaling: Llama3RopeScaling = {
    type: 'llama3',
    factor: r.positiveNumber('factor'),
    lowFreqFactor: r.positiveNumber('low_freq_factor'),
    highFreqFactor: r.positiveNumber('high_freq_factor'),
    originalMaxPositionEmbeddings: r.positiveInt('original_max_position_embeddings'),
  };
  if (scaling.highFreqFactor <= scaling.lowFreqFactor) r.fail('high_freq_factor', `(${scaling.highFreqFactor}) must exceed low_freq_factor (${scaling.lowFreqFactor})`);
  return scaling;
}

/** The config.json transformers writes for LlamaForCausalLM with this configuration. */
export function toHF(config: LlamaConfig): Record<string, unknown> {
  const json: Record<string, unknown> = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: config.bosTokenId ?? null,
    eos_token_id: config.eosTokenId,
    head_dim: config.headDim,
    hidden_act: 'silu',
    hidden_size: config.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: config.intermediateSize,
    max_position_embeddings: config.maxPositionEmbeddings,
    mlp_bias: false,
    num_attention_heads: config.numAttentionHeads,
    num_hidden_layers: config.numHiddenLayers,
    num_key_value_heads: config.numKeyValueHeads,
    pretraining_tp: 1,
    rms_norm_eps: config.rmsNormEps,
    rope_scaling: config.ropeScaling
      ? {
          factor: config.ropeScaling.factor,
          high_freq_factor: config.ropeScaling.highFreqFactor,
          low_freq_factor: config.ropeScaling.lowFreqFactor,
          original_max_position_embeddings: config.ropeScaling.originalMaxPositionEmbeddings,
          rope_type: 'llama3',
        }
      : null,
    rope_theta: config.ropeTheta,
    tie_word_embeddings: config.tieWordEmbeddings,
    torch_dtype: config.torchDtype ?? 'float32',
    use_cache: true,
    vocab_size: config.vocabSize,
  };
  if (config.padTokenId !== undefined) json.pad_token_id = config.padTokenId;
  return json;
}

/** Validates a parsed generation_config.json; unknown keys are ignored, as transformers keeps them as extras. */
export function parseGenerationConfig(json: unknown, source = 'generation_config.json'): GenerationConfig {
  const r = new ConfigReader(asObject(json, source), source);
  const entries: [keyof GenerationConfig, unknown][] = [
    ['bosTokenId', r.optionalTokenId('bos_token_id')],
    ['eosTokenId', r.optionalTokenIds('eos_token_id')],
    ['padTokenId', r.optionalTokenId('pad_token_id')],
    ['doSample', r.optionalBoolean('do_sample')],
    ['temperature', r.optionalNumber('temperature', (x) => Number.isFinite(x) && x >= 0, 'a number >= 0')],
    ['topK', r.optionalNumber('top_k', (x) => Number.isSafeInteger(x) && x >= 0, 'an integer >= 0')],
    ['topP', r.optionalNumber('top_p', (x) => x > 0 && x <= 1, 'a number in (0, 1]')],
    ['maxNewTokens', r.optionalNumber('max_new_tokens', (x) => Number.isSafeInteger(x) && x > 0, 'a positive integer')],
    ['maxLength', r.optionalNumber('max_length', (x) => Number.isSafeInteger(x) && x > 0, 'a positive integer')],
  ];
  return Object.fromEntries(entries.filter(([, v]) => v !== undefined)) as GenerationConfig;
}

/** generation_config.json as transformers writes it. */
export function generationConfigToHF(g: GenerationConfig): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  if (g.bosTokenId !== undefined) json.bos_token_id = g.bosTokenId;
  if (g.eosTokenId !== undefined) json.eos_token_id = g.eosTokenId;
  if (g.padTokenId !== undefined) json.pad_token_id = g.padTokenId;
  if (g.doSample !== undefined) json.do_sample = g.doSample;
  if (g.temperature !== undefined) json.temperature = g.temperature;
  if (g.topK !== undefined) json.top_k = g.topK;
  if (g.topP !== undefined) json.top_p = g.topP;
  if (g.maxNewTokens !== undefined) json.max_new_tokens = g.maxNewTokens;
  if (g.maxLength !== undefined) json.max_length = g.maxLength;
  return json;
}

// ---------------------------------------------------------------------------------------------
// Presets

export type LlamaPresetName = 'tiny' | 'llama-3.2-1b' | 'llama-3.2-1b-instruct';

/** Llama-3.2-1B exactly as published (meta-llama/Llama-3.2-1B config.json). */
const LLAMA_32_1B: LlamaConfig = {
  vocabSize: 128256,
  hiddenSize: 2048,
  intermediateSize: 8192,
  numHiddenLayers: 16,
  numAttentionHeads: 32,
  numKeyValueHeads: 8,
  headDim: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 500000,
  ropeScaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
  maxPositionEmbeddings: 131072,
  tieWordEmbeddings: true,
  bosTokenId: 128000,
  eosTokenId: 128001,
  torchDtype: 'bfloat16',
};

export interface TinyPresetOptions {
  /** from the tokenizer the tiny model is trained with */
  vocabSize: number;
  bosTokenId?: number;
  eosTokenId: number | number[];
  padTokenId?: number;
}

/**
 * A configuration by name. `tiny` is a CPU-trainable model with every Llama-3.2 feature (GQA,
 * llama3 rope scaling, tied embeddings); its vocabulary comes from its tokenizer.
 */
export function llamaPreset(name: 'tiny', tokenizer: TinyPresetOptions): LlamaConfig;
export function llamaPreset(name: 'llama-3.2-1b' | 'llama-3.2-1b-instruct'): LlamaConfig;
export function llamaPreset(name: LlamaPresetName, tokenizer?: TinyPresetOptions): LlamaConfig {
  switch (name) {
    case 'llama-3.2-1b':
      return structuredClone(LLAMA_32_1B);
    case 'llama-3.2-1b-instruct':
      return { ...structuredClone(LLAMA_32_1B), eosTokenId: [128001, 128008, 128009] };
    case 'tiny': {
      if (!tokenizer) throw new Error('llamaPreset("tiny") needs the vocabulary size and special token ids of its tokenizer');
      const config: LlamaConfig = {
        vocabSize: tokenizer.vocabSize,
        hiddenSize: 96,
        intermediateSize: 256,
        numHiddenLayers: 3,
        numAttentionHeads: 4,
        numKeyValueHeads: 2,
        headDim: 24,
        rmsNormEps: 1e-5,
        ropeTheta: 500000,
        ropeScaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
        maxPositionEmbeddings: 2048,
        tieWordEmbeddings: true,
        eosTokenId: tokenizer.eosTokenId,
        torchDtype: 'float32',
      };
      if (tokenizer.bosTokenId !== undefined) config.bosTokenId = tokenizer.bosTokenId;
      if (tokenizer.padTokenId !== undefined) config.padTokenId = tokenizer.padTokenId;
      return parseLlamaConfig(toHF(config), 'tiny preset');
    }
  }
}
