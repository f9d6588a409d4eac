// config.json / generation_config.json: the published Llama-3.2-1B files parse to the preset,
// toHF round-trips, and each malformed field gets one error naming the file and the field.

import { describe, expect, it } from 'vitest';
import { llamaPreset, parseGenerationConfig, parseLlamaConfig, toHF } from '../../colar/llama/config.js';

/** meta-llama/Llama-3.2-1B config.json as published. */
const LLAMA_32_1B_CONFIG = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: 128001,
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.45.0.dev0',
  use_cache: true,
  vocab_size: 128256,
};

describe('config.json', () => {
  it('parses the published Llama-3.2-1B config into the preset', () => {
    expect(parseLlamaConfig(LLAMA_32_1B_CONFIG)).toEqual(llamaPreset('llama-3.2-1b'));
    const instruct = parseLlamaConfig({ ...LLAMA_32_1B_CONFIG, eos_token_id: [128001, 128008, 128009] });
    expect(instruct).toEqual(llamaPreset('llama-3.2-1b-instruct'));
  });

  it('round-trips through toHF', () => {
    for (const c of [llamaPreset('llama-3.2-1b'), llamaPreset('tiny', { vocabSize: 302, bosTokenId: 300, eosTokenId: [300, 301], padTokenId: 0 })]) {
      expect(parseLlamaConfig(toHF(c))).toEqual(c);
    }
    const hf = toHF(llamaPreset('llama-3.2-1b'));
    for (const [k, v] of Object.entries(LLAMA_32_1B_CONFIG)) if (k !== 'transformers_version') expect(hf[k], k).toEqual(v);
  });

  it('fills HF defaults and reads the older and newer rope spellings', () => {
    const minimal = { vocab_size: 10, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, eos_token_id: 2 };
    expect(parseLlamaConfig(minimal)).toEqual({
      vocabSize: 10, hiddenSize: 8, intermediateSize: 16, numHiddenLayers: 1, numAttentionHeads: 2, numKeyValueHeads: 2, headDim: 4,
      rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 2048, tieWordEmbeddings: false, eosTokenId: 2,
    });
    const scaling = { type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
    expect(parseLlamaConfig({ ...minimal, rope_scaling: scaling }).ropeScaling).toEqual({ type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    const v5 = parseLlamaConfig({ ...minimal, rope_parameters: { ...scaling, type: undefined, rope_type: 'llama3', rope_theta: 500000 } });
    expect(v5.ropeTheta).toBe(500000);
    expect(v5.ropeScaling?.factor).toBe(8);
    expect(parseLlamaConfig({ ...minimal, rope_scaling: { rope_type: 'default' } }).ropeScaling).toBeUndefined();
  });

  it('rejects malformed fields with the file and field named', () => {
    const base = LLAMA_32_1B_CONFIG;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...base, hidden_size: undefined }, /^m\/config\.json: field "hidden_size" is missing$/],
      [{ ...base, hidden_size: '2048' }, /field "hidden_size" must be a positive integer \(got "2048"\)/],
      [{ ...base, num_key_value_heads: 5 }, /field "num_key_value_heads" \(5\) must divide num_attention_heads \(32\)/],
      [{ ...base, rms_norm_eps: -1 }, /field "rms_norm_eps" must be a positive number/],
      [{ ...base, rope_scaling: { ...base.rope_scaling, rope_type: 'yarn' } }, /field "rope_scaling\.rope_type" has unsupported value "yarn"/],
      [{ ...base, rope_scaling: { ...base.rope_scaling, factor: undefined } }, /field "rope_scaling\.factor" is missing/],
      [{ ...base, attention_bias: true }, /field "attention_bias" has unsupported value true/],
      [{ ...base, model_type: 'mistral' }, /field "model_type" has unsupported value "mistral"/],
      [{ ...base, eos_token_id: [] }, /field "eos_token_id" must be a token id or a list of token ids/],
      [{ ...base, eos_token_id: 200000 }, /field "eos_token_id" \(200000\) must be below vocab_size \(128256\)/],
      [{ ...base, head_dim: 63 }, /field "head_dim" must be even/],
      [{ ...base, tie_word_embeddings: 'yes' }, /field "tie_word_embeddings" must be true or false/],
      [{ ...base, torch_dtype: 'float64' }, /field "torch_dtype" has unsupported value "float64"/],
    ];
    for (const [json, message] of cases) expect(() => parseLlamaConfig(json, 'm/config.json')).toThrow(message);
    expect(() => parseLlamaConfig([], 'm/config.json')).toThrow(/^m\/config\.json: expected a JSON object/);
    expect(() => llamaPreset('tiny', undefined as never)).toThrow(/needs the vocabulary size/);
  });
});

describe('generation_config.json', () => {
  it('parses the fields generation uses and ignores the rest', () => {
    const g = parseGenerationConfig({ _from_model_config: true, bos_token_id: 128000, do_sample: true, eos_token_id: [128001, 128008, 128009], temperature: 0.6, top_p: 0.9, transformers_version: '4.45.0' });
    expect(g).toEqual({ bosTokenId: 128000, eosTokenId: [128001, 128008, 128009], doSample: true, temperature: 0.6, topP: 0.9 });
    expect(() => parseGenerationConfig({ top_p: 2 }, 'g.json')).toThrow(/^g\.json: field "top_p" must be a number in \(0, 1\]/);
  });
});
