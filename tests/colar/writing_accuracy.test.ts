// The writing diagnostic: which groups hold result digits, and the nearest-target comparison,
// checked with stand-in heads whose means are the true targets (all right) or another slot's.
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { encodeExample } from '../../datasets/prompt.js';
import { arithmeticDataset } from '../../datasets/synthetic.js';
import type { LatentHead } from '../../colar/latent_head.js';
import { buildRunModel } from '../../colar/run.js';
import { buildSlotBatch } from '../../colar/sequence.js';
import { slotEmbeddings } from '../../colar/sft.js';
import { resolveConfig } from '../../colar/train_config.js';
import { latentWritingAccuracy, resultGroups } from '../../colar/writing_accuracy.js';
import { cpu } from '../helpers/engines.js';

const small = ['model.hidden_size=16', 'model.layers=1', 'model.heads=2', 'model.kv_heads=1', 'model.intermediate_size=24', 'colar.head_intermediate=8'];

describe('latent writing accuracy', () => {
  it('flags the groups that hold digits of a result, then the answer "###" as none', async () => {
    const run = await buildRunModel(cpu, resolveConfig('tiny', 'colar', small), false);
    const steps = encodeExample(run.prompt, { question: 'q', steps: ['<<59-18=41>>', '<<41*6=246>>'], answer: '246' }, 1).steps.slice(1);
    const decode = (id: number) => run.tokenizer.decode([id]);
    const flagged = resultGroups(decode, steps, 1);
    expect(flagged).toHaveLength(steps.length + 1);
    expect(steps.filter((_, i) => flagged[i]).map(decode).join('')).toBe('41246');
    const pairs = resultGroups(decode, steps, 2);
    expect(pairs).toEqual([...Array.from({ length: Math.ceil(steps.length / 2) }, (_, g) => flagged[2 * g] || (flagged[2 * g + 1] ?? false)), false]);
    run.model.dispose();
  });

  it('scores a head that writes the true targets all right, and one a slot off almost all wrong', async () => {
    const run = await buildRunModel(cpu, resolveConfig('tiny', 'colar', small), true);
    const records = arithmeticDataset('test', 6, 0);
    const c = 2;
    const batch = buildSlotBatch(records.map((r) => encodeExample(run.prompt, r, c)), { compression: c, pooling: 'sqrt', padId: run.prompt.padId, random: () => 0 });
    const d = run.model.config.hiddenSize;
    const N = batch.latentSlots.length;
    const targets = (shift: number) =>
      E.scale(E.embedding(E.reshape(slotEmbeddings(run.model, batch), [batch.B * batch.L, d]), cpu.tensor(batch.latentSlots.map((_, i) => batch.latentSlots[(i + shift) % N] + 1), [N], 'i32')), 1 / run.head!.embedStd);
    const standIn = (shift: number) => ({ ...run, head: { embedStd: run.head!.embedStd, forward: () => ({ mean: targets(shift), logStd: cpu.zeros([N, d]) }) } as unknown as LatentHead });
    const exact = await latentWritingAccuracy(standIn(0), records, { compression: c, pooling: 'sqrt', batchSize: 6 });
    expect(exact.slots).toBe(N);
    expect(batch.chainSlots.reduce((s, n) => s + n, 0)).toBe(N);
    expect([exact.nearest, exact.nearestResult, exact.nearestOther, exact.relativeError]).toEqual([1, 1, 1, 0]);
    const shifted = await latentWritingAccuracy(standIn(1), records, { compression: c, pooling: 'sqrt', batchSize: 6 });
    expect(shifted.nearest).toBeLessThan(0.2); // only where a neighbouring group is identical
    expect(shifted.relativeError).toBeGreaterThan(0.5);
    run.model.dispose();
  });
});
