// Model directories in the Hugging Face layout, single-file and sharded, written and read back in
// a temporary folder, plus the errors a broken directory produces.

import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { llamaPreset } from '../../colar/llama/config.js';
import type { ModelDir } from '../../colar/llama/model_dir.js';
import { writeModelDir } from '../../colar/llama/model_dir_write.js';
import { openModelDir } from '../../colar/llama/node_files.js';
import type { TensorToWrite } from '../../colar/llama/safetensors.js';
import { smallTokenizerJSON } from './small_tokenizer.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'model-dir-test-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const config = llamaPreset('tiny', { vocabSize: 302, bosTokenId: 300, eosTokenId: 300 });

/** Llama-named tensors of the tiny preset, each value a function of its position. */
function tinyTensors(): TensorToWrite[] {
  const c = config;
  const shapes: [string, number[]][] = [['model.embed_tokens.weight', [c.vocabSize, c.hiddenSize]]];
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const p = `model.layers.${l}`;
    shapes.push(
      [`${p}.input_layernorm.weight`, [c.hiddenSize]],
      [`${p}.self_attn.q_proj.weight`, [c.numAttentionHeads * c.headDim, c.hiddenSize]],
      [`${p}.self_attn.k_proj.weight`, [c.numKeyValueHeads * c.headDim, c.hiddenSize]],
      [`${p}.self_attn.v_proj.weight`, [c.numKeyValueHeads * c.headDim, c.hiddenSize]],
      [`${p}.self_attn.o_proj.weight`, [c.hiddenSize, c.numAttentionHeads * c.headDim]],
      [`${p}.post_attention_layernorm.weight`, [c.hiddenSize]],
      [`${p}.mlp.gate_proj.weight`, [c.intermediateSize, c.hiddenSize]],
      [`${p}.mlp.up_proj.weight`, [c.intermediateSize, c.hiddenSize]],
      [`${p}.mlp.down_proj.weight`, [c.hiddenSize, c.intermediateSize]],
    );
  }
  shapes.push(['model.norm.weight', [c.hiddenSize]]);
  return shapes.map(([name, shape], k) => ({
    name,
    shape,
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 7 + k) % 97) / 64 - 0.75),
  }));
}

async function expectSameTensors(dir: ModelDir, expected: TensorToWrite[]) {
  const byName = new Map(expected.map((t) => [t.name, t]));
  let count = 0;
  for await (const { info, data } of dir.stream()) {
    const want = byName.get(info.name)!;
    expect(info.shape, info.name).toEqual(want.shape);
    // Element loop: deep equality on 10^5-element typed arrays is slow in the test runner.
    const values = want.data as Float32Array;
    expect(data.length, info.name).toBe(values.length);
    const firstDifference = values.findIndex((v, i) => !Object.is(v, data[i]));
    expect(firstDifference, `${info.name}: first differing element`).toBe(-1);
    count++;
  }
  expect(count).toBe(expected.length);
}

describe('model directory', () => {
  it('writes and reads a single-file checkpoint with tokenizer files', async () => {
    const out = path.join(root, 'single');
    const tensors = tinyTensors();
    await writeModelDir(out, { config, tensors, tokenizer: smallTokenizerJSON() });
    expect((await readdir(out)).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);

    const dir = await openModelDir(out);
    expect(dir.config).toEqual(config);
    expect(dir.eosTokenIds()).toEqual([300]);
    expect(dir.tokenizerConfig?.bosToken).toBe('<|bos|>');
    expect(dir.tensors.every((t) => t.file === 'model.safetensors')).toBe(true);
    await expectSameTensors(dir, tensors);
    const tokenizer = await dir.loadTokenizer();
    expect(tokenizer.decode(tokenizer.encode('the end'))).toBe('the end');
    await expect(dir.read('lm_head.weight')).rejects.toThrow(/has no tensor "lm_head.weight"/);
    await dir.close();

    const hf = JSON.parse(await readFile(path.join(out, 'config.json'), 'utf8'));
    expect(hf).toMatchObject({ architectures: ['LlamaForCausalLM'], model_type: 'llama', torch_dtype: 'float32', tie_word_embeddings: true, num_key_value_heads: 2 });
    const tokenizerConfig = JSON.parse(await readFile(path.join(out, 'tokenizer_config.json'), 'utf8'));
    expect(tokenizerConfig).toMatchObject({ tokenizer_class: 'PreTrainedTokenizerFast', bos_token: '<|bos|>', eos_token: '<|bos|>' });
  });

  it('shards with an index when over the size limit, and replaces an earlier layout', async () => {
    const out = path.join(root, 'sharded');
    const tensors = tinyTensors();
    await writeModelDir(out, { config, tensors, tokenizer: smallTokenizerJSON() });
    const produced: string[] = [];
    const lazy = tensors.map((t) => ({ ...t, data: () => (produced.push(t.name), t.data as Float32Array) }));
    await writeModelDir(out, { config, tensors: lazy, maxShardBytes: 200_000, floatDType: 'BF16', generationConfig: { eosTokenId: [300, 301], temperature: 0.6 } });
    expect(produced).toEqual(tensors.map((t) => t.name));

    const files = (await readdir(out)).sort();
    expect(files).not.toContain('model.safetensors');
    const shards = files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    expect(shards.length).toBeGreaterThan(1);
    expect(shards[0]).toBe(`model-00001-of-${String(shards.length).padStart(5, '0')}.safetensors`);
    const index = JSON.parse(await readFile(path.join(out, 'model.safetensors.index.json'), 'utf8'));
    expect(Object.keys(index.weight_map).length).toBe(tensors.length);
    const halfBytes = tensors.reduce((n, t) => n + 2 * t.shape.reduce((a, b) => a * b, 1), 0);
    expect(index.metadata.total_size).toBe(halfBytes);

    const dir = await openModelDir(out);
    expect(dir.config.torchDtype).toBe('bfloat16');
    expect(dir.eosTokenIds()).toEqual([300, 301]);
    expect(new Set(dir.tensors.map((t) => t.file)).size).toBe(shards.length);
    // Values were chosen to be exact in bf16 (multiples of 1/64 below 1).
    await expectSameTensors(dir, tensors);
    await dir.close();
  });

  it('reports broken directories clearly', async () => {
    const out = path.join(root, 'broken');
    const tensors = tinyTensors().slice(0, 3);
    await writeModelDir(out, { config, tensors, maxShardBytes: 1 });
    const indexPath = path.join(out, 'model.safetensors.index.json');
    const index = JSON.parse(await readFile(indexPath, 'utf8'));
    const names = Object.keys(index.weight_map);

    const withIndex = async (weightMap: Record<string, string>) => writeFile(indexPath, JSON.stringify({ metadata: {}, weight_map: weightMap }));
    await withIndex({ ...index.weight_map, 'ghost.weight': index.weight_map[names[0]] });
    await expect(openModelDir(out)).rejects.toThrow(/weight_map puts tensor "ghost.weight" in model-0000\d-of-00003.safetensors, which does not contain it/);
    const [shard0, shard1] = [index.weight_map[names[0]], index.weight_map[names[1]]];
    await withIndex({ ...index.weight_map, [names[0]]: shard1, [names[1]]: shard0 });
    await expect(openModelDir(out)).rejects.toThrow(/model-0000\d-of-00003\.safetensors holds tensor ".*" but the weight_map assigns it to model-0000\d-of-00003\.safetensors/);
    const { [names[1]]: _dropped, ...withoutSecond } = index.weight_map;
    await withIndex({ ...withoutSecond, 'ghost.weight': shard1 });
    await expect(openModelDir(out)).rejects.toThrow(new RegExp(`holds tensor "${names[1]}" but the weight_map does not list it`));
    await withIndex({ ...index.weight_map, [names[0]]: '../model-00001-of-00003.safetensors' });
    await expect(openModelDir(out)).rejects.toThrow(/field "weight_map\..*" must be a file name in the same directory/);
    await withIndex({ ...index.weight_map, [names[0]]: 'missing.safetensors' });
    await expect(openModelDir(out)).rejects.toThrow(/missing\.safetensors/);
    await writeFile(indexPath, '{"weight_map": ');
    await expect(openModelDir(out)).rejects.toThrow(/model\.safetensors\.index\.json: not valid JSON/);
    await rm(indexPath);
    await expect(openModelDir(out)).rejects.toThrow(/no model\.safetensors or model\.safetensors\.index\.json/);

    await writeFile(path.join(out, 'config.json'), JSON.stringify({ ...JSON.parse(await readFile(path.join(out, 'config.json'), 'utf8')), num_hidden_layers: 0 }));
    await expect(openModelDir(out)).rejects.toThrow(/config\.json: field "num_hidden_layers" must be a positive integer/);
    await rm(path.join(out, 'config.json'));
    await expect(openModelDir(out)).rejects.toThrow(/config\.json: cannot read/);
    await expect(writeModelDir(out, { config: { ...config, vocabSize: 500, eosTokenId: 400 }, tensors, tokenizer: smallTokenizerJSON() })).rejects.toThrow(/token id 400 in the config is outside the tokenizer's vocabulary/);
    await expect(writeModelDir(out, { config: { ...config, numKeyValueHeads: 3 }, tensors })).rejects.toThrow(/writeModelDir .*: config: field "num_key_value_heads" \(3\) must divide/);
  });
});
