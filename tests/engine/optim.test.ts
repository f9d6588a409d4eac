// AdamW and clipping against values computed by hand; RNG reproducibility.
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { cpu, webgpu } from '../helpers/engines.js';

for (const name of ['cpu', 'webgpu'] as const) {
  const engine = async () => (name === 'cpu' ? cpu : await webgpu());
  describe(`optimizer on ${name}`, () => {
    it('AdamW takes PyTorch steps (decoupled decay, bias correction)', async () => {
      const e = await engine();
      const p = e.parameter(e.tensor([1.0, -2.0]));
      const opt = new E.AdamW([p], { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5 });
      const grads = [[0.5, -1.0], [0.25, 2.0]];
      // by hand: p ← p(1 − lr·wd); m, v moments; p ← p − lr·m̂/(√v̂ + eps)
      const ref = [1.0, -2.0];
      const m = [0, 0];
      const v = [0, 0];
      for (let t = 1; t <= 2; t++) {
        p.grad = e.tensor(grads[t - 1]);
        E.keep(p.grad);
        opt.update();
        opt.zeroGrad();
        for (let i = 0; i < 2; i++) {
          const g = grads[t - 1][i];
          ref[i] *= 1 - 0.1 * 0.5;
          m[i] = 0.9 * m[i] + 0.1 * g;
          v[i] = 0.999 * v[i] + 0.001 * g * g;
          ref[i] -= (0.1 * (m[i] / (1 - 0.9 ** t))) / (Math.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8);
        }
      }
      const got = await p.array();
      expect(got[0]).toBeCloseTo(ref[0], 5);
      expect(got[1]).toBeCloseTo(ref[1], 5);
      opt.dispose();
      p.dispose();
    });

    it('clipGradNorm returns [scale, norm] over all gradients', async () => {
      const e = await engine();
      const a = e.parameter(e.tensor([3, 0]));
      const b = e.parameter(e.tensor([4]));
      a.grad = E.keep(e.tensor([3, 0]));
      b.grad = E.keep(e.tensor([4]));
      const [scale, norm] = await E.clipGradNorm([a, b], 1).array();
      expect(norm).toBeCloseTo(5, 5);
      expect(scale).toBeCloseTo(1 / (5 + 1e-6), 5);
      const [noClip] = await E.clipGradNorm([a, b], 10).array();
      expect(noClip).toBe(1);
      a.dispose();
      b.dispose();
    });

    it('random streams reproduce from (seed, offset) and differ across seeds', async () => {
      const e = await engine();
      const first = await new E.Rng(42).normal(e, [1000]).array();
      const again = await new E.Rng(42).normal(e, [1000]).array();
      const other = await new E.Rng(43).normal(e, [1000]).array();
      expect(again).toEqual(first);
      expect(other).not.toEqual(first);
      const mean = first.reduce((s, x) => s + x, 0) / first.length;
      expect(Math.abs(mean)).toBeLessThan(0.15); // 4.7 standard errors
      const rng = new E.Rng(7);
      rng.uniform(e, [10]);
      const resumed = E.Rng.fromState(rng.state());
      expect(await resumed.uniform(e, [5]).array()).toEqual(await rng.uniform(e, [5]).array());
    });
  });
}

it('CPU and WebGPU draw the same uniforms for the same (seed, offset)', async () => {
  const g = await webgpu();
  const a = await new E.Rng(9).uniform(cpu, [257]).array();
  const b = await new E.Rng(9).uniform(g, [257]).array();
  for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 6);
});
