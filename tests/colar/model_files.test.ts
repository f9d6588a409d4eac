// loadModelFiles reads an exported model from any ModelFiles source: from files held in memory
// (as a page holds fetched or dropped files) it loads the same model, latent head and tokenizer
// as the Node directory loader; and a model the device cannot hold is refused before any upload
// with one DeviceLimitError line naming the tensor, its size and the limit.

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LatentHead } from '../../colar/latent_head.js';
import { saveLatentHead } from '../../colar/latent_head_write.js';
import { type LlamaConfig, llamaPreset } from '../../colar/llama/config.js';
import { llamaWeightNames, llamaWeightShape } from '../../colar/llama/init.js';
import { writeModelDir } from '../../colar/llama/model_dir_write.js';
import { dirFiles } from '../../colar/llama/node_files.js';
import type { TensorToWrite } from '../../colar/llama/safetensors.js';
import { DeviceLimitError, loadModelFiles, memoryFiles, type LoadedModelFiles, type ModelFiles } from '../../colar/model_files.js';
import { loadModel } from '../../colar/model_source.js';
import * as E from '../../engine/index.js';
import { cpu, webgpu } from '../helpers/engines.js';
import { testGpu } from '../helpers/gpu.js';
import { smallTokenizerJSON } from '../llama/small_tokenizer.js';

const config: LlamaConfig = { ...llamaPreset('tiny', { vocabSize: 302, bosTokenId: 300, eosTokenId: 300 }), maxPositionEmbeddings: 16 };

function weightsOf(c: LlamaConfig): TensorToWrite[] {
  return [...llamaWeightNames(c)].map((name, k) => {
    const shape = llamaWeightShape(c, name)!;
    return { name, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (((i * 13 + k) % 31) - 15) / 256) };
  });
}

let root: string;
let single: string; // model.safetensors in BF16, with a latent head
let sharded: string; // shards with an index, f32, no head

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'model-files-test-'));
  single = path.join(root, 'single');
  sharded = path.join(root, 'sharded');
  await writeModelDir(single, { config, tensors: weightsOf(config), tokenizer: smallTokenizerJSON(), floatDType: 'BF16' });
  await saveLatentHead(single, LatentHead.init(cpu, config.hiddenSize, 24, 0.5, new E.Rng(7)), 'mean');
  await writeModelDir(sharded, { config, tensors: weightsOf(config), tokenizer: smallTokenizerJSON(), maxShardBytes: 40_000 });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Every file of a directory, read into memory as a page would hold them. */
async function inMemory(dir: string): Promise<ModelFiles> {
  const names = await readdir(dir);
  return memoryFiles('dropped files', new Map(await Promise.all(names.map(async (n) => [n, new Uint8Array(await readFile(path.join(dir, n)))] as const))));
}

async function logits(engine: E.Engine, loaded: LoadedModelFiles): Promise<number[]> {
  const { model, tokenizer } = loaded.run;
  const ids = tokenizer.encode('the abc the');
  const out = E.noGrad(() => model.forward({ ids: engine.tensor(ids, [1, ids.length], 'i32') }).logits!);
  return [...(await out.float32())];
}

describe('loadModelFiles', () => {
  for (const [name, dir] of [['one BF16 file with a latent head', () => single], ['shards with an index', () => sharded]] as const) {
    it(`loads from memory what the directory loader loads: ${name}`, async () => {
      const engine = await webgpu();
      const fromDisk = await loadModel(engine, { kind: 'hf', dir: dir(), adapter: null });
      const fromMemory = await loadModelFiles(engine, await inMemory(dir()));
      expect(await logits(engine, fromMemory)).toEqual(await logits(engine, fromDisk));
      expect(fromMemory.eosIds).toEqual(fromDisk.eosIds);
      expect(fromMemory.pooling).toBe(fromDisk.pooling);
      expect([fromMemory.run.prompt.eosId, fromMemory.run.prompt.padId]).toEqual([fromDisk.run.prompt.eosId, fromDisk.run.prompt.padId]);
      expect(fromMemory.run.tokenizer.encode('<sep> abc')).toEqual(fromDisk.run.tokenizer.encode('<sep> abc'));
      expect(fromMemory.run.head === null).toBe(dir() === sharded);
      if (fromMemory.run.head) {
        expect(fromMemory.pooling).toBe('mean');
        for (const [n, t] of fromMemory.run.head.namedParameters()) expect([...(await t.float32())]).toEqual([...(await fromDisk.run.head!.namedParameters().get(n)!.float32())]);
      }
      fromDisk.run.model.dispose();
      fromMemory.run.model.dispose();
    });
  }

  it('streams the weights of a directory through file handles, never reading a safetensors file whole', async () => {
    const files = dirFiles(sharded);
    const readWhole: string[] = [];
    const spy: ModelFiles = { label: files.label, open: files.open, read: (name) => (readWhole.push(name), files.read(name)) };
    const loaded = await loadModelFiles(cpu, spy);
    expect(readWhole.filter((name) => name.endsWith('.safetensors'))).toEqual([]);
    expect(readWhole).toContain('config.json');
    loaded.run.model.dispose();
  });

  it('names the file a source lacks', async () => {
    const files = await inMemory(single);
    const without = (name: string): ModelFiles => ({ label: files.label, read: (n) => (n === name ? Promise.resolve(null) : files.read(n)) });
    await expect(loadModelFiles(cpu, without('tokenizer.json'))).rejects.toThrow(/^dropped files\/tokenizer\.json: cannot read: no such file$/);
    await expect(loadModelFiles(cpu, without('model.safetensors'))).rejects.toThrow(/^dropped files: no model\.safetensors or model\.safetensors\.index\.json/);
    await expect(loadModelFiles(cpu, without('latent_head.json'))).rejects.toThrow(/^dropped files\/latent_head\.json: cannot read: no such file$/);
  });
});

/** An engine on the test device whose limits or features read smaller than the device's. */
async function shrunkEngine(limits: Partial<Record<keyof GPUSupportedLimits, number>>, features?: string[]): Promise<E.Engine> {
  const gpu = await testGpu();
  const engine = await E.Engine.create({ device: gpu.device });
  const real: Record<string, unknown> = {};
  for (const k in gpu.limits) real[k] = gpu.limits[k as keyof GPUSupportedLimits];
  Object.defineProperty(engine.gpu, 'limits', { value: { ...real, ...limits } });
  if (features) Object.defineProperty(engine.gpu, 'features', { value: new Set(features) });
  return engine;
}

async function limitError(engine: E.Engine): Promise<DeviceLimitError> {
  const error = await loadModelFiles(engine, await inMemory(single)).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeviceLimitError);
  expect((error as Error).message).not.toContain('\n');
  // refused before anything was uploaded
  expect(engine.gpu!.pool.getStats().created).toBe(0);
  return error as DeviceLimitError;
}

describe('device limits', () => {
  it('refuses a tensor larger than one buffer, naming it, its size and the limit', async () => {
    const engine = await shrunkEngine({ maxBufferSize: 30_000 });
    const { message } = await limitError(engine);
    const [, name, bytes] = /^dropped files\/model\.safetensors: tensor "(.+)" is (\d+) bytes; this device holds at most 30000 bytes per buffer \(maxBufferSize\)$/.exec(message) ?? [];
    expect(name).toBeDefined();
    // bf16 matrices stay 16-bit on the device
    expect(Number(bytes)).toBe(llamaWeightShape(config, name)!.reduce((a, b) => a * b, 2));
    expect(Number(bytes)).toBeGreaterThan(30_000);
    await engine.close();
  });

  it('refuses rows wider than one binding, and a device without subgroups', async () => {
    const narrow = await shrunkEngine({ maxStorageBufferBindingSize: 64 });
    expect((await limitError(narrow)).message).toMatch(/: tensor ".+" has rows of \d+ bytes; this device binds at most 64 bytes at once \(maxStorageBufferBindingSize\)$/);
    await narrow.close();
    const plain = await shrunkEngine({}, ['shader-f16']);
    expect((await limitError(plain)).message).toBe('this device lacks the WebGPU feature "subgroups", which the model\'s attention kernels need');
    await plain.close();
  });

  it('states sizes in MiB once they are large', () => {
    expect(E.formatBytes(139.4 * 2 ** 20)).toBe('139.4 MiB');
    expect(E.formatBytes(2 ** 27)).toBe('128 MiB');
    expect(E.formatBytes(30_000)).toBe('30000 bytes');
  });
});
