// Config keys with domains, presets as files, --config/--print-config, run configs read back,
// and what a resume may change.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { resumedConfig } from '../../colar/stage.js';
import { configToYaml, normalizeRunConfig, presetNames, resolveConfig } from '../../colar/train_config.js';

const dir = mkdtempSync(join(tmpdir(), 'colar-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('config keys', () => {
  it.each([
    ['train.weight_decay=abc', 'config train.weight_decay: expected a finite number ≥ 0, got "abc"'],
    ['train.max_steps=0', 'config train.max_steps: expected an integer ≥ 1 or null, got 0'],
    ['train.max_steps=-3', 'config train.max_steps: expected an integer ≥ 1 or null, got -3'],
    ['train.max_steps=abc', 'config train.max_steps: expected an integer ≥ 1 or null, got "abc"'],
    ['data.n_train=-1', 'config data.n_train: expected an integer ≥ 0, got -1'],
    ['data.n_train=abc', 'config data.n_train: expected an integer ≥ 0, got "abc"'],
    ['data.n_train=0', 'config data.n_train: the built-in task needs at least 1 problem, got 0'],
    ['train.lr=Infinity', 'config train.lr: expected a finite number > 0, got "Infinity"'],
    ['train.grad_clip=-1', 'config train.grad_clip: expected a finite number > 0 or null, got -1'],
    ['train.warmup_steps=-5', 'config train.warmup_steps: expected an integer ≥ 0, got -5'],
    ['train.min_lr_ratio=5', 'config train.min_lr_ratio: expected a finite number ≥ 0 and ≤ 1, got 5'],
    ['train.val_samples=-1', 'config train.val_samples: expected an integer ≥ 0, got -1'],
    ['train.group_by_length=maybe', 'config train.group_by_length: expected true or false, got "maybe"'],
    ['colar.input_noise=-1', 'config colar.input_noise: expected a finite number ≥ 0, got -1'],
    ['lora.target_modules=q_proj,x_proj', 'config lora.target_modules: expected a non-empty list of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, got "q_proj,x_proj"'],
    ['model.kv_heads=3', 'config model.kv_heads: must divide model.heads (4), got 3'],
    ['lr=0.1', 'override "lr=0.1": lr names 2 keys (train.lr, rl.lr); use the full key'],
    ['stage=rl', 'stage="rl": set the stage with --stage rl'],
  ])('%s → one line naming the key, the value and what is allowed', (override, message) => {
    expect(() => resolveConfig('tiny', 'cot', [override])).toThrow(message);
  });

  it('accepts the values at the edges of each domain', () => {
    const cfg = resolveConfig('tiny', 'cot', ['train.min_lr_ratio=1', 'train.warmup_steps=0', 'train.max_steps=1', 'train.weight_decay=0', 'colar.input_noise=0', 'train.max_steps=null']);
    expect(cfg.train.max_steps).toBeNull();
    expect(cfg.out_dir).toBe('runs/tiny-cot');
  });
});

describe('config files', () => {
  it('a preset file resolves to what the preset trains; --config FILE merges over it; overrides come last', () => {
    for (const name of presetNames()) {
      expect(resolveConfig(name, 'colar', [], { configFile: resolve(`configs/${name}.yaml`) })).toEqual(resolveConfig(name, 'colar', []));
    }
    const mine = file('mine.yaml', 'extends: small\ntrain:\n  lr: 0.0005\ncolar:\n  compression_factors: [1, 3]\n');
    const cfg = resolveConfig('tiny', 'colar', ['train.lr=0.0002'], { configFile: mine });
    expect(cfg.model.layers).toBe(resolveConfig('small', 'colar', []).model.layers);
    expect(cfg.colar.compression_factors).toEqual([1, 3]);
    expect(cfg.train.lr).toBe(0.0002);
    const partial = file('partial.yaml', 'train:\n  batch_size: 8\n');
    expect(resolveConfig('tiny', 'cot', [], { configFile: partial })).toEqual(resolveConfig('tiny', 'cot', ['train.batch_size=8']));
  });

  it('names the file and the key for what is wrong in it', () => {
    expect(() => resolveConfig('tiny', 'cot', [], { configFile: file('typo.yaml', 'train:\n  lrr: 1\n') })).toThrow(`${dir}/typo.yaml: unknown key train.lrr`);
    expect(() => resolveConfig('tiny', 'cot', [], { configFile: file('bad.yaml', 'train: [1, 2\n') })).toThrow(new RegExp(`^${dir}/bad.yaml: not valid YAML \\(`));
    expect(() => resolveConfig('tiny', 'cot', [], { configFile: file('list.yaml', '- 1\n') })).toThrow(`${dir}/list.yaml: expected a mapping of config keys at the top level`);
    expect(() => resolveConfig('tiny', 'cot', [], { configFile: file('loop.yaml', 'extends: loop.yaml\n') })).toThrow(/loop.yaml: extends itself/);
    expect(() => resolveConfig('tiny', 'cot', [], { configFile: join(dir, 'none.yaml') })).toThrow(`--config ${dir}/none.yaml: cannot read it (no such file)`);
    expect(() => resolveConfig('tiny', 'cot', [], { configFile: file('type.yaml', 'train:\n  epochs: two\n') })).toThrow('config train.epochs: expected an integer ≥ 1, got "two"');
  });

  it('--print-config prints the resolved config as YAML that reads back to it, and trains nothing', () => {
    const r = spawnSync(process.execPath, ['dist/cli/main.js', 'train', '--config', 'configs/tiny.yaml', '--print-config', '--stage', 'colar', 'train.lr=0.003'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(parseYaml(r.stdout)).toEqual(resolveConfig('tiny', 'colar', ['train.lr=0.003']));
    expect(configToYaml(resolveConfig('tiny', 'cot', []))).toContain('compression_factors:\n    - 1\n');
  });

  it('rejects conflicting command-line spellings of one setting', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, ['dist/cli/main.js', 'train', ...args], { encoding: 'utf8' }).stderr.trim().split('\n').at(-1);
    expect(run('--out', 'a', 'out_dir=b', '--print-config')).toBe('colar-wgpu: --out a and out_dir=…: set the run directory once');
    expect(run('--resume', '--overwrite')).toMatch(/option '--resume' cannot be used with option '--overwrite'/);
  });
});

describe('run configs read back', () => {
  const current = resolveConfig('tiny', 'colar', []);
  it('brings an older run config to the current shape (max_compression_factor, keys added since)', () => {
    const { compression_factors: _, ...colar } = current.colar;
    const { max_skipped_steps: __, multi_token: ___, ...trainOld } = current.train;
    const old = normalizeRunConfig({ ...current, train: trainOld, colar: { ...colar, max_compression_factor: 3 } }, 'old/run_config.json');
    expect(old.colar.compression_factors).toEqual([1, 2, 3]);
    expect(old.train.multi_token).toBe(1);
    expect(normalizeRunConfig({ ...current, colar: { ...colar, max_compression_factor: '1,2,5' } }, 'x').colar.compression_factors).toEqual([1, 2, 5]);
  });
  it('refuses what is not a run config, naming the file and the key', () => {
    expect(() => normalizeRunConfig({}, 'r/run_config.json')).toThrow('r/run_config.json: not a run config (no model section)');
    expect(() => normalizeRunConfig([], 'r/run_config.json')).toThrow('r/run_config.json: expected a JSON object (a run\'s config)');
    expect(() => normalizeRunConfig({ ...current, lora: { enabled: true } }, 'r/run_config.json')).toThrow('r/run_config.json: missing key lora.r');
    expect(() => normalizeRunConfig({ ...current, lora: { ...current.lora, enabled: 'yes' } }, 'r/run_config.json')).toThrow('r/run_config.json lora.enabled: expected true or false, got "yes"');
    expect(() => normalizeRunConfig({ ...current, train: { ...current.train, lr: -1 } }, 'r/run_config.json')).toThrow('r/run_config.json train.lr: expected a finite number > 0, got -1');
  });
});

describe('resume', () => {
  const saved = { ...resolveConfig('tiny', 'cot', ['out_dir="r"']), colar: { ...resolveConfig('tiny', 'cot', []).colar, embed_std: 0.5 } };
  it('may train longer and keeps what the run measured; anything else it would learn from is an error', () => {
    const lines: string[] = [];
    const longer = resumedConfig(saved, resolveConfig('tiny', 'cot', ['out_dir="r"', 'train.epochs=5']), (l) => lines.push(l));
    expect(longer.train.epochs).toBe(5);
    expect(longer.colar.embed_std).toBe(0.5);
    expect(lines).toEqual(['resume: train.epochs 2 -> 5']);
    expect(() => resumedConfig(saved, resolveConfig('tiny', 'cot', ['out_dir="r"', 'train.lr=0.1', 'seed=3']), () => {})).toThrow(
      '--resume r: this command asks for seed=3 (the run has 0), train.lr=0.1 (the run has 0.002); a resume may change only train.epochs,',
    );
  });
});
