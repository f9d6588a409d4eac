// A plan run end to end on a very small model: every stage trained and marked DONE, every row
// evaluated and cached, results.json and REPRO.md written from them; a rerun skips what is
// finished, a DONE without its checkpoint reruns its stage (and re-evaluates its rows), a stage
// cut short before DONE continues from its checkpoint, a missing row cache re-evaluates that row.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPlanResults, runPlan, type PlanResults } from '../../colar/experiment.js';
import { expandPlan } from '../../colar/plan.js';
import { writePlanReport } from '../../colar/plan_report.js';
import { webgpu } from '../helpers/engines.js';

const tiny = ['model.hidden_size=16', 'model.layers=1', 'model.heads=2', 'model.kv_heads=1', 'model.intermediate_size=24', 'colar.head_intermediate=16',
  'data.n_train=8', 'data.n_val=2', 'train.batch_size=4', 'train.epochs=1', 'train.ckpt_every=1', 'train.val_samples=1', 'train.warmup_steps=1',
  'rl.group_size=2', 'rl.questions_per_step=1', 'rl.samples_per_epoch=1', 'rl.exp_batch_size=2', 'rl.max_latent_steps=4'];

const planData = {
  report: 'repro',
  preset: 'tiny',
  compressions: [1, 2],
  eval: { seeds: 2, questions: 3, batch: 3 },
  overrides: tiny,
  stages: [
    { name: 'cot', stage: 'cot' },
    { name: 'colar', stage: 'colar', init_from: 'cot', overrides: ['colar.compression_factors={compressions}'] },
    { name: 'rl', stage: 'rl', init_from: 'colar' },
  ],
  rows: [
    { row: 'CoT', group: 'baseline', run: 'cot', mode: 'cot' },
    { row: 'CoLaR c={c}', group: 'colar', run: 'colar', mode: 'latent', compression: 'all' },
    { row: 'Head writes c={c}', group: 'writing', run: 'colar', mode: 'head-writes', compression: 'all' },
    { row: 'CoLaR-RL c={c}', group: 'rl', run: 'rl', mode: 'latent', compression: 'rl' },
  ],
};

async function runIn(out: string): Promise<{ results: PlanResults; log: string[] }> {
  const log: string[] = [];
  const plan = expandPlan(planData, 'test-plan.yaml', { out });
  const results = await runPlan(await webgpu(), plan, { command: 'test', log: (l) => log.push(l) });
  await writePlanReport(plan.report, out, results);
  return { results, log };
}

const trained = (log: string[]) => log.filter((l) => /^stage \S+ …$/.test(l)).map((l) => l.split(' ')[1]);
const evaluated = (log: string[]) => log.filter((l) => l.startsWith('eval ')).map((l) => l.split(' (')[0].slice('eval '.length));

describe('running a plan', () => {
  it('trains, evaluates and reports, then reruns only what is not finished', async () => {
    const out = await mkdtemp(join(tmpdir(), 'plan-run-'));
    const first = await runIn(out);
    expect(trained(first.log)).toEqual(['cot', 'colar', 'rl']);
    expect(evaluated(first.log)).toEqual(['cot: CoT', 'colar: CoLaR c=1', 'colar: CoLaR c=2', 'colar: Head writes c=1', 'colar: Head writes c=2', 'rl: CoLaR-RL c=2']);
    expect(first.results.stages.map((s) => [s.name, s.steps])).toEqual([['cot', 2], ['colar', 2], ['rl', 1]]);
    for (const r of first.results.rows.filter((r) => r.mode !== 'head-writes')) expect(r.perSeedAccuracy).toHaveLength(2);
    // a head-writes row samples nothing: one measurement, its accuracy the result-digit groups written right
    for (const r of first.results.rows.filter((r) => r.mode === 'head-writes')) {
      expect(r.writing?.compression).toBe(r.compression);
      expect(r.writing!.slots).toBeGreaterThan(0);
      expect(r.accuracy.mean).toBe(100 * r.writing!.nearestResult);
      expect(r.chainLength.mean).toBe(r.writing!.slots / 3);
    }
    expect(await readPlanResults(out)).toEqual(first.results);
    const report = await readFile(join(out, 'REPRO.md'), 'utf8');
    expect(report).toContain('CoLaR-RL c=2');
    for (const s of ['cot', 'colar', 'rl']) expect(existsSync(join(out, 'runs', s, 'DONE'))).toBe(true);

    // everything finished: nothing is trained or evaluated again, the results are the cached ones
    const again = await runIn(out);
    expect(trained(again.log)).toEqual([]);
    expect(again.log.filter((l) => l.endsWith('done before, skipped'))).toHaveLength(3);
    expect(evaluated(again.log)).toEqual([]);
    expect(again.results.rows).toEqual(first.results.rows);

    // a DONE whose checkpoints are gone is not trusted: that stage trains again, its rows are re-evaluated
    await rm(join(out, 'runs', 'colar', 'checkpoints'), { recursive: true });
    const retrained = await runIn(out);
    expect(trained(retrained.log)).toEqual(['colar']);
    expect(evaluated(retrained.log)).toEqual(['colar: CoLaR c=1', 'colar: CoLaR c=2', 'colar: Head writes c=1', 'colar: Head writes c=2']);

    // a stage killed after its last checkpoint but before DONE continues from that checkpoint
    await rm(join(out, 'runs', 'cot', 'DONE'));
    const continued = await runIn(out);
    expect(trained(continued.log)).toEqual(['cot']);
    expect(continued.log.some((l) => /resum/i.test(l))).toBe(true);
    expect(continued.results.stages[0].steps).toBe(2);

    // a missing row cache: only that row is evaluated
    const rlCache = join(out, 'eval', 'rl');
    for (const f of await readdir(rlCache)) await rm(join(rlCache, f));
    const row = await runIn(out);
    expect(trained(row.log)).toEqual([]);
    expect(evaluated(row.log)).toEqual(['rl: CoLaR-RL c=2']);
  }, 240_000);
});
