// Inverted dropout's meaning (ops.test.ts checks its kernels and gradient): a fraction p of the
// entries is zeroed, the rest scaled by 1/(1 − p), on both backends with the same mask.
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { cpu, webgpu } from '../helpers/engines.js';

describe('dropout', () => {
  it('zeroes about p of the entries and scales the rest by 1/(1 − p)', async () => {
    for (const e of [cpu, await webgpu()]) {
      const x = e.ones([20000]);
      const y = await E.dropout(x, 0.3, new E.Rng(3).uniformLike(x)).data();
      const kept = Array.from(y).filter((v) => v !== 0);
      expect(Math.abs(1 - kept.length / y.length - 0.3)).toBeLessThan(0.015);
      for (const v of kept) expect(v).toBeCloseTo(1 / 0.7, 6);
    }
    expect(() => E.dropout(cpu.ones([2]), 1, cpu.ones([2]))).toThrow(/p must be in \[0, 1\)/);
  });
});
