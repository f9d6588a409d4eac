// Loading a model directory onto an engine: what loads, and what is refused before it could be
// used (ids past the embedding table, weights the config does not describe, integer or
// non-finite weights, sequences past the position limit).

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LlamaConfig, llamaPreset } from '../../colar/llama/config.js';
import { Decoder } from '../../colar/llama/decoder.js';
import { llamaWeightNames, llamaWeightShape } from '../../colar/llama/init.js';
import { loadModelDir, openModelDir } from '../../colar/llama/node_files.js';
import { writeModelDir } from '../../colar/llama/model_dir_write.js';
import { loadModel } from '../../colar/model_source.js';
import type { TensorToWrite } from '../../colar/llama/safetensors.js';
import * as E from '../../engine/index.js';
import { cpu } from '../helpers/engines.js';
import { smallTokenizerJSON } from './small_tokenizer.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'load-test-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const config: LlamaConfig = { ...llamaPreset('tiny', { vocabSize: 302, bosTokenId: 300, eosTokenId: 300 }), maxPositionEmbeddings: 16 };

/** Every weight of `c`, small deterministic values. */
function weightsOf(c: LlamaConfig): TensorToWrite[] {
  return [...llamaWeightNames(c)].map((name, k) => {
    const shape = llamaWeightShape(c, name)!;
    return { name, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (((i * 13 + k) % 31) - 15) / 256) };
  });
}

let counter = 0;
async function modelDir(tensors: TensorToWrite[], c: LlamaConfig = config, tokenizer: object = smallTokenizerJSON()): Promise<string> {
  const dir = path.join(root, `m${counter++}`);
  await writeModelDir(dir, { config: c, tensors, tokenizer });
  return dir;
}

async function loadError(dir: string, options = {}): Promise<string> {
  const error = await loadModelDir(cpu, dir, options).then(
    (model) => (model.dispose(), undefined),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  const message = (error as Error).message;
  expect(message).not.toContain('\n');
  return message;
}

describe('loadModelDir', () => {
  it('loads exactly the weights the config describes, and a tied model may carry lm_head.weight', async () => {
    const tensors = weightsOf(config);
    const extraHead = { ...tensors.find((t) => t.name === 'model.embed_tokens.weight')!, name: 'lm_head.weight' };
    const model = await loadModelDir(cpu, await modelDir([...tensors, extraHead]));
    const norm = await model.norm.data();
    expect(Array.from(norm)).toEqual(Array.from(tensors.find((t) => t.name === 'model.norm.weight')!.data as Float32Array, (x) => Math.fround(x)));
    model.dispose();
  });

  it('refuses a config with fewer layers than the weights', async () => {
    const dir = await modelDir(weightsOf(config), { ...config, numHiddenLayers: 2 });
    expect(await loadError(dir)).toMatch(/model\.safetensors: tensor "model\.layers\.2\.[a-z_.]+" belongs to layer 2, but .*config\.json has num_hidden_layers 2$/);
  });

  it('refuses tensors that are not weights of the model', async () => {
    const dir = await modelDir([...weightsOf(config), { name: 'model.extra.weight', shape: [2], data: Float32Array.of(1, 2) }]);
    expect(await loadError(dir)).toMatch(/model\.safetensors: tensor "model\.extra\.weight" is not a weight of the Llama model .*config\.json describes/);
  });

  it('refuses a missing weight and a wrong shape, naming them', async () => {
    const missing = await modelDir(weightsOf(config).filter((t) => t.name !== 'model.layers.1.mlp.up_proj.weight'));
    expect(await loadError(missing)).toMatch(/tensor "model\.layers\.1\.mlp\.up_proj\.weight" is missing/);
    const reshaped = weightsOf(config).map((t) => (t.name === 'model.norm.weight' ? { ...t, shape: [8, 12] } : t));
    expect(await loadError(await modelDir(reshaped))).toMatch(/tensor "model\.norm\.weight" has shape \[8,12\], but .*config\.json needs \[96\]/);
  });

  it('refuses integer weights', async () => {
    const tensors = weightsOf(config).map((t) => (t.name === 'model.norm.weight' ? { ...t, data: new Int32Array(t.shape[0]).fill(1), dtype: 'I32' as const } : t));
    expect(await loadError(await modelDir(tensors))).toMatch(/model\.safetensors: tensor "model\.norm\.weight" has dtype I32; weights must be floating point/);
  });

  it('refuses NaN and infinite weights unless allowNonFinite', async () => {
    for (const bad of [NaN, -Infinity]) {
      const tensors = weightsOf(config);
      (tensors[5].data as Float32Array)[7] = bad;
      const dir = await modelDir(tensors);
      expect(await loadError(dir)).toContain(`model.safetensors: tensor "${tensors[5].name}" holds ${bad} at element 7; weights must be finite`);
      const model = await loadModelDir(cpu, dir, { allowNonFinite: true });
      model.dispose();
    }
  });

  it('refuses a tokenizer whose ids reach past vocab_size', async () => {
    const tokenizer = smallTokenizerJSON();
    tokenizer.added_tokens.push({ id: 5000, content: '<far>', special: false, lstrip: false, rstrip: false, normalized: false, single_word: false });
    const dir = await modelDir(weightsOf(config));
    // writeModelDir itself refuses such a pair, so the file is replaced after writing.
    await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
    const opened = await openModelDir(dir);
    await expect(opened.loadTokenizer()).rejects.toThrow(/tokenizer\.json: token "<far>" has id 5000, but .*config\.json has vocab_size 302: ids must be below it/);
    await opened.close();
    // and so do the commands, which load a model directory as a model source
    await expect(loadModel(cpu, { kind: 'hf', dir, adapter: null })).rejects.toThrow(/tokenizer\.json: token "<far>" has id 5000, but .*config\.json has vocab_size 302/);
  });
});

describe('sequence length', () => {
  it('the forward refuses more positions than max_position_embeddings, also across a cache', async () => {
    const model = await loadModelDir(cpu, await modelDir(weightsOf(config)));
    const forward = (T: number) => E.noGrad(() => cpu.scope(() => void model.forward({ ids: cpu.tensor(new Array(T).fill(5), [1, T], 'i32'), logitsFor: 'last' })));
    forward(16);
    expect(() => forward(17)).toThrow(/^a sequence of 17 tokens is longer than the model's max_position_embeddings \(16\)$/);
    const decoder = new Decoder(model, 1, 20);
    (await decoder.prompt([new Array(15).fill(5)], 0)).hidden.dispose();
    (await decoder.tokens([6], [true])).hidden.dispose();
    await expect(decoder.tokens([6], [true])).rejects.toThrow(/a sequence of 17 tokens is longer than the model's max_position_embeddings \(16\)/);
    decoder.dispose();
    model.dispose();
  });
});
