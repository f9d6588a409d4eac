// The multi-token objective: targets k slots ahead, zero-initialised heads that start as the
// next-token head, and the loss's gradient against central differences in float64.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { encodeExample } from '../../datasets/prompt.js';
import { arithmeticDataset } from '../../datasets/synthetic.js';
import { MultiTokenHeads, targetsAhead } from '../../colar/multi_token.js';
import { buildRunModel } from '../../colar/run.js';
import { buildSlotBatch, IGNORE_INDEX as X } from '../../colar/sequence.js';
import { resolveConfig } from '../../colar/train_config.js';
import { cpu, seeded } from '../helpers/engines.js';

const small = ['model.hidden_size=8', 'model.layers=1', 'model.heads=2', 'model.kv_heads=1', 'model.intermediate_size=12'];

describe('multi-token objective', () => {
  it('shifts targets by k − 1 slots where the slot is trained and the later one exists', () => {
    const targets = Int32Array.from([X, 5, 6, 7, X, /* row 2 */ X, X, 8, 9, 3]);
    expect([...targetsAhead(targets, 2, 5, 1)]).toEqual([...targets]);
    expect([...targetsAhead(targets, 2, 5, 2)]).toEqual([X, 6, 7, X, X, X, X, 9, 3, X]);
    expect([...targetsAhead(targets, 2, 5, 3)]).toEqual([X, 7, X, X, X, X, X, 3, X, X]);
  });

  it('starts as the next-token head on shifted targets; its gradient matches finite differences', async () => {
    const cfg = resolveConfig('tiny', 'cot', small);
    const run = await buildRunModel(cpu, cfg, false);
    const records = arithmeticDataset('train', 3, 0);
    const batch = buildSlotBatch(records.map((r) => encodeExample(run.prompt, r, 1)), { compression: 1, pooling: 'sqrt', padId: run.prompt.padId, random: () => 0 });
    const d = run.model.config.hiddenSize;
    const hidden = E.noGrad(() => run.model.forward({ ids: cpu.tensor(batch.ids, [batch.B, batch.L], 'i32'), keyMask: cpu.tensor(batch.mask, [batch.B, batch.L]), logitsFor: 'none' }).hidden);
    const zero = MultiTokenHeads.init(cpu, d, 3);
    const expected = (ahead: number) => E.crossEntropy(E.reshape(run.model.lmLogits(hidden), [batch.B * batch.L, -1]), cpu.tensor(targetsAhead(batch.targets, batch.B, batch.L, ahead), [batch.B * batch.L], 'i32'));
    const mean = ((await expected(2).item()) + (await expected(3).item())) / 2;
    expect(await zero.loss(run.model, hidden, batch.targets).item()).toBeCloseTo(mean, 10);

    // with trained heads: head j scores the LM head on h + W_j·h (computed here on the host)
    const rows = batch.B * batch.L;
    const h = await hidden.array();
    const rand = seeded(7);
    const weights = [0, 1].map(() => Array.from({ length: d * d }, () => 0.3 * (rand() - 0.5)));
    const reference = async (w: number[], ahead: number) => {
      const moved = h.map((v, i) => v + Array.from({ length: d }, (_, k) => w[(i % d) * d + k] * h[Math.floor(i / d) * d + k]).reduce((s, x) => s + x, 0));
      return E.crossEntropy(run.model.lmLogits(cpu.tensor(moved, [rows, d])), cpu.tensor(targetsAhead(batch.targets, batch.B, batch.L, ahead), [rows], 'i32')).item();
    };
    const trained = new MultiTokenHeads(weights.map((w) => cpu.tensor(w, [d, d])));
    const referenceMean = ((await reference(weights[0], 2)) + (await reference(weights[1], 3))) / 2;
    expect(await trained.loss(run.model, hidden, batch.targets).item()).toBeCloseTo(referenceMean, 10);

    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1000 }), fc.nat(d * d - 1), fc.integer({ min: 0, max: 1 }), async (seed, entry, head) => {
        const rand = seeded(seed);
        const heads = new MultiTokenHeads([0, 1].map(() => cpu.parameter(cpu.tensor(Array.from({ length: d * d }, () => 0.3 * (rand() - 0.5)), [d, d]))));
        const loss = heads.loss(run.model, hidden, batch.targets);
        E.backward(loss);
        const analytic = (await heads.weights[head].grad!.array())[entry];
        const values = await heads.weights[head].array();
        const at = async (delta: number) => {
          const moved = [...values];
          moved[entry] += delta;
          const w = heads.weights.map((t, i) => (i === head ? cpu.tensor(moved, [d, d]) : t));
          return E.noGrad(() => new MultiTokenHeads(w).loss(run.model, hidden, batch.targets)).item();
        };
        const h = 1e-6;
        const numeric = ((await at(h)) - (await at(-h))) / (2 * h);
        expect(Math.abs(analytic - numeric)).toBeLessThan(1e-6 + 1e-5 * Math.abs(numeric));
      }),
      { numRuns: 8 },
    );
    run.model.dispose();
  });

  it('is a CoT-stage objective: a CoLaR run with it is a config error', () => {
    expect(() => resolveConfig('tiny', 'colar', ['train.multi_token=2'])).toThrow('config train.multi_token: a CoT-stage objective (stage cot or nocot), got 2 with stage colar');
    expect(() => resolveConfig('tiny', 'cot', ['train.multi_token=0'])).toThrow('config train.multi_token: expected an integer ≥ 1, got 0');
  });
});
