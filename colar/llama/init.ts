// Building a Llama: random initialisation for training from scratch (HF's scheme: normal with
// std initializer_range, norms at one), or from named weights read off disk.

import * as E from '../../engine/index.js';
import type { LlamaConfig } from './config.js';
import { Linear } from './linear.js';
import { Llama, type DecoderLayer } from './model.js';

/** Fetches a tensor by its Hugging Face name. */
export type WeightSource = (name: string, shape: number[]) => E.Tensor;

export function buildLlama(engine: E.Engine, config: LlamaConfig, weight: WeightSource): Llama {
  const c = config;
  const qDim = c.numAttentionHeads * c.headDim;
  const kvDim = c.numKeyValueHeads * c.headDim;
  const d = c.hiddenSize;
  const layers: DecoderLayer[] = Array.from({ length: c.numHiddenLayers }, (_, i) => {
    const p = `model.layers.${i}`;
    const lin = (name: string, out: number, inp: number) => new Linear(weight(`${p}.${name}.weight`, [out, inp]));
    return {
      inputNorm: weight(`${p}.input_layernorm.weight`, [d]),
      q: lin('self_attn.q_proj', qDim, d),
      k: lin('self_attn.k_proj', kvDim, d),
      v: lin('self_attn.v_proj', kvDim, d),
      o: lin('self_attn.o_proj', d, qDim),
      postNorm: weight(`${p}.post_attention_layernorm.weight`, [d]),
      gate: lin('mlp.gate_proj', c.intermediateSize, d),
      up: lin('mlp.up_proj', c.intermediateSize, d),
      down: lin('mlp.down_proj', d, c.intermediateSize),
    };
  });
  const embed = weight('model.embed_tokens.weight', [c.vocabSize, d]);
  const norm = weight('model.norm.weight', [d]);
  const lmHead = c.tieWordEmbeddings ? null : weight('lm_head.weight', [c.vocabSize, d]);
  return new Llama(engine, config, embed, layers, norm, lmHead);
}

/** A freshly initialised model whose every parameter trains. */
export function initLlama(engine: E.Engine, config: LlamaConfig, rng: E.Rng, initializerRange = 0.02): Llama {
  return buildLlama(engine, config, (name, shape) => {
    const t = name.endsWith('norm.weight') ? engine.ones(shape) : rng.normal(engine, shape, 0, initializerRange);
    return engine.parameter(t);
  });
}
