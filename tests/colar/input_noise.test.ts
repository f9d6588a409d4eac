// The input-noise lever: only the compressed groups fed are perturbed, by σ·embedStd per entry,
// and the latent head still learns the clean targets. Checked by rebuilding the losses by hand
// from the same random stream.
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { encodeExample } from '../../datasets/prompt.js';
import { arithmeticDataset } from '../../datasets/synthetic.js';
import { buildRunModel } from '../../colar/run.js';
import { buildSlotBatch } from '../../colar/sequence.js';
import { DEFAULT_SFT_LOSS, groupSlotMask, latentHeadPairs, sftLosses, slotEmbeddings } from '../../colar/sft.js';
import { resolveConfig } from '../../colar/train_config.js';
import { cpu } from '../helpers/engines.js';

const small = ['model.hidden_size=8', 'model.layers=1', 'model.heads=2', 'model.kv_heads=1', 'model.intermediate_size=12', 'colar.head_intermediate=8'];

describe('noise on the compressed groups fed (colar.input_noise)', () => {
  it('marks each row\'s groups: the chain slots after its opening "###"', async () => {
    const run = await buildRunModel(cpu, resolveConfig('tiny', 'colar', small), true);
    for (const c of [1, 3]) {
      const batch = buildSlotBatch(arithmeticDataset('train', 4, c).map((r) => encodeExample(run.prompt, r, c)), { compression: c, pooling: 'sqrt', padId: run.prompt.padId, random: () => 0.5 });
      const mask = groupSlotMask(batch);
      for (let b = 0; b < batch.B; b++) {
        const chain = Array.from(batch.latentSlots).filter((s) => Math.floor(s / batch.L) === b);
        const marked = Array.from({ length: batch.L }, (_, t) => b * batch.L + t).filter((s) => mask[s] === 1);
        expect(marked).toEqual(chain.slice(1));
        expect(marked).toHaveLength(batch.chainSlots[b] - 1);
      }
    }
    run.model.dispose();
  });

  it('perturbs only those slots, by σ·embedStd, and keeps the latent targets clean', async () => {
    const run = await buildRunModel(cpu, resolveConfig('tiny', 'colar', small), true);
    const head = run.head!;
    const batch = buildSlotBatch(arithmeticDataset('train', 3, 0).map((r) => encodeExample(run.prompt, r, 2)), { compression: 2, pooling: 'sqrt', padId: run.prompt.padId, random: () => 0.5 });
    const { B, L } = batch;
    const d = run.model.config.hiddenSize;
    const sigma = 0.7;
    const losses = E.noGrad(() => sftLosses(run.model, head, batch, { ...DEFAULT_SFT_LOSS, inputNoise: sigma }, new E.Rng(5)));

    const rng = new E.Rng(5);
    const [ce, latent] = E.noGrad(() => {
      const inputs = slotEmbeddings(run.model, batch);
      const noise = E.mul(E.scale(rng.normal(cpu, [B, L, d]), sigma * head.embedStd), cpu.tensor(groupSlotMask(batch), [B, L, 1]));
      const { logits, hidden } = run.model.forward({ embeds: E.add(inputs, noise), keyMask: cpu.tensor(batch.mask, [B, L]) });
      const { h, target } = latentHeadPairs(run.model, batch, inputs, hidden, head.embedStd);
      const { mean, logStd } = head.forward(h);
      const sample = E.add(mean, E.mul(E.exp(logStd), rng.normal(cpu, mean.shape)));
      return [E.crossEntropy(E.reshape(logits!, [B * L, -1]), cpu.tensor(batch.targets, [B * L], 'i32')), E.mseLoss(sample, target)];
    });
    expect(await losses.ce.item()).toBeCloseTo(await ce.item(), 10);
    expect(await losses.latent!.item()).toBeCloseTo(await latent.item(), 10);
    const clean = E.noGrad(() => sftLosses(run.model, head, batch, DEFAULT_SFT_LOSS, new E.Rng(5)));
    expect(Math.abs((await clean.ce.item()) - (await ce.item()))).toBeGreaterThan(1e-4);
    run.model.dispose();
  });
});
