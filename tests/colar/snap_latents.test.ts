// The snapping diagnostic: each latent is replaced by the embedding-table row nearest to it
// (checked against a brute-force search on random latents), and only at compression 1.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { latentReasoning, nearestTokenEmbeddings, PAPER_ANSWER_SAMPLING } from '../../colar/inference.js';
import { buildRunModel } from '../../colar/run.js';
import { resolveConfig } from '../../colar/train_config.js';
import { cpu, seeded } from '../helpers/engines.js';

const small = ['model.hidden_size=8', 'model.layers=1', 'model.heads=2', 'model.kv_heads=1', 'model.intermediate_size=12', 'colar.head_intermediate=8'];

describe('latents snapped to token embeddings', () => {
  it('feeds the nearest row of the embedding table', async () => {
    const run = await buildRunModel(cpu, resolveConfig('tiny', 'colar', small), true);
    const table = await run.model.embedTokens.array();
    const d = run.model.config.hiddenSize;
    const V = table.length / d;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.nat(1000), async (B, seed) => {
        const rand = seeded(seed);
        const z = Array.from({ length: B * d }, () => 0.2 * (rand() - 0.5));
        const snapped = await nearestTokenEmbeddings(run.model, cpu.tensor(z, [B, 1, d])).array();
        for (let b = 0; b < B; b++) {
          let best = 0;
          let bestDistance = Infinity;
          for (let v = 0; v < V; v++) {
            let s = 0;
            for (let k = 0; k < d; k++) s += (z[b * d + k] - table[v * d + k]) ** 2;
            if (s < bestDistance) [best, bestDistance] = [v, s];
          }
          expect(snapped.slice(b * d, (b + 1) * d)).toEqual(table.slice(best * d, (best + 1) * d));
        }
      }),
      { numRuns: 10 },
    );
    const options = { compression: 2, maxLatentSteps: 2, latentTemperature: 1, deterministic: true, stopTemperature: 0, answer: PAPER_ANSWER_SAMPLING, seed: 0, snapToTokens: true };
    await expect(latentReasoning(run.model, run.head!, run.prompt, ['q'], options)).rejects.toThrow('snapping latents to token embeddings needs compression 1');
    run.model.dispose();
  });
});
