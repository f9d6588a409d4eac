// The training-step profile: every kernel a CoT and a CoLaR step dispatch falls in a named
// family, the families and the kernels each account for all of the step's timed dispatches, and
// the step is rated against the best matmul it is given.
import { describe, expect, it } from 'vitest';
import { benchStepProfile } from '../../bench/e2e.js';
import { testGpu } from '../helpers/gpu.js';
import { webgpu } from '../helpers/engines.js';

describe('bench profile', () => {
  it('splits a CoT and a CoLaR step of the tiny preset by kernel family, rated against the best matmul', async () => {
    const records = await benchStepProfile(await webgpu(), await testGpu(), { preset: 'tiny' }, 10);
    for (const stage of ['cot', 'colar']) {
      const of = (name: string) => records.filter((r) => r.name === `${stage}_${name}`);
      const [step] = of('step');
      expect(step.gflops! * 10).toBeCloseTo(step.pct_of_ceiling!, 6);
      expect(step.tokens_per_s).toBeGreaterThan(0);
      const kernelMs = of('step_kernels')[0].ms_median;
      expect(kernelMs).toBeGreaterThan(0);
      const families = of('family').map((r) => r.shape.replace(/ x\d+$/, ''));
      expect(families).not.toContain('other');
      expect(families).toEqual(expect.arrayContaining(['matmul products', 'attention', 'norms', 'cross-entropy', 'optimizer']));
      for (const part of ['family', 'kernel']) expect(of(part).reduce((s, r) => s + r.ms_median, 0)).toBeCloseTo(kernelMs, 3);
    }
    expect(records.find((r) => r.name === 'latent_decode')!.steps_per_s).toBeGreaterThan(0);
  });
});
