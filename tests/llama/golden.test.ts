// The Llama model against golden files from a float64 PyTorch reference (scripts/golden_llama.py,
// llm.c's "debug state"): next-token log-probs, final hidden states, the mean NLL and the gradient
// of every trainable tensor, for token ids, input embeddings and LoRA adapters, with left padding,
// a hole in the key mask and explicit positions; and the ids case decoded one position at a time
// through the KV cache. Padded query rows are not compared: their outputs reach no real
// position, and HF and we fill them differently. Regenerate with /usr/bin/python3 scripts/golden_llama.py.

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { buildLlama } from '../../colar/llama/init.js';
import { KvCache } from '../../colar/llama/kv_cache.js';
import { targetedLinears } from '../../colar/llama/lora.js';
import type { Llama } from '../../colar/llama/model.js';
import type { ModelDir } from '../../colar/llama/model_dir.js';
import { openModelDir, readJsonFile } from '../../colar/llama/node_files.js';
import { openSafetensors, type TensorData } from '../../colar/llama/safetensors.js';
import { maxDiff, type Tolerance } from '../helpers/compare.js';
import { testGpu } from '../helpers/gpu.js';

const FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'llama_golden');

// The reference runs in float64 from the float32 values on disk and is rounded to float32 once,
// so the float64 CPU backend differs by that rounding only; WebGPU computes in float32.
const TOLERANCE: Record<'cpu' | 'webgpu', Tolerance> = {
  cpu: { rtol: 2e-7, atol: 1e-10 },
  webgpu: { rtol: 3e-5, atol: 3e-6 },
};

type Case = 'ids' | 'embeds' | 'lora';

interface Golden {
  meta: { batch: number; seq_len: number; lora: { r: number; alpha: number; target_modules: string[] }; cases: Record<Case, { gradients: string[] }> };
  weights: Map<string, TensorData>;
  tensors: Map<string, TensorData>;
  dir: ModelDir;
}

async function loadGolden(): Promise<Golden> {
  const dir = await openModelDir(FIXTURE);
  const weights = new Map<string, TensorData>();
  for await (const { info, data } of dir.stream()) weights.set(info.name, data);
  const file = await openSafetensors(path.join(FIXTURE, 'golden.safetensors'));
  const tensors = new Map<string, TensorData>();
  for (const t of file.tensors) tensors.set(t.name, await file.read(t.name));
  await file.close();
  const meta = (await readJsonFile(path.join(FIXTURE, 'golden.json'))) as Golden['meta'];
  return { meta, weights, tensors, dir };
}

function get(g: Golden, name: string): TensorData {
  const t = g.tensors.get(name);
  if (!t) throw new Error(`golden.safetensors has no tensor "${name}"`);
  return t;
}

interface Result {
  logprobs: HostArray;
  hidden: HostArray;
  loss: number;
  /** gradient of the loss by golden name (base weights by HF name, adapters by PEFT name, inputs_embeds) */
  grads: Map<string, HostArray>;
  /** base weights that got a gradient although frozen */
  frozenWithGrad: string[];
}

type HostArray = ArrayLike<number>;

/** Builds the fixture model on `engine`, runs one case forward and backward, reads everything back. */
async function runCase(engine: E.Engine, g: Golden, which: Case): Promise<Result> {
  const { batch: B, seq_len: T } = g.meta;
  const config = g.dir.config;
  const model: Llama = buildLlama(engine, config, (name, shape) => {
    const data = g.weights.get(name);
    if (!data) throw new Error(`model.safetensors has no tensor "${name}"`);
    return engine.parameter(engine.tensor(data, shape));
  });
  const trainable = new Map<string, E.Tensor>(which === 'lora' ? [] : model.namedParameters());
  if (which === 'lora') {
    // The adapters come from the fixture (nonzero A and B), so applyLora's random init is bypassed.
    const { r, alpha, target_modules: modules } = g.meta.lora;
    for (const t of model.namedParameters().values()) t.requiresGrad = false;
    for (const [modulePath, lin] of targetedLinears(model, modules)) {
      const name = (ab: 'A' | 'B') => `base_model.model.${modulePath}.lora_${ab}.weight`;
      const A = engine.parameter(engine.tensor(get(g, `lora.${name('A')}`), [r, lin.inFeatures]));
      const Bm = engine.parameter(engine.tensor(get(g, `lora.${name('B')}`), [lin.outFeatures, r]));
      lin.lora = { A, B: Bm, scale: alpha / r, dropout: 0 };
      trainable.set(name('A'), A);
      trainable.set(name('B'), Bm);
    }
  }
  const d = config.hiddenSize;
  const embeds = which === 'embeds' ? engine.parameter(engine.tensor(get(g, 'embeds.inputs_embeds'), [B, T, d])) : null;
  if (embeds) trainable.set('inputs_embeds', embeds);

  const ids = Array.from(get(g, 'input_ids'));
  const targetMask = get(g, 'target_mask');
  const targets = Array.from({ length: B * (T - 1) }, (_, i) => {
    const [b, t] = [Math.floor(i / (T - 1)), i % (T - 1)];
    return targetMask[i] ? ids[b * T + t + 1] : -100;
  });

  try {
    const out = engine.scope(() => {
      const { logits, hidden } = model.forward({
        ids: embeds ? undefined : engine.tensor(ids, [B, T], 'i32'),
        embeds: embeds ?? undefined,
        positions: engine.tensor(get(g, 'positions'), [B, T], 'i32'),
        keyMask: engine.tensor(get(g, 'key_mask'), [B, T]),
      });
      const V = config.vocabSize;
      const shifted = E.reshape(E.slice(logits!, 1, 0, T - 1), [B * (T - 1), V]);
      const targetIds = engine.tensor(targets, [B * (T - 1)], 'i32');
      const loss = E.crossEntropy(shifted, targetIds);
      const logprobs = E.noGrad(() => E.neg(E.crossEntropy(shifted, targetIds, { reduction: 'none' })));
      E.backward(loss);
      return { logprobs, hidden, loss };
    });
    const grads = new Map<string, HostArray>();
    for (const [name, t] of trainable) {
      if (!t.grad) throw new Error(`${which}: no gradient reached ${name}`);
      grads.set(name, await t.grad.data());
    }
    const frozenWithGrad = which === 'lora' ? [...model.namedParameters()].filter(([, t]) => t.grad !== null).map(([n]) => n) : [];
    const result = { logprobs: await out.logprobs.data(), hidden: await out.hidden.data(), loss: await out.loss.item(), grads, frozenWithGrad };
    for (const t of Object.values(out)) t.dispose();
    return result;
  } finally {
    embeds?.dispose();
    model.dispose();
  }
}

/** The ids case decoded one position at a time through a KV cache: hidden states [B, T, d]. */
async function decodeIncrementally(engine: E.Engine, g: Golden): Promise<HostArray> {
  const { batch: B, seq_len: T } = g.meta;
  const c = g.dir.config;
  const model = buildLlama(engine, c, (name, shape) => E.keep(engine.tensor(g.weights.get(name)!, shape)));
  const cache = new KvCache(engine, c.numHiddenLayers, B, T, c.numKeyValueHeads, c.headDim);
  const [ids, positions, keyMask] = ['input_ids', 'positions', 'key_mask'].map((n) => Array.from(get(g, n)));
  const column = (x: number[], t: number) => Array.from({ length: B }, (_, b) => x[b * T + t]);
  const prefix = (x: number[], n: number) => Array.from({ length: B }, (_, b) => x.slice(b * T, b * T + n)).flat();
  const hidden = new Float64Array(B * T * c.hiddenSize);
  try {
    for (let t = 0; t < T; t++) {
      const h = E.noGrad(() =>
        engine.scope(() =>
          model.forward({
            ids: engine.tensor(column(ids, t), [B, 1], 'i32'),
            positions: engine.tensor(column(positions, t), [B, 1], 'i32'),
            keyMask: engine.tensor(prefix(keyMask, t + 1), [B, t + 1]),
            cache,
            logitsFor: 'none',
          }).hidden,
        ),
      );
      const data = await h.data();
      h.dispose();
      for (let b = 0; b < B; b++) hidden.set(data.subarray(b * c.hiddenSize, (b + 1) * c.hiddenSize), (b * T + t) * c.hiddenSize);
    }
    return hidden;
  } finally {
    cache.dispose();
    model.dispose();
  }
}

/** The elements of `data` (rows of `width`) whose row is selected by `mask`. */
function maskedRows(data: HostArray, mask: HostArray, width: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < mask.length; r++) if (mask[r]) for (let j = 0; j < width; j++) out.push(data[r * width + j]);
  return out;
}

interface Comparison {
  name: string;
  maxAbs: number;
  /** the largest |actual - expected| / (atol + rtol·|expected|); > 1 fails */
  usage: number;
  /** the largest |actual - expected| - (atol + rtol·|expected|); > 0 fails */
  excess: number;
  line: string;
}

function compare(name: string, actual: HostArray, expected: HostArray, tol: Tolerance): Comparison {
  if (actual.length !== expected.length) return { name, maxAbs: Infinity, usage: Infinity, excess: Infinity, line: `${name}: ${actual.length} values, expected ${expected.length}` };
  const w = maxDiff(actual, expected, tol);
  let maxAbs = 0;
  let usage = 0;
  for (let i = 0; i < expected.length; i++) {
    const diff = Number.isNaN(actual[i]) !== Number.isNaN(expected[i]) ? Infinity : Math.abs(actual[i] - expected[i]) || 0;
    maxAbs = Math.max(maxAbs, diff);
    usage = Math.max(usage, diff / (tol.atol + tol.rtol * Math.abs(expected[i])));
  }
  const at = w.index >= 0 ? ` (worst at [${w.index}]: actual ${actual[w.index]}, expected ${expected[w.index]})` : '';
  return { name, maxAbs, usage, excess: w.excess, line: `${name}: largest difference ${maxAbs.toExponential(2)}, ${usage.toFixed(2)}× the tolerance${at}` };
}

function checkCase(backend: 'cpu' | 'webgpu', which: Case, g: Golden, r: Result): void {
  const tol = TOLERANCE[backend];
  const d = g.dir.config.hiddenSize;
  const comparisons = [
    compare('logprobs', maskedRows(r.logprobs, get(g, 'target_mask'), 1), maskedRows(get(g, `${which}.logprobs`), get(g, 'target_mask'), 1), tol),
    compare('hidden', maskedRows(r.hidden, get(g, 'key_mask'), d), maskedRows(get(g, `${which}.hidden`), get(g, 'key_mask'), d), tol),
    compare('loss', [r.loss], get(g, `${which}.loss`), tol),
    ...g.meta.cases[which].gradients.map((name) => compare(`grad ${name}`, r.grads.get(name) ?? [], get(g, `${which}.grad.${name}`), tol)),
  ];
  expect(r.grads.size, `${backend} ${which}: gradients computed`).toBe(g.meta.cases[which].gradients.length);
  expect(r.frozenWithGrad, `${backend} ${which}: frozen base weights with a gradient`).toEqual([]);
  const largest = comparisons.reduce((a, b) => (b.maxAbs > a.maxAbs ? b : a));
  const closest = comparisons.reduce((a, b) => (b.usage > a.usage ? b : a));
  const failed = comparisons.filter((c) => !(c.excess <= 0));
  const header =
    `${backend} ${which} (rtol ${tol.rtol}, atol ${tol.atol}): largest difference ${largest.maxAbs.toExponential(2)} in ${largest.name}; ` +
    `${closest.usage.toFixed(2)}× the tolerance in ${closest.name}`;
  console.info(header);
  if (failed.length) expect.fail(`${header}\n${failed.length} of ${comparisons.length} outputs out of tolerance:\n  ${failed.map((c) => c.line).join('\n  ')}`);
}

describe('Llama vs the PyTorch golden files', () => {
  let golden: Golden;
  beforeAll(async () => {
    golden = await loadGolden();
  });
  afterAll(async () => {
    await golden?.dir.close();
  });

  const engines: Array<['cpu' | 'webgpu', () => Promise<E.Engine>]> = [
    ['cpu', () => E.Engine.create({ backend: 'cpu' })],
    ['webgpu', async () => E.Engine.onGpu(await testGpu())],
  ];
  for (const [backend, makeEngine] of engines) {
    for (const which of ['ids', 'embeds', 'lora'] as const) {
      it(`${backend}: ${which}`, async () => {
        checkCase(backend, which, golden, await runCase(await makeEngine(), golden, which));
      });
    }
    it(`${backend}: ids decoded through the KV cache`, async () => {
      const hidden = await decodeIncrementally(await makeEngine(), golden);
      const d = golden.dir.config.hiddenSize;
      const mask = get(golden, 'key_mask');
      const c = compare('hidden', maskedRows(hidden, mask, d), maskedRows(get(golden, 'ids.hidden'), mask, d), TOLERANCE[backend]);
      console.info(`${backend} ids through the KV cache: ${c.line}`);
      if (!(c.excess <= 0)) expect.fail(c.line);
    });
  }
});
