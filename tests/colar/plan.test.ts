// Plan files: every problem is one line naming the plan file and the field; seeded stages expand
// per training seed and start from the run of their own seed; and plans/repro.yaml expands to
// exactly the stages (resolved configs) and evaluation rows the repro command ran before plans.
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinPlans, expandPlan, planFile, readPlan } from '../../colar/plan.js';
import { resolveConfig, type Stage } from '../../colar/train_config.js';

const stage = (name: string, s: string, extra: Record<string, unknown> = {}) => ({ name, stage: s, ...extra });
const good = () => ({
  preset: 'tiny',
  stages: [stage('cot', 'cot', { overrides: ['train.epochs=1'] }), stage('colar', 'colar', { init_from: 'cot' })],
  rows: [{ row: 'CoLaR c={c}', run: 'colar', mode: 'latent', compression: [1, 2] }],
});

describe('plan files', () => {
  it.each([
    ['(top level) not a mapping', [1, 2], /^P \(top level\): expected a mapping/],
    ['an unknown top-level field', { ...good(), epochs: 3 }, /^P epochs: unknown field/],
    ['no stages', { ...good(), stages: [] }, /^P stages: expected a non-empty list/],
    ['an unknown stage kind', { ...good(), stages: [stage('cot', 'sft')] }, /^P stages\[0\]\.stage: expected one of cot, nocot, colar, rl, got "sft"/],
    ['an unknown stage field', { ...good(), stages: [stage('cot', 'cot', { epochs: 2 })] }, /^P stages\[0\]\.epochs: unknown field/],
    ['a name that is no directory name', { ...good(), stages: [stage('../x', 'cot')] }, /^P stages\[0\]\.name: expected letters/],
    ['a repeated name', { ...good(), stages: [stage('cot', 'cot'), stage('cot', 'nocot')] }, /^P stages\[1\]\.name: a stage named "cot" comes earlier/],
    ['init_from a later stage', { ...good(), stages: [stage('colar', 'colar', { init_from: 'cot' }), stage('cot', 'cot')] }, /^P stages\[0\]\.init_from: no earlier stage named "cot"/],
    ['an override that is not key=value', { ...good(), stages: [stage('cot', 'cot', { overrides: ['epochs'] })] }, /^P stages\[0\]\.overrides\[0\]: expected key=value, got "epochs"/],
    ['an unknown config key', { ...good(), stages: [stage('cot', 'cot', { overrides: ['train.bogus=1'] })] }, /^P stages\[0\]: override "train.bogus=1": no config key train\.bogus/],
    ['a value outside its domain', { ...good(), stages: [stage('cot', 'cot', { overrides: ['train.lr=-1'] })] }, /^P stages\[0\]: config train\.lr: expected a finite number > 0/],
    ['bad seeds', { ...good(), stages: [stage('cot', 'cot', { seeds: [0, 'a'] })] }, /^P stages\[0\]\.seeds: expected a non-empty list of integers ≥ 0/],
    ['a row of an unknown run', { ...good(), rows: [{ row: 'x', run: 'rl', mode: 'latent' }] }, /^P rows\[0\]\.run: no stage named "rl" \(stages: cot, colar\)/],
    ['a bad mode', { ...good(), rows: [{ row: 'x', run: 'cot', mode: 'beam' }] }, /^P rows\[0\]\.mode: expected one of latent, cot, no-cot, teacher-forced/],
    ['a bad compression', { ...good(), rows: [{ row: 'x', run: 'colar', mode: 'latent', compression: 'most' }] }, /^P rows\[0\]\.compression: expected an integer ≥ 1, a list of them, all/],
    ['several factors without {c}', { ...good(), rows: [{ row: 'CoLaR', run: 'colar', mode: 'latent', compression: 'all' }], compressions: [1, 2] }, /^P rows\[0\]\.row: several compression factors need \{c\}/],
    ['a repeated row', { ...good(), rows: [{ row: 'CoT', run: 'cot', mode: 'cot' }, { row: 'CoT', run: 'cot', mode: 'cot', greedy: true }] }, /^P rows\[1\]\.row: run cot already has a row "CoT"/],
    ['a non-boolean greedy', { ...good(), rows: [{ row: 'CoT', run: 'cot', mode: 'cot', greedy: 'yes' }] }, /^P rows\[0\]\.greedy: expected true or false/],
    ['a bad eval setting', { ...good(), eval: { seeds: 0 } }, /^P eval\.seeds: expected an integer ≥ 1, got 0/],
    ['an unknown report', { ...good(), report: 'pdf' }, /^P report: expected one of repro, ablation/],
  ])('refuses %s with one line naming the file and field', (_what, plan, message) => {
    let error: Error | undefined;
    try {
      expandPlan(plan, 'P');
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).toMatch(message);
    expect(error!.message).not.toContain('\n');
  });

  it('names the file when it cannot be read or is not YAML', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plan-'));
    expect(() => readPlan(join(dir, 'none.yaml'))).toThrow(`plan ${join(dir, 'none.yaml')}: cannot read it (no such file)`);
    await writeFile(join(dir, 'bad.yaml'), 'stages: [\n');
    expect(() => readPlan(join(dir, 'bad.yaml'))).toThrow(new RegExp(`^${join(dir, 'bad.yaml')}: not valid YAML`));
    expect(() => planFile('no-such-plan')).toThrow(`plan no-such-plan: no such file, and not a built-in plan (${builtinPlans().join(', ')})`);
    expect(builtinPlans()).toEqual(expect.arrayContaining(['ablation', 'repro', 'tiny-benchmark']));
  });

  it('the run command prints the problem as one line and exits 1 (built: dist/cli/main.js)', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'plan-')), 'plan.yaml');
    await writeFile(file, 'stages:\n  - { name: cot, stage: cot, overrides: [train.lr=0] }\nrows: []\n');
    const r = spawnSync(process.execPath, ['dist/cli/main.js', 'run', file], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`colar-wgpu: ${file} stages[0]: config train.lr: expected a finite number > 0, got 0\n`);
  });

  it('runs a seeded stage once per seed, from the run of its own seed, and a row per run', () => {
    const plan = expandPlan({
      stages: [stage('cot', 'cot', { seeds: [0, 1] }), stage('mse', 'colar', { seeds: [0, 1], init_from: 'cot' }), stage('rl', 'rl', { init_from: 'mse-s1' })],
      rows: [{ row: 'CoLaR c={c}', run: 'mse', mode: 'latent', compression: 'rl' }],
    }, 'P', { out: 'OUT' });
    expect(plan.stages.map((s) => [s.name, s.config.seed, s.config.model.init_from, s.config.out_dir])).toEqual([
      ['cot-s0', 0, null, join('OUT', 'runs', 'cot-s0')],
      ['cot-s1', 1, null, join('OUT', 'runs', 'cot-s1')],
      ['mse-s0', 0, join('OUT', 'runs', 'cot-s0'), join('OUT', 'runs', 'mse-s0')],
      ['mse-s1', 1, join('OUT', 'runs', 'cot-s1'), join('OUT', 'runs', 'mse-s1')],
      ['rl', 0, join('OUT', 'runs', 'mse-s1'), join('OUT', 'runs', 'rl')],
    ]);
    expect(plan.rows.map((r) => [r.run, r.base, r.trainingSeed, r.row])).toEqual([['mse-s0', 'mse', 0, 'CoLaR c=2'], ['mse-s1', 'mse', 1, 'CoLaR c=2']]);
    expect(() => expandPlan({ stages: [stage('cot', 'cot', { seeds: [0, 1] }), stage('colar', 'colar', { init_from: 'cot' })], rows: [] }, 'P'))
      .toThrow(/^P stages\[1\]\.init_from: cot is run per seed \(0, 1\): name one run \(e\.g\. cot-s0\)/);
  });
});

describe('plans/repro.yaml', () => {
  // what colar/repro.ts ran before plans existed, written out as it was (CoLaR since trained 2 epochs)
  function reproBefore(o: { outDir: string; preset: string; compressions: number[]; overrides: string[] }) {
    const dir = (name: string) => JSON.stringify(join(o.outDir, 'runs', name));
    const SFT = ['train.batch_size=16'];
    const colar = ['latent_loss=mse', 'train.lr=1e-3', 'colar.input_noise=0.5', `colar.compression_factors=${JSON.stringify(o.compressions)}`];
    const stages: Array<{ name: string; stage: Stage; overrides: string[] }> = [
      { name: 'cot', stage: 'cot', overrides: [...SFT, 'train.epochs=4'] },
      { name: 'nocot', stage: 'nocot', overrides: [...SFT, 'train.epochs=1'] },
      { name: 'colar', stage: 'colar', overrides: [...SFT, `model.init_from=${dir('cot')}`, ...colar, 'train.epochs=2'] },
      { name: 'rl', stage: 'rl', overrides: [`model.init_from=${dir('colar')}`, 'rl.aggregation=mean'] },
      { name: 'rl-sum32', stage: 'rl', overrides: [`model.init_from=${dir('colar')}`, 'rl.aggregation=sum32'] },
    ];
    const configs = stages.map((p) => ({ name: p.name, config: resolveConfig(o.preset, p.stage, [...o.overrides, ...p.overrides, `out_dir=${JSON.stringify(join(o.outDir, 'runs', p.name))}`]) }));
    const rlCompression = resolveConfig(o.preset, 'rl', o.overrides).rl.compression;
    const rows = [
      { row: 'No-CoT', group: 'baseline', run: 'nocot', mode: 'no-cot', compression: 1 },
      { row: 'CoT', group: 'baseline', run: 'cot', mode: 'cot', compression: 1 },
      ...o.compressions.map((c) => ({ row: `CoLaR c=${c}`, group: 'colar', run: 'colar', mode: 'latent', compression: c })),
      ...o.compressions.map((c) => ({ row: `Teacher-forced c=${c}`, group: 'teacher-forced', run: 'colar', mode: 'teacher-forced', compression: c })),
      { row: `CoLaR-RL c=${rlCompression}`, group: 'rl', run: 'rl', mode: 'latent', compression: rlCompression },
      { row: `CoLaR-RL w/o average c=${rlCompression}`, group: 'ablation', run: 'rl-sum32', mode: 'latent', compression: rlCompression },
    ];
    return { configs, rows };
  }

  it.each([
    ['its defaults', {}, { outDir: 'results', preset: 'tiny', compressions: [1, 2], overrides: [] }],
    ['flags and overrides', { out: 'elsewhere', compressions: [1, 3, 5], overrides: ['seed=7', 'rl.compression=3'] }, { outDir: 'elsewhere', preset: 'tiny', compressions: [1, 3, 5], overrides: ['seed=7', 'rl.compression=3'] }],
  ])('with %s: the same stages, configs and rows as repro ran before', (_what, changes, before) => {
    const plan = readPlan(planFile('repro'), changes);
    const expected = reproBefore(before);
    expect(plan.stages.map((s) => ({ name: s.name, config: s.config }))).toEqual(expected.configs);
    expect(plan.rows.map(({ row, group, run, mode, compression }) => ({ row, group, run, mode, compression }))).toEqual(expected.rows);
    expect(plan.rows.every((r) => !r.greedy)).toBe(true);
    expect(plan.settings).toMatchObject({ preset: 'tiny', seeds: 5, questions: 200, batch: 200 });
    expect(plan.report).toBe('repro');
  });

  it('the other built-in plans expand', () => {
    expect(readPlan(planFile('tiny-benchmark')).stages.map((s) => s.name)).toEqual(['cot', 'c2', 'every-c', 'nocot']);
    const ablation = readPlan(planFile('ablation'));
    expect(ablation.stages).toHaveLength(3 + 1 + 9 * 3 + 2);
    expect(ablation.stages.find((s) => s.name === 'lora-s2')!.config.lora).toMatchObject({ enabled: true, r: 32, alpha: 64 });
  });
});
