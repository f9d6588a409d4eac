// The command line as a user meets it: `node dist/cli/main.js`, built first. One spelling per
// concept (old ones rejected by commander), one line and exit 1 for bad input, readable help,
// no Dawn startup warnings.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

beforeAll(() => {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']);
}, 120_000);

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  // the timeout bounds a command that, wrongly, starts working instead of refusing
  const r = spawnSync(process.execPath, ['dist/cli/main.js', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('colar-wgpu command line', () => {
  it.each([
    [['eval', '--ckpt', 'runs/x', '--n', '5'], "error: unknown option '--n'"],
    [['data', 'synth', '--n', '5', '--out', join(tmpdir(), 'never-written.json')], "error: unknown option '--n'"],
    [['repro', '--test', '5', '--out', join(tmpdir(), 'never-written')], "error: unknown option '--test'"],
  ])('rejects the old spelling of the question count: %j', (args, message) => {
    const r = cli(...args);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(message);
  });

  it.each([[['eval']], [['repro']], [['data', 'synth']], [['data', 'preview']]])('%j takes -n, --questions <n>', (command) => {
    expect(cli(...command, '--help').stdout).toMatch(/-n, --questions <n>/);
  });

  it('help shows list defaults as written on the command line, never as JSON', () => {
    for (const command of [['eval'], ['repro'], ['data', 'synth']]) expect(cli(...command, '--help').stdout).not.toMatch(/default: [[{]/);
    expect(cli('eval', '--help').stdout).toContain('(default: 1,2,3,4,5)');
  });

  it('generate --prompt "" is one line naming --prompt', () => {
    const r = cli('generate', '--model', 'no-such-dir', '--prompt', '');
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('colar-wgpu: generate --prompt: is empty; give the text to continue (or, for a CoLaR model, the question)');
  });

  it('a malformed COLAR_KERNELS is one line naming it, before the GPU opens', () => {
    const r = spawnSync(process.execPath, ['dist/cli/main.js', 'bench', '--only', 'copy'], {
      encoding: 'utf8', timeout: 30_000, env: { ...process.env, COLAR_KERNELS: 'attention=flash' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('colar-wgpu: COLAR_KERNELS: attention has no variant "flash" (subgroup, tile)');
  });

  it('init refuses a non-empty --out, leaving it as it was', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-init-'));
    writeFileSync(join(dir, 'model-00001-of-00002.safetensors'), 'shard');
    const r = cli('init', '--out', dir);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`colar-wgpu: init --out ${dir}: the directory is not empty; pass --overwrite to replace what it holds`);
    expect(readdirSync(dir)).toEqual(['model-00001-of-00002.safetensors']);
    expect(readFileSync(join(dir, 'model-00001-of-00002.safetensors'), 'utf8')).toBe('shard');
  });

  it('data convert refuses an output that is its input, in one line, and keeps the input', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-convert-'));
    const file = join(dir, 's.txt');
    writeFileSync(file, 'What is 2 plus 3?||<<2+3=5>> #### 5\n');
    const r = cli('data', 'convert', file, '--to', 'icot', '--out', file);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`colar-wgpu: --out ${file}: is the input ${file}; write to another file`);
    expect(readFileSync(file, 'utf8')).toBe('What is 2 plus 3?||<<2+3=5>> #### 5\n');
  });

  it("has none of Dawn's startup warnings on stderr", () => {
    const r = cli('info', '--json');
    expect(r.status).toBe(0);
    expect(r.stderr).not.toContain('artificially reduced');
    JSON.parse(r.stdout);
  });
});
