// `eval` never silently replaces an earlier evaluation, and --json prints exactly the document it writes.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { evalCommand } from '../../cli/eval.js';
import { buildRunModel, runDatasets, writeRunFiles } from '../../colar/run.js';
import { resolveConfig } from '../../colar/train_config.js';
import { train } from '../../colar/trainer.js';
import { webgpu } from '../helpers/engines.js';

const tiny = ['model.hidden_size=16', 'model.layers=1', 'model.heads=2', 'model.kv_heads=1', 'model.intermediate_size=24', 'colar.head_intermediate=16',
  'data.n_train=8', 'data.n_val=2', 'train.batch_size=4', 'train.epochs=1', 'train.ckpt_every=2', 'train.val_samples=1', 'train.warmup_steps=1'];

let runDir = '';
beforeAll(async () => {
  runDir = join(await mkdtemp(join(tmpdir(), 'eval-outputs-')), 'run');
  const engine = await webgpu();
  const cfg = resolveConfig('tiny', 'colar', [...tiny, `out_dir=${JSON.stringify(runDir)}`]);
  const run = await buildRunModel(engine, cfg, true);
  await writeRunFiles(runDir, cfg, run);
  await train(engine, cfg, run, await runDatasets(cfg), { resume: false, log: () => {} });
}, 120_000);

/** Runs `colar-wgpu eval ...args`; returns stdout and stderr. */
async function evaluate(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void (stdout += `${parts.join(' ')}\n`));
  const error = vi.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => void (stderr += `${parts.join(' ')}\n`));
  try {
    await evalCommand().exitOverride().parseAsync(['--ckpt', runDir, '-n', '2', '--seeds', '1', '--compression', '1', '--batch', '2', ...args], { from: 'user' });
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
  return { stdout, stderr };
}

describe('eval outputs', () => {
  it('--json prints one JSON document, the eval.json it writes; the table goes to stderr', async () => {
    const { stdout, stderr } = await evaluate('--json');
    const printed = JSON.parse(stdout) as { questions: number; rows: Array<{ row: string }> };
    expect(printed.questions).toBe(2);
    expect(printed.rows.map((r) => r.row)).toEqual(['CoLaR c=1']);
    expect(JSON.parse(await readFile(join(runDir, 'eval', 'eval.json'), 'utf8'))).toEqual(printed);
    expect(stderr).toContain('CoLaR c=1');
  }, 120_000);

  it('refuses to replace an earlier evaluation unless --overwrite', async () => {
    const file = join(runDir, 'eval', 'eval.json');
    const before = await readFile(file, 'utf8');
    await expect(evaluate('--greedy')).rejects.toThrow(`eval: ${file} holds an earlier evaluation; pass --overwrite to replace it, or --out DIR`);
    expect(await readFile(file, 'utf8')).toBe(before);
    await evaluate('--greedy', '--overwrite');
    expect((JSON.parse(await readFile(file, 'utf8')) as { decoding: { greedy: boolean } }).decoding.greedy).toBe(true);
  }, 120_000);
});
