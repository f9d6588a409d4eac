// GRPO pieces against hand-computed values: advantages, the clipped ratio objective and its
// gradient, aggregation; the latent log-density against finite differences.
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { aggregationWeights, clippedObjective, groupAdvantages } from '../../colar/grpo.js';
import { cpu } from '../helpers/engines.js';
import { checkOp } from '../helpers/op_check.js';

describe('grpo', () => {
  it('normalises rewards within each group with the unbiased std', () => {
    // group [1, 0, 0, 1]: mean 0.5, unbiased std √(4·0.25/3) = 0.57735
    const a = groupAdvantages([1, 0, 0, 1, 1, 1, 1, 1], 4);
    expect(a[0]).toBeCloseTo(0.5 / 0.5773503, 5);
    expect(a[1]).toBeCloseTo(-0.5 / 0.5773503, 5);
    expect(a.slice(4)).toEqual([0, 0, 0, 0]); // equal rewards: no signal
    expect(() => groupAdvantages([1, 0, 1], 2)).toThrow(/groups of 2/);
  });

  it('aggregates per sample by mean (1/n) or sum/32, then averages over samples', () => {
    expect(aggregationWeights([2, 1], 'mean')).toEqual([0.25, 0.25, 0.5]);
    expect(aggregationWeights([2, 1], 'sum32')).toEqual([1 / 64, 1 / 64, 1 / 64]);
  });

  it('takes min(ρA, clip(ρ)A) with the clipped branch passing no gradient', async () => {
    // ρ = e^(logp − old): positions with ρ = 1.5 (A = +1, clipped to 1.2), ρ = 0.5 (A = −1, clipped to 0.8), ρ = 1.1 (A = 2, inside)
    const logp = cpu.parameter(cpu.tensor([Math.log(1.5), Math.log(0.5), Math.log(1.1)]));
    const old = cpu.tensor([0, 0, 0]);
    const adv = cpu.tensor([1, -1, 2]);
    const w = cpu.tensor([1, 1, 1]);
    const { loss, clipFraction } = clippedObjective(logp, old, adv, w, 0.2);
    // objective: min(1.5, 1.2) = 1.2; min(−0.5, −0.8) = −0.8; min(2.2, 2.2) = 2.2 → loss −(1.2 − 0.8 + 2.2)
    expect(await loss.item()).toBeCloseTo(-2.6, 10);
    expect(await clipFraction.item()).toBeCloseTo(2 / 3, 10);
    E.backward(loss);
    // d/dlogp of −ρA where unclipped: −A·ρ; the clipped positions get 0
    const g = await logp.grad!.array();
    expect(g[0]).toBe(0);
    expect(g[1]).toBe(0);
    expect(g[2]).toBeCloseTo(-2 * 1.1, 10);
  });
});

describe('diagonal-Gaussian log-density averaged over dimensions', () => {
  it('matches finite differences in x, μ and log σ', async () => {
    await checkOp(
      'latent log-density',
      [{ shape: [3, 5], input: { kind: 'float' }, grad: true }, { shape: [3, 5], input: { kind: 'float' }, grad: true }, { shape: [3, 5], input: { kind: 'float', scale: 0.5 }, grad: true }],
      ([x, mu, logStd]) => E.mean(E.gaussianLogProb(x, mu, logStd), { axis: 1 }),
      { forward: { rtol: 1e-5, atol: 1e-6 }, gradient: { rtol: 1e-5, atol: 1e-6 } },
      21,
    );
  });
});
