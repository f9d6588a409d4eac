// A BF16 checkpoint loaded frozen (a LoRA run, inference) keeps its matrices bf16 on the device
// and computes what the same checkpoint widened to f32 computes: logits, the LoRA adapters'
// gradients through the chunked LM loss, and the merge (which widens the base).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { parseLlamaConfig, toHF, type LlamaConfig } from '../../colar/llama/config.js';
import { initLlama } from '../../colar/llama/init.js';
import { loadModelDir } from '../../colar/llama/node_files.js';
import { applyLora, mergeLora } from '../../colar/llama/lora.js';
import type { Llama } from '../../colar/llama/model.js';
import { writeModelDir } from '../../colar/llama/model_dir_write.js';
import { expectClose } from '../helpers/compare.js';
import { cpu, webgpu } from '../helpers/engines.js';

const config: LlamaConfig = parseLlamaConfig(
  toHF({
    vocabSize: 37, hiddenSize: 24, intermediateSize: 40, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 6,
    rmsNormEps: 1e-5, ropeTheta: 10000, maxPositionEmbeddings: 128, tieWordEmbeddings: true, eosTokenId: 1,
  }),
  'test config',
);
const TOL = { rtol: 1e-4, atol: 1e-5 };
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function bf16Checkpoint(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'colar-bf16-'));
  dirs.push(dir);
  const model = initLlama(cpu, config, new E.Rng(7), 0.2);
  const tensors = [...model.namedParameters()].map(([name, t]) => ({ name, shape: [...t.shape], data: () => t.float32() }));
  await writeModelDir(dir, { config, tensors, floatDType: 'BF16' });
  model.dispose();
  return dir;
}

/** Logits, and the adapters' gradients of the chunked LM loss. */
async function loraStep(e: E.Engine, model: Llama) {
  const ids = e.tensor([4, 8, 15, 16, 23, 5], [2, 3], 'i32');
  const targets = e.tensor([8, 15, -100, 23, 5, 9], [6], 'i32');
  applyLora(model, { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'] }, new E.Rng(6));
  const B = model.layers[1].v.lora!.B;
  B.assign(Array.from({ length: B.size }, (_, i) => Math.sin(i)));
  const logits = await E.noGrad(() => e.scope(() => model.forward({ ids }).logits!)).data();
  e.scope(() => E.backward(model.lmLoss(model.forward({ ids, logitsFor: 'none' }).hidden, targets, { chunkRows: 4 })));
  const grads = await Promise.all([model.layers[0].q.lora!.A, model.layers[1].v.lora!.B].map(async (t) => Array.from(await t.grad!.data())));
  return { logits: Array.from(logits), grads };
}

describe('a bf16 checkpoint loaded frozen', () => {
  it('keeps its matrices bf16 and norms f32; loaded to train, everything is f32', async () => {
    const dir = await bf16Checkpoint();
    const frozen = await loadModelDir(cpu, dir, { frozen: true });
    expect([frozen.embedTokens, frozen.layers[0].q.weight, frozen.layers[1].down.weight].map((t) => t.dtype)).toEqual(['bf16', 'bf16', 'bf16']);
    expect([frozen.norm, frozen.layers[0].inputNorm].map((t) => t.dtype)).toEqual(['f32', 'f32']);
    const trainable = await loadModelDir(cpu, dir);
    expect([...trainable.namedParameters().values()].every((t) => t.dtype === 'f32')).toBe(true);
    frozen.dispose();
    trainable.dispose();
  });

  for (const name of ['cpu', 'webgpu'] as const) {
    it(`on ${name}: logits, LoRA gradients and the merge match the f32-widened load`, async () => {
      const e = name === 'cpu' ? cpu : await webgpu();
      const dir = await bf16Checkpoint();
      const [half, wide] = [await loadModelDir(e, dir, { frozen: true }), await loadModelDir(e, dir)];
      const [a, b] = [await loraStep(e, half), await loraStep(e, wide)];
      expectClose(a.logits, b.logits, TOL, 'logits');
      a.grads.forEach((g, i) => expectClose(g, b.grads[i], TOL, `adapter gradient ${i}`));
      mergeLora(half);
      expect(half.layers[0].q.weight.dtype).toBe('f32');
      const ids = e.tensor([4, 8, 15], [1, 3], 'i32');
      const merged = await E.noGrad(() => e.scope(() => half.forward({ ids }).logits!)).data();
      expectClose(merged, a.logits.slice(0, 3 * config.vocabSize), TOL, 'merged');
      [half, wide].forEach((m) => m.dispose());
    });
  }
});
