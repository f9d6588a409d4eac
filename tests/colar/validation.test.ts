// Validation during training decodes as train.val_decoding says: sampled as the test does (the
// reference's), or greedy with mean latents.
import { describe, expect, it, vi } from 'vitest';
import type { EvalOptions } from '../../colar/evaluate.js';
import type { RunModel } from '../../colar/run.js';
import { resolveConfig } from '../../colar/train_config.js';
import { cpu } from '../helpers/engines.js';

const seen: EvalOptions[] = [];
vi.mock('../../colar/evaluate.js', async (original) => ({
  ...(await original<typeof import('../../colar/evaluate.js')>()),
  evaluateAccuracy: async (_engine: unknown, _run: unknown, _records: unknown, o: EvalOptions) => {
    seen.push(o);
    return { accuracy: 0.25, meanChain: 0, msPerQuestion: 0, samples: [] };
  },
}));
const { validationAccuracy } = await import('../../colar/training_loop.js');

describe('validation during training', () => {
  it.each([
    ['sampled', { greedy: false, deterministic: false }],
    ['greedy', { greedy: true, deterministic: true }],
  ])('train.val_decoding=%s decodes %j, on the first val_samples questions at the given c', async (decoding, expected) => {
    seen.length = 0;
    const cfg = resolveConfig('tiny', 'colar', [`train.val_decoding=${decoding}`, 'train.val_samples=3', 'seed=7']);
    const val = Array.from({ length: 5 }, (_, i) => ({ id: String(i), question: `q${i}`, steps: [], answer: '1' }));
    expect(await validationAccuracy(cpu, cfg, {} as RunModel, val, 'latent', 3)).toBe(0.25);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ ...expected, mode: 'latent', compression: 3, seed: 7 });
  });
});
