// Property tests of the model-directory loaders on mutated files: config.json and tokenizer.json
// (bytes, and JSON values retyped, dropped or added), model.safetensors (bytes anywhere,
// header and data, and its header's JSON). Each case either loads, and then what loaded is
// consistent (the tokenizer only produces ids the model embeds; the weights are finite), or
// fails with one line naming the directory. tests/llama/safetensors.test.ts fuzzes the
// safetensors header on its own.

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LlamaConfig, llamaPreset } from '../../colar/llama/config.js';
import { loadModelDir, openModelDir, readLlamaConfig, readTokenizerFile } from '../../colar/llama/node_files.js';
import { llamaWeightNames, llamaWeightShape } from '../../colar/llama/init.js';
import { writeModelDir } from '../../colar/llama/model_dir_write.js';
import { openSafetensors, type TensorToWrite, writeSafetensors } from '../../colar/llama/safetensors.js';
import { Tokenizer } from '../../colar/llama/tokenizer.js';
import { cpu } from '../helpers/engines.js';
import { applyByteMutations, applyJsonMutations, byteMutation, jsonMutation, jsonValue, loaderOutcome } from '../helpers/mutations.js';
import { smallTokenizerJSON } from './small_tokenizer.js';

let root: string;
const original = new Map<string, Buffer>();
const FILES = ['config.json', 'tokenizer.json', 'model.safetensors'] as const;

// Small enough that a load costs milliseconds; still GQA, untied head, two layers.
const config: LlamaConfig = {
  ...llamaPreset('tiny', { vocabSize: 302, bosTokenId: 300, eosTokenId: 300 }),
  hiddenSize: 8, intermediateSize: 12, numHiddenLayers: 2, numAttentionHeads: 2, numKeyValueHeads: 1, headDim: 4, tieWordEmbeddings: false,
};

function baseTensors(): TensorToWrite[] {
  return [...llamaWeightNames(config)].map((name) => {
    const shape = llamaWeightShape(config, name)!;
    return { name, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => ((i % 7) - 3) / 8) };
  });
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'model-dir-mutations-'));
  const valid = path.join(root, 'valid');
  await writeModelDir(valid, { config, tensors: baseTensors(), tokenizer: smallTokenizerJSON() });
  for (const name of FILES) original.set(name, await readFile(path.join(valid, name)));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The safetensors header as JSON, and the file rebuilt from a (mutated) header and the same data. */
function splitSafetensors(bytes: Buffer): { header: unknown; data: Buffer } {
  const length = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')), data: bytes.subarray(8 + length) };
}
function joinSafetensors(header: unknown, data: Buffer): Buffer {
  const text = Buffer.from(JSON.stringify(header) ?? 'null');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(text.length));
  return Buffer.concat([prefix, text, data]);
}

const mutation = fc.record({
  file: fc.constantFrom(...FILES),
  bytes: fc.array(byteMutation, { maxLength: 3 }),
  json: fc.array(jsonMutation, { maxLength: 3 }),
});

let counter = 0;

describe('model directory loaders on mutated files', () => {
  it('load something consistent or fail with one line naming the directory', async () => {
    const outcomes = { ok: 0, rejected: 0 };
    await fc.assert(
      fc.asyncProperty(mutation, async ({ file, bytes, json }) => {
        const dir = path.join(root, `case-${counter++}`);
        await mkdir(dir);
        for (const name of FILES) {
          let content = original.get(name)!;
          if (name === file) {
            if (name === 'model.safetensors') {
              const { header, data } = splitSafetensors(content);
              content = joinSafetensors(applyJsonMutations(header, json), data);
            } else {
              content = Buffer.from(JSON.stringify(applyJsonMutations(JSON.parse(content.toString('utf8')), json)) ?? '');
            }
            content = Buffer.from(applyByteMutations(content, bytes));
          }
          await writeFile(path.join(dir, name), content);
        }
        const outcome = await loaderOutcome(dir, async () => {
          const model = await loadModelDir(cpu, dir);
          try {
            const opened = await openModelDir(dir);
            const tokenizer = await opened.loadTokenizer().finally(() => opened.close());
            const ids = tokenizer.encode('<|bos|>the abc <sep> Ab 12 ثلاثة 🎉\r\n end');
            // What loaded fits together: every id has an embedding row, every weight is finite.
            expect(ids.every((id) => id < model.config.vocabSize)).toBe(true);
            expect(tokenizer.decode(ids)).toBeTypeOf('string');
            for (const t of model.namedParameters().values()) expect((await t.data()).every(Number.isFinite)).toBe(true);
          } finally {
            model.dispose();
          }
        });
        outcomes[outcome]++;
        await rm(dir, { recursive: true });
      }),
      { numRuns: 150 },
    );
    console.log(`model directory mutations: ${outcomes.ok} loaded, ${outcomes.rejected} refused`);
    expect(outcomes.rejected).toBeGreaterThan(0);
    expect(outcomes.ok).toBeGreaterThan(0);
  });

  it('what loads is what the files say: every stored weight used, floating point and finite; every token id embedded', async () => {
    const layerTensor = (layer: number) => `model.layers.${layer}.mlp.up_proj.weight`;
    // Each change in about one case of four, so that some cases change nothing or one thing.
    const rarely = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: arb, weight: 1 });
    const change = fc.record({
      config: rarely(fc.record({ key: fc.constantFrom('num_hidden_layers', 'vocab_size', 'hidden_size', 'intermediate_size', 'num_key_value_heads', 'tie_word_embeddings', 'max_position_embeddings'), value: fc.oneof(fc.integer({ min: 0, max: 400 }), jsonValue) })),
      drop: rarely(fc.nat()),
      extra: rarely(fc.constantFrom(layerTensor(2), 'model.extra.weight', 'model.layers.0.self_attn.rotary_emb.inv_freq')),
      dtype: rarely(fc.record({ pick: fc.nat(), dtype: fc.constantFrom('I32' as const, 'BF16' as const, 'F16' as const) })),
      value: rarely(fc.record({ pick: fc.nat(), at: fc.nat(), value: fc.constantFrom(NaN, Infinity, -Infinity, 3e38, -0) })),
      addedTokenId: rarely(fc.integer({ min: 290, max: 1000 })),
    });
    const outcomes = { ok: 0, rejected: 0 };
    await fc.assert(
      fc.asyncProperty(change, async (c) => {
        const dir = path.join(root, `case-${counter++}`);
        await mkdir(dir);
        const tensors = baseTensors().filter((_, i, all) => c.drop === null || i !== c.drop % all.length);
        if (c.extra !== null) tensors.push({ name: c.extra, shape: [config.hiddenSize], data: new Float32Array(config.hiddenSize).fill(0.5) });
        if (c.dtype !== null) {
          const t = tensors[c.dtype.pick % tensors.length];
          t.dtype = c.dtype.dtype;
          if (c.dtype.dtype === 'I32') t.data = Int32Array.from(t.data as Float32Array, (x) => Math.round(x * 1e9));
        }
        if (c.value !== null) {
          const t = tensors[c.value.pick % tensors.length];
          if (t.data instanceof Float32Array) t.data[c.value.at % t.data.length] = c.value.value;
        }
        await writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
        const hf = JSON.parse(original.get('config.json')!.toString('utf8'));
        if (c.config !== null) hf[c.config.key] = c.config.value;
        await writeFile(path.join(dir, 'config.json'), JSON.stringify(hf));
        const tokenizer = smallTokenizerJSON();
        if (c.addedTokenId !== null) tokenizer.added_tokens.push({ id: c.addedTokenId, content: '<extra>', special: false, lstrip: false, rstrip: false, normalized: false, single_word: false });
        await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));

        outcomes[await loaderOutcome(dir, async () => {
          const model = await loadModelDir(cpu, dir);
          const opened = await openModelDir(dir);
          try {
            const loaded = await opened.loadTokenizer();
            expect(loaded.vocabSize).toBeLessThanOrEqual(model.config.vocabSize);
            const used = model.namedParameters();
            for (const t of opened.tensors) {
              const unused = t.name === 'model.layers.0.self_attn.rotary_emb.inv_freq' || (t.name === 'lm_head.weight' && model.config.tieWordEmbeddings);
              expect(used.has(t.name) || unused, `stored tensor ${t.name} is used`).toBe(true);
              if (used.has(t.name)) expect(['F32', 'BF16', 'F16', 'F64']).toContain(t.dtype);
            }
            for (const t of used.values()) expect((await t.data()).every(Number.isFinite)).toBe(true);
          } finally {
            await opened.close();
            model.dispose();
          }
        })]++;
        await rm(dir, { recursive: true });
      }),
      { numRuns: 150 },
    );
    console.log(`model directory changes: ${outcomes.ok} loaded, ${outcomes.rejected} refused`);
    expect(outcomes.rejected).toBeGreaterThan(0);
    expect(outcomes.ok).toBeGreaterThan(0);
  });

  it('a JSON error that quotes a line break of the file is still one line', async () => {
    const broken = '{"vocab_size":\n}';
    const file = path.join(root, 'broken.json');
    await writeFile(file, broken);
    await expect(readLlamaConfig(file)).rejects.toThrow(/^[^\n]*broken\.json: not valid JSON: Unexpected token '}', "{"vocab_size":\\n}" is not valid JSON$/);
    await expect(readTokenizerFile(file)).rejects.toThrow(/^[^\n]*broken\.json: cannot read tokenizer JSON: [^\n]*$/);
    const header = Buffer.from(broken);
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(header.length));
    await writeFile(file, Buffer.concat([prefix, header]));
    await expect(openSafetensors(file)).rejects.toThrow(/^[^\n]*broken\.json: header is not valid JSON: [^\n]*$/);
  });

  it('config.json and tokenizer.json on their own: a valid result or one line naming the file', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('config.json', 'tokenizer.json'), fc.array(jsonMutation, { maxLength: 3 }), fc.array(byteMutation, { maxLength: 2 }), async (name, json, bytes) => {
        const file = path.join(root, `${counter++}-${name}`);
        const mutated = applyJsonMutations(JSON.parse(original.get(name)!.toString('utf8')), json);
        await writeFile(file, applyByteMutations(Buffer.from(JSON.stringify(mutated) ?? ''), bytes));
        await loaderOutcome(file, async () => {
          if (name === 'config.json') {
            const parsed = await readLlamaConfig(file);
            expect(parsed.vocabSize).toBeGreaterThan(Math.max(parsed.bosTokenId ?? 0, ...[parsed.eosTokenId].flat()));
          } else {
            const tokenizer = await readTokenizerFile(file);
            expect(tokenizer.encode('the abc 🎉').every((id) => id < tokenizer.vocabSize)).toBe(true);
          }
        });
        await rm(file);
      }),
      { numRuns: 200 },
    );
  });
});
