// A small MLP trained end to end on WebGPU: the pool must stop growing after warm-up (no leak
// over 1,000 steps), and the model must fit a nonlinear target.
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { seeded, webgpu } from '../helpers/engines.js';

function makeMlp(e: E.Engine, rng: E.Rng) {
  const w1 = e.parameter(E.scale(rng.normal(e, [32, 2]), 0.7));
  const b1 = e.parameter(e.zeros([32]));
  const w2 = e.parameter(E.scale(rng.normal(e, [1, 32]), 0.18));
  const b2 = e.parameter(e.zeros([1]));
  const forward = (x: E.Tensor) => E.linear(E.tanh(E.linear(x, w1, b1)), w2, b2);
  return { params: [w1, b1, w2, b2], forward };
}

/** y = sin(2·x0)·cos(x1) on 64 fixed points in [-1.5, 1.5]². */
function dataset(e: E.Engine) {
  const rand = seeded(5);
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < 64; i++) {
    const a = rand() * 3 - 1.5;
    const b = rand() * 3 - 1.5;
    xs.push(a, b);
    ys.push(Math.sin(2 * a) * Math.cos(b));
  }
  return { x: E.keep(e.tensor(xs, [64, 2])), y: E.keep(e.tensor(ys, [64, 1])) };
}

describe('MLP training on webgpu', () => {
  it('fits a nonlinear function and stops growing the pool after warm-up over 1,000 steps', async () => {
    const e = await webgpu();
    const gpu = e.gpu ?? (e.backend as unknown as { gpu: import('../../kernels/gpu.js').Gpu }).gpu;
    const { x, y } = dataset(e);
    const mlp = makeMlp(e, new E.Rng(1));
    const opt = new E.AdamW(mlp.params, { lr: 0.01, weightDecay: 0 });
    const losses: number[] = [];
    let ownedAfterWarmup = 0;
    let inUseAfterWarmup = 0;
    for (let step = 1; step <= 1000; step++) {
      const loss = e.scope(() => {
        const l = E.mseLoss(mlp.forward(x), y);
        E.backward(l);
        const clip = E.clipGradNorm(mlp.params, 1.0);
        E.noGrad(() => opt.update(clip));
        opt.zeroGrad();
        return l;
      });
      if (step % 100 === 0) losses.push(await loss.item());
      loss.dispose();
      if (step === 100) {
        await e.sync();
        ({ bytesOwned: ownedAfterWarmup, bytesInUse: inUseAfterWarmup } = gpu.pool.getStats());
      }
    }
    await e.sync();
    const stats = gpu.pool.getStats();
    expect(stats.bytesOwned).toBe(ownedAfterWarmup);
    expect(stats.bytesInUse).toBe(inUseAfterWarmup);
    // the target's variance is about 0.2; a fitted 2-32-1 net reaches well under 1% of it
    expect(losses[losses.length - 1]).toBeLessThan(0.002);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] / 5);
    for (const t of [...mlp.params, x, y]) t.dispose();
    opt.dispose();
  });
});
