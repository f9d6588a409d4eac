// The snapping and trace diagnostics: each latent's nearest embedding-table row and its drift
// (checked against a brute-force search on random latents and on the latents a rollout fed),
// snapping only at compression 1.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { latentReasoning, nearestTokens, PAPER_ANSWER_SAMPLING } from '../../colar/inference.js';
import { buildRunModel } from '../../colar/run.js';
import { resolveConfig } from '../../colar/train_config.js';
import { cpu, seeded } from '../helpers/engines.js';

const small = ['model.hidden_size=8', 'model.layers=1', 'model.heads=2', 'model.kv_heads=1', 'model.intermediate_size=12', 'colar.head_intermediate=8'];

describe('latents snapped to token embeddings', () => {
  it('feeds the nearest row of the embedding table', async () => {
    const run = await buildRunModel(cpu, resolveConfig('tiny', 'colar', small), true);
    const table = await run.model.embedTokens.array();
    const d = run.model.config.hiddenSize;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.nat(1000), async (B, seed) => {
        const rand = seeded(seed);
        const z = Array.from({ length: B * d }, () => 0.2 * (rand() - 0.5));
        const near = nearestTokens(run.model, cpu.tensor(z, [B, 1, d]));
        const [snapped, ids, drift] = await Promise.all([near.embeds.array(), near.ids.array(), near.drift.array()]);
        for (let b = 0; b < B; b++) {
          const { best, distance } = bruteForceNearest(table, z.slice(b * d, (b + 1) * d));
          expect(ids[b]).toBe(best);
          expect(snapped.slice(b * d, (b + 1) * d)).toEqual(table.slice(best * d, (best + 1) * d));
          expect(drift[b]).toBeCloseTo(distance / norm(table.slice(best * d, (best + 1) * d)), 10);
        }
      }),
      { numRuns: 10 },
    );
    const snapping = { compression: 1, maxLatentSteps: 3, latentTemperature: 1, deterministic: false, stopTemperature: 1, answer: PAPER_ANSWER_SAMPLING, seed: 1, snapToTokens: true, captureLatents: true, trace: true };
    const fed = await latentReasoning(run.model, run.head!, run.prompt, ['a question', 'another one'], snapping);
    fed.latents!.forEach((row, b) =>
      row.forEach((z, i) => {
        const id = fed.traces![b].nearest[i];
        expect(Array.from(z)).toEqual(table.slice(id * d, (id + 1) * d).map(Math.fround));
      }),
    );
    const options = { compression: 2, maxLatentSteps: 2, latentTemperature: 1, deterministic: true, stopTemperature: 0, answer: PAPER_ANSWER_SAMPLING, seed: 0, snapToTokens: true };
    await expect(latentReasoning(run.model, run.head!, run.prompt, ['q'], options)).rejects.toThrow('snapping latents to token embeddings needs compression 1');
    run.model.dispose();
  });

  it('traces each latent fed: its nearest tokens, drift and stop probability', async () => {
    const run = await buildRunModel(cpu, resolveConfig('tiny', 'colar', small), true);
    const table = await run.model.embedTokens.array();
    const d = run.model.config.hiddenSize;
    const top = 4;
    const options = { compression: 3, maxLatentSteps: 4, latentTemperature: 1, deterministic: false, stopTemperature: 1, answer: PAPER_ANSWER_SAMPLING, seed: 3, captureLatents: true, trace: true, traceTop: top };
    const result = await latentReasoning(run.model, run.head!, run.prompt, ['a question', 'another one'], options);
    result.traces!.forEach((trace, b) => {
      expect(trace.nearest).toHaveLength(result.chainLengths[b]);
      result.latents![b].forEach((z, i) => {
        const { best, distance } = bruteForceNearest(table, Array.from(z));
        expect(trace.nearest[i]).toBe(best);
        expect(trace.nearestTop[i]).toEqual(bruteForceNearestK(table, Array.from(z), top));
        expect(trace.drift[i]).toBeCloseTo(distance / norm(table.slice(best * d, (best + 1) * d)), 4);
        expect(trace.pStop[i]).toBeGreaterThan(0);
        expect(trace.pStop[i]).toBeLessThan(1);
      });
    });
    run.model.dispose();
  });
});

function bruteForceNearest(table: number[], z: number[]): { best: number; distance: number } {
  const d = z.length;
  let best = 0;
  let squared = Infinity;
  for (let v = 0; v < table.length / d; v++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += (z[k] - table[v * d + k]) ** 2;
    if (s < squared) [best, squared] = [v, s];
  }
  return { best, distance: Math.sqrt(squared) };
}

/** The k rows nearest z, nearest first. */
function bruteForceNearestK(table: number[], z: number[], k: number): number[] {
  const d = z.length;
  const distance = (v: number) => z.reduce((s, x, i) => s + (x - table[v * d + i]) ** 2, 0);
  return Array.from({ length: table.length / d }, (_, v) => v).sort((a, b) => distance(a) - distance(b)).slice(0, k);
}

const norm = (x: number[]) => Math.sqrt(x.reduce((s, v) => s + v * v, 0));
