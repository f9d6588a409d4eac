// Building a Llama: random initialisation for training from scratch (HF's scheme: normal with
// std initializer_range, norms at one), or from named weights read off disk.

import * as E from '../../engine/index.js';
import type { LlamaConfig } from './config.js';
import { Linear } from './linear.js';
import { Llama, type DecoderLayer } from './model.js';

/** Fetches a tensor by its Hugging Face name. */
export type WeightSource = (name: string, shape: number[]) => E.Tensor;

/** Shapes of one decoder layer's weights, by name within the layer. */
function layerWeightShapes(c: LlamaConfig): Record<string, number[]> {
  const qDim = c.numAttentionHeads * c.headDim;
  const kvDim = c.numKeyValueHeads * c.headDim;
  const d = c.hiddenSize;
  return {
    'input_layernorm.weight': [d],
    'self_attn.q_proj.weight': [qDim, d],
    'self_attn.k_proj.weight': [kvDim, d],
    'self_attn.v_proj.weight': [kvDim, d],
    'self_attn.o_proj.weight': [d, qDim],
    'post_attention_layernorm.weight': [d],
    'mlp.gate_proj.weight': [c.intermediateSize, d],
    'mlp.up_proj.weight': [c.intermediateSize, d],
    'mlp.down_proj.weight': [d, c.intermediateSize],
  };
}

/** Shapes of the weights outside the layers. */
function outerWeightShapes(c: LlamaConfig): Record<string, number[]> {
  const shapes: Record<string, number[]> = { 'model.embed_tokens.weight': [c.vocabSize, c.hiddenSize], 'model.norm.weight': [c.hiddenSize] };
  if (!c.tieWordEmbeddings) shapes['lm_head.weight'] = [c.vocabSize, c.hiddenSize];
  return shapes;
}

const LAYER_WEIGHT = /^model\.layers\.(0|[1-9]\d*)\.(.+)$/;

/** The shape of weight `name` (a Hugging Face name) in a Llama with this configuration; undefined when it has none. */
export function llamaWeightShape(config: LlamaConfig, name: string): number[] | undefined {
  const layer = LAYER_WEIGHT.exec(name);
  if (!layer) {
    const outer = outerWeightShapes(config);
    return Object.hasOwn(outer, name) ? outer[name] : undefined;
  }
  const inLayer = layerWeightShapes(config);
  return Number(layer[1]) < config.numHiddenLayers && Object.hasOwn(inLayer, layer[2]) ? inLayer[layer[2]] : undefined;
}

/** The names of every weight of a Llama with this configuration, lazily (a config may claim millions of layers). */
export function* llamaWeightNames(config: LlamaConfig): Generator<string> {
  const inLayer = Object.keys(layerWeightShapes(config));
  for (let i = 0; i < config.numHiddenLayers; i++) for (const name of inLayer) yield `model.layers.${i}.${name}`;
  yield* Object.keys(outerWeightShapes(config));
}

export function buildLlama(engine: E.Engine, config: LlamaConfig, weight: WeightSource): Llama {
  const w = (name: string) => weight(name, llamaWeightShape(config, name)!);
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

/** One weight of a fresh model, made on demand. */
export interface InitialWeight {
  name: string;
  shape: number[];
  draw(engine: E.Engine): E.Tensor;
}

/**
 * Every weight of a fresh model (HF's scheme: ones for norms, else normal with std
 * initializerRange), in buildLlama's order, each with its random draws reserved up front: the
 * weights can be made one at a time and in any order — `init` writes a 1B model a tensor at a
 * time — with the values initLlama gives them.
 */
export function initialWeights(config: LlamaConfig, rng: E.Rng, initializerRange = 0.02): InitialWeight[] {
  return [...llamaWeightNames(config)].map((name) => {
    const shape = llamaWeightShape(config, name)!;
    if (name.endsWith('norm.weight')) return { name, shape, draw: (engine: E.Engine) => engine.ones(shape) };
    const draws = rng.reserve(shape.reduce((a, b) => a * b, 1));
    return { name, shape, draw: (engine: E.Engine) => E.Rng.fromState(draws).normal(engine, shape, 0, initializerRange) };
  });
}

/** A freshly initialised model whose every parameter trains. */
export function initLlama(engine: E.Engine, config: LlamaConfig, rng: E.Rng, initializerRange = 0.02): Llama {
  const weights = new Map(initialWeights(config, rng, initializerRange).map((w) => [w.name, w]));
  return buildLlama(engine, config, (name) => engine.parameter(weights.get(name)!.draw(engine)));
}
