// pred_embed_forward: the second pass feeds the head's samples into exactly the slots the head
// predicts. Fed the gold embeddings it must reproduce the first pass's CE; its gradient with
// respect to the samples must match central differences (float64).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { encodeExample } from '../../datasets/prompt.js';
import { arithmeticDataset } from '../../datasets/synthetic.js';
import { buildRunModel } from '../../colar/run.js';
import { buildSlotBatch } from '../../colar/sequence.js';
import { DEFAULT_SFT_LOSS, ownLatentsCE, sftLosses, slotEmbeddings } from '../../colar/sft.js';
import { resolveConfig } from '../../colar/train_config.js';
import { cpu, seeded } from '../helpers/engines.js';

const small = ['model.hidden_size=8', 'model.layers=1', 'model.heads=2', 'model.kv_heads=1', 'model.intermediate_size=12', 'colar.head_intermediate=8'];

describe('pred_embed_forward (second pass on the head\'s own latents)', () => {
  it('fed the gold embeddings equals the first pass; its gradient reaches the samples', async () => {
    const run = await buildRunModel(cpu, resolveConfig('tiny', 'colar', small), true);
    const records = arithmeticDataset('train', 3, 0);
    const batch = buildSlotBatch(records.map((r) => encodeExample(run.prompt, r, 2)), { compression: 2, pooling: 'sqrt', padId: run.prompt.padId, random: () => 0.5 });
    const { B, L } = batch;
    const d = run.model.config.hiddenSize;
    const N = batch.latentSlots.length;
    const inputs = E.noGrad(() => slotEmbeddings(run.model, batch));
    const gold = E.embedding(E.reshape(inputs, [B * L, d]), cpu.tensor(batch.latentSlots.map((s) => s + 1), [N], 'i32'));
    const first = E.noGrad(() => run.model.forward({ embeds: inputs, keyMask: cpu.tensor(batch.mask, [B, L]) }).logits!);
    const ce = await E.crossEntropy(E.reshape(first, [B * L, -1]), cpu.tensor(batch.targets, [B * L], 'i32')).item();
    expect(await E.noGrad(() => ownLatentsCE(run.model, batch, inputs, gold)).item()).toBeCloseTo(ce, 10);
    expect(Math.abs((await E.noGrad(() => ownLatentsCE(run.model, batch, inputs, cpu.zeros([N, d]))).item()) - ce)).toBeGreaterThan(1e-3);

    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1000 }), fc.nat(N * d - 1), async (seed, entry) => {
        const rand = seeded(seed);
        const values = Array.from({ length: N * d }, () => rand() - 0.5);
        const samples = cpu.parameter(cpu.tensor(values, [N, d]));
        E.backward(ownLatentsCE(run.model, batch, inputs, samples));
        const analytic = (await samples.grad!.array())[entry];
        const at = (delta: number) => {
          const moved = [...values];
          moved[entry] += delta;
          return E.noGrad(() => ownLatentsCE(run.model, batch, inputs, cpu.tensor(moved, [N, d]))).item();
        };
        const h = 1e-6;
        const numeric = ((await at(h)) - (await at(-h))) / (2 * h);
        expect(Math.abs(analytic - numeric)).toBeLessThan(1e-7 + 1e-5 * Math.abs(numeric));
      }),
      { numRuns: 6 },
    );

    const withSecondPass = sftLosses(run.model, run.head, batch, { ...DEFAULT_SFT_LOSS, predEmbedForwardWeight: 0.5 }, new E.Rng(3));
    const [total, ce1, latent, second] = await Promise.all([withSecondPass.total, withSecondPass.ce, withSecondPass.latent!, withSecondPass.predEmbedForward!].map((t) => t.item()));
    expect(total).toBeCloseTo(ce1 + latent + 0.5 * second, 10);
    run.model.dispose();
  });

  it("in the reference's variant feeds each chain slot after \"###\" the sample its own state drew, and leaves the answer's \"###\" gold", async () => {
    const run = await buildRunModel(cpu, resolveConfig('tiny', 'colar', small), true);
    const records = arithmeticDataset('train', 3, 1);
    const batch = buildSlotBatch(records.map((r) => encodeExample(run.prompt, r, 2)), { compression: 2, pooling: 'sqrt', padId: run.prompt.padId, random: () => 0.5 });
    const { B, L } = batch;
    const d = run.model.config.hiddenSize;
    const N = batch.latentSlots.length;
    const inputs = E.noGrad(() => slotEmbeddings(run.model, batch));
    const gather = (slots: number[]) => E.embedding(E.reshape(inputs, [B * L, d]), cpu.tensor(slots, [slots.length], 'i32'));
    const ce = await E.crossEntropy(E.reshape(E.noGrad(() => run.model.forward({ embeds: inputs, keyMask: cpu.tensor(batch.mask, [B, L]) }).logits!), [B * L, -1]), cpu.tensor(batch.targets, [B * L], 'i32')).item();
    const reference = (samples: E.Tensor) => E.noGrad(() => ownLatentsCE(run.model, batch, inputs, samples, 'reference')).item();
    // sample k = the gold input of its own slot: nothing changes
    expect(await reference(gather([...batch.latentSlots]))).toBeCloseTo(ce, 10);
    // the aligned variant's gold (the next slot's input) is not what this one expects
    expect(Math.abs((await reference(gather(batch.latentSlots.map((s) => s + 1)))) - ce)).toBeGreaterThan(1e-3);
    // the "###" slots keep their gold input: changing the samples drawn there changes nothing
    const chain = new Set(batch.latentSlots);
    const noisyAtSeparators = Array.from({ length: N }, (_, k) => (chain.has(batch.latentSlots[k] - 1) ? 0 : 1));
    const own = await gather([...batch.latentSlots]).data();
    const moved = cpu.tensor(Array.from(own, (x, i) => x + 5 * noisyAtSeparators[Math.floor(i / d)]), [N, d]);
    expect(await reference(moved)).toBeCloseTo(ce, 10);
    run.model.dispose();
  });
});
