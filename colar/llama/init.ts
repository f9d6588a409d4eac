// Building a Llama: random initialisation for training from scratch (HF's scheme: normal with
// std initializer_range, norms at one), or from named weights read off disk.

import * as E from '../../engine/index.js';
import type { LlamaConfig } from './config.js';
import { Linear } from './linear.js';
import { Llama, type DecoderLayer } from './model.js';

/** Fetches a tensor by its Hugging Face name. */
export type WeightSource = (name: string, shape: number[]) => E.Tensor;

/** Every weight of a Llama with this configuration: Hugging Face name → shape, in build order. */
export function llamaWeightShapes(config: LlamaConfig): Map<string, number[]> {
  const c = config;
  const qDim = c.numAttentionHeads * c.headDim;
  const kvDim = c.numKeyValueHeads * c.headDim;
  const d = c.hiddenSize;
  const shapes = new Map<string, number[]>();
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    shapes.set(`${p}.input_layernorm.weight`, [d]);
    shapes.set(`${p}.self_attn.q_proj.weight`, [qDim, d]);
    shapes.set(`${p}.self_attn.k_proj.weight`, [kvDim, d]);
    shapes.set(`${p}.self_attn.v_proj.weight`, [kvDim, d]);
    shapes.set(`${p}.self_attn.o_proj.weight`, [d, qDim]);
    shapes.set(`${p}.post_attention_layernorm.weight`, [d]);
    shapes.set(`${p}.mlp.gate_proj.weight`, [c.intermediateSize, d]);
    shapes.set(`${p}.mlp.up_proj.weight`, [c.intermediateSize, d]);
    shapes.set(`${p}.mlp.down_proj.weight`, [d, c.intermediateSize]);
  }
  shapes.set('model.embed_tokens.weight', [c.vocabSize, d]);
  shapes.set('model.norm.weight', [d]);
  if (!c.tieWordEmbeddings) shapes.set('lm_head.weight', [c.vocabSize, d]);
  return shapes;
}

export function buildLlama(engine: E.Engine, config: LlamaConfig, weight: WeightSource): Llama {
  const shapes = llamaWeightShapes(config);
  const w = (name: string) => weight(name, shapes.get(name)!);
  const layers: DecoderLayer[] = Array.from({ length: config.numHiddenLayers }, (_, i) => {
    const p = `model.layers.${i}`;
    const lin = (name: string) => new Linear(w(`${p}.${name}.weight`));
    return {
      inputNorm: w(`${p}.input_layernorm.weight`),
      q: lin('self_attn.q_proj'),
      k: lin('self_attn.k_proj'),
      v: lin('self_attn.v_proj'),
      o: lin('self_attn.o_proj'),
      postNorm: w(`${p}.post_attention_layernorm.weight`),
      gate: lin('mlp.gate_proj'),
      up: lin('mlp.up_proj'),
      down: lin('mlp.down_proj'),
    };
  });
  const embed = w('model.embed_tokens.weight');
  const norm = w('model.norm.weight');
  const lmHead = config.tieWordEmbeddings ? null : w('lm_head.weight');
  return new Llama(engine, config, embed, layers, norm, lmHead);
}

/** A freshly initialised model whose every parameter trains. */
export function initLlama(engine: E.Engine, config: LlamaConfig, rng: E.Rng, initializerRange = 0.02): Llama {
  return buildLlama(engine, config, (name, shape) => {
    const t = name.endsWith('norm.weight') ? engine.ones(shape) : rng.normal(engine, shape, 0, initializerRange);
    return engine.parameter(t);
  });
}
