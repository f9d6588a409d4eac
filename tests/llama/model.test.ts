// The Llama forward pass against itself in the ways CoLaR depends on: KV-cache decoding equals
// the full pass, embeddings in equal ids in, padding holes change nothing for real tokens,
// LoRA starts as the identity, trains only its adapters, and merges exactly.
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { parseLlamaConfig, toHF, type LlamaConfig } from '../../colar/llama/config.js';
import { initLlama } from '../../colar/llama/init.js';
import { applyLora, mergeLora } from '../../colar/llama/lora.js';
import { Decoder } from '../../colar/llama/decoder.js';
import { generate } from '../../colar/llama/generate.js';
import { expectClose } from '../helpers/compare.js';
import { cpu, webgpu } from '../helpers/engines.js';
import { testGpu } from '../helpers/gpu.js';

const config: LlamaConfig = parseLlamaConfig(
  toHF({
    vocabSize: 37, hiddenSize: 24, intermediateSize: 40, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 6,
    rmsNormEps: 1e-5, ropeTheta: 10000, maxPositionEmbeddings: 128, tieWordEmbeddings: true, eosTokenId: 1,
    ropeScaling: { type: 'llama3', factor: 4, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 16 },
  }),
  'test config',
);
const TOL = { rtol: 1e-4, atol: 1e-5 };

for (const name of ['cpu', 'webgpu'] as const) {
  const engine = async () => (name === 'cpu' ? cpu : await webgpu());

  describe(`llama on ${name}`, () => {
    it('decoding with the KV cache reproduces the full forward pass', async () => {
      const e = await engine();
      const model = initLlama(e, config, new E.Rng(3), 0.2);
      const ids = [5, 9, 2, 33, 17, 8, 21];
      const full = await E.noGrad(() => e.scope(() => model.forward({ ids: e.tensor(ids, [1, 7], 'i32') }).logits!)).data();
      const dec = new Decoder(model, 1, 16);
      const steps: number[] = [];
      let r = await dec.prompt([ids.slice(0, 3)], 0);
      steps.push(...r.logits);
      r.hidden.dispose();
      for (const t of ids.slice(3)) {
        r = await dec.tokens([t], [true]);
        steps.push(...r.logits);
        r.hidden.dispose();
      }
      dec.dispose();
      const V = config.vocabSize;
      expectClose(steps, [...full.slice(2 * V, 3 * V), ...full.slice(3 * V)], TOL, 'cached vs full logits');
      model.dispose();
    });

    it('takes input embeddings as it takes ids, and a padding hole changes no real token', async () => {
      const e = await engine();
      const model = initLlama(e, config, new E.Rng(4), 0.2);
      const ids = [3, 14, 15, 9, 26];
      const [byIds, byEmbeds, holed] = await E.noGrad(async () => {
        const a = e.scope(() => model.forward({ ids: e.tensor(ids, [1, 5], 'i32') }).logits!);
        const b = e.scope(() => model.forward({ embeds: model.embed(e.tensor(ids, [1, 5], 'i32')) }).logits!);
        // the same tokens with a pad in the middle: masked, and positions skip it
        const c = e.scope(() =>
          model.forward({
            ids: e.tensor([3, 14, 0, 15, 9, 26], [1, 6], 'i32'),
            positions: e.tensor([0, 1, 1, 2, 3, 4], [1, 6], 'i32'),
            keyMask: e.tensor([1, 1, 0, 1, 1, 1], [1, 6]),
          }).logits!,
        );
        return Promise.all([a.data(), b.data(), c.data()]);
      });
      const V = config.vocabSize;
      expectClose(byEmbeds, byIds, TOL, 'embeds vs ids');
      expectClose([...holed.slice(0, 2 * V), ...holed.slice(3 * V)], byIds, TOL, 'holed vs contiguous');
      model.dispose();
    });

    it('LoRA: identity at init, gradients only for A and B, exact merge', async () => {
      const e = await engine();
      const model = initLlama(e, config, new E.Rng(5), 0.2);
      const ids = e.tensor([4, 8, 15, 16, 23], [1, 5], 'i32');
      const before = await E.noGrad(() => e.scope(() => model.forward({ ids }).logits!)).data();
      applyLora(model, { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'] }, new E.Rng(6));
      const fresh = await E.noGrad(() => e.scope(() => model.forward({ ids }).logits!)).data();
      expectClose(fresh, before, { rtol: 0, atol: 0 }, 'fresh adapter');
      const lin = model.layers[0].q;
      e.scope(() => E.backward(E.sum(E.square(model.forward({ ids }).logits!))));
      expect(lin.weight.grad).toBeNull();
      expect(model.embedTokens.grad).toBeNull();
      expect(lin.lora!.B.grad).not.toBeNull();
      // give B some weight so that merging has something to fold in
      const B = lin.lora!.B;
      B.assign((await B.grad!.data()).map((g) => -g));
      const adapted = await E.noGrad(() => e.scope(() => model.forward({ ids }).logits!)).data();
      expect(Math.max(...adapted.map((x, i) => Math.abs(x - before[i])))).toBeGreaterThan(1e-4);
      mergeLora(model);
      const merged = await E.noGrad(() => e.scope(() => model.forward({ ids }).logits!)).data();
      expectClose(merged, adapted, TOL, 'merged vs adapter');
      model.dispose();
    });

    it('LoRA dropout: only with a dropout stream, inverted (mean kept), masks the adapter path alone', async () => {
      const e = await engine();
      const model = initLlama(e, config, new E.Rng(5), 0.2);
      const ids = e.tensor([4, 8, 15, 16, 23], [1, 5], 'i32');
      applyLora(model, { r: 4, alpha: 8, dropout: 0.5, targetModules: ['q_proj', 'v_proj'] }, new E.Rng(6));
      const logits = (rng?: E.Rng) => E.noGrad(() => e.scope(() => model.forward({ ids, dropoutRng: rng }).logits!)).data();
      // B = 0: the adapter path is zero, so masking it must leave the base path untouched
      expectClose(await logits(new E.Rng(1)), await logits(), { rtol: 0, atol: 0 }, 'dropout outside the adapter');
      for (const l of model.layers) for (const lin of [l.q, l.v]) lin.lora!.B.assign(Array.from({ length: lin.lora!.B.size }, (_, i) => Math.sin(i)));
      const plain = await logits();
      const dropped = await logits(new E.Rng(1));
      expect(Math.max(...dropped.map((x, i) => Math.abs(x - plain[i])))).toBeGreaterThan(1e-3);
      expectClose(await logits(new E.Rng(1)), dropped, { rtol: 0, atol: 0 }, 'same stream, same masks');
      expect(() => applyLora(initLlama(e, config, new E.Rng(5)), { r: 4, alpha: 8, dropout: 1, targetModules: ['q_proj'] }, new E.Rng(6))).toThrow(/dropout must be in \[0, 1\)/);
      model.dispose();
    });

    it('greedy generation follows the argmax of the full forward pass', async () => {
      const e = await engine();
      const model = initLlama(e, config, new E.Rng(7), 0.5);
      const prompt = [2, 7, 11];
      const [gen] = await generate(model, [prompt], { maxNewTokens: 5, eosIds: [], padId: 0, seed: 0, greedy: true });
      const seq = [...prompt];
      for (let i = 0; i < 5; i++) {
        const logits = await E.noGrad(() => e.scope(() => model.forward({ ids: e.tensor(seq, [1, seq.length], 'i32'), logitsFor: 'last' }).logits!)).data();
        let best = 0;
        for (let v = 1; v < config.vocabSize; v++) if (logits[v] > logits[best]) best = v;
        seq.push(best);
      }
      expect(gen).toEqual(seq.slice(3));
      model.dispose();
    });

    it('reports each generated token as it is chosen, row by row, EOS included', async () => {
      const e = await engine();
      const model = initLlama(e, config, new E.Rng(3), 0.5);
      const seen: number[][] = [[], []];
      const opts = { maxNewTokens: 6, padId: 0, seed: 5, greedy: true };
      const [free] = await generate(model, [[2, 7, 11]], { ...opts, eosIds: [] });
      const eos = free[2]; // the first row stops early, the second may not
      const out = await generate(model, [[2, 7, 11], [5, 1]], { ...opts, eosIds: [eos], onToken: (row, id) => seen[row].push(id) });
      expect(out[0]).toEqual(free.slice(0, free.indexOf(eos) + 1));
      expect(seen).toEqual(out);
      model.dispose();
    });
  });
}

describe('PEFT adapters', () => {
  it('save and load adapter_config.json + adapter_model.safetensors under PEFT names', async () => {
    const { mkdtemp, readFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { saveLora, loadLora } = await import('../../colar/llama/lora.js');
    const { openSafetensors } = await import('../../colar/llama/safetensors.js');
    const dir = await mkdtemp(join(tmpdir(), 'lora-'));
    const cfg = { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'] };
    const a = initLlama(cpu, config, new E.Rng(8), 0.2);
    applyLora(a, cfg, new E.Rng(9));
    a.layers[1].v.lora!.B.assign(Array.from({ length: a.layers[1].v.lora!.B.size }, (_, i) => i / 100));
    await saveLora(a, cfg, dir, 'test-base');
    const written = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8'));
    expect(written).toMatchObject({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj'], base_model_name_or_path: 'test-base' });
    const f = await openSafetensors(join(dir, 'adapter_model.safetensors'));
    expect(f.tensors.map((t) => t.name).sort()).toContain('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight');
    await f.close();
    const b = initLlama(cpu, config, new E.Rng(8), 0.2);
    expect(await loadLora(b, dir)).toEqual(cfg);
    const ids = cpu.tensor([1, 2, 3], [1, 3], 'i32');
    const [la, lb] = await Promise.all([a, b].map((m) => E.noGrad(() => m.forward({ ids }).logits!).data()));
    expectClose(lb, la, { rtol: 1e-6, atol: 1e-7 }, 'loaded adapter');
    expect(b.layers[0].q.weight.requiresGrad).toBe(false);
  });
});

describe('llama forward memory on webgpu', () => {
  it("frees each layer's temporaries as the layer ends: what a forward holds does not grow with depth", async () => {
    const [e, gpu] = [await webgpu(), await testGpu()];
    const held = (layers: number) => {
      const model = initLlama(e, { ...config, numHiddenLayers: layers }, new E.Rng(3), 0.2);
      const before = gpu.pool.getStats().bytesInUse;
      let during = 0;
      E.noGrad(() =>
        e.scope(() => {
          model.forward({ ids: e.tensor([5, 9, 2, 33, 17, 8, 21, 4], [2, 4], 'i32'), logitsFor: 'none' });
          during = gpu.pool.getStats().bytesInUse - before;
        }),
      );
      model.dispose();
      return during;
    };
    expect(held(6)).toBe(held(2));
  });
});
