// Fault injection on the real command line: kill -9 at named points (inside checkpoint writes,
// during the final validation) and at random moments, a full file system, a read-only one, two
// trainings on one directory, diverging training. Each case ends with a whole run directory and
// the documented message; a killed run resumed to the end equals the uninterrupted run exactly.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSafetensors } from '../../colar/llama/safetensors.js';

const CLI = resolve('dist/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 'colar-faults-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// a model of a few thousand weights: each command runs in about a second
const SMALL = ['model.hidden_size=16', 'model.layers=1', 'model.heads=2', 'model.kv_heads=1', 'model.intermediate_size=24',
  'data.n_train=24', 'data.n_val=4', 'train.val_samples=2', 'train.batch_size=4', 'train.warmup_steps=1', 'train.epochs=1', 'train.ckpt_every=1'];

function cli(args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
}

/** The last line of stderr that the CLI wrote as its error (Dawn's startup warnings aside). */
function errorLine(r: SpawnSyncReturns<string>): string {
  return r.stderr.split('\n').filter((l) => l.startsWith('colar-wgpu: ')).at(-1) ?? `(no error line; stderr: ${r.stderr.slice(-400)})`;
}

async function weights(runDir: string, ckpt = 'best'): Promise<Map<string, number[]>> {
  const f = await openSafetensors(join(runDir, 'checkpoints', ckpt, 'weights.safetensors'));
  try {
    const out = new Map<string, number[]>();
    for (const t of f.tensors) out.set(t.name, Array.from(await f.read(t.name)));
    return out;
  } finally {
    await f.close();
  }
}

/** A run directory is whole: latest names a checkpoint that exists, best exists, no leftovers. */
function expectWhole(runDir: string): void {
  const ckpts = readdirSync(join(runDir, 'checkpoints'));
  const latest = readFileSync(join(runDir, 'checkpoints', 'latest'), 'utf8');
  expect(ckpts).toContain(latest);
  expect(ckpts).toContain('best');
  expect(ckpts.filter((n) => n.startsWith('.'))).toEqual([]);
  expect(existsSync(join(runDir, '.lock'))).toBe(false);
  for (const name of ckpts.filter((n) => n !== 'latest')) {
    for (const file of ['weights.safetensors', 'optimizer.safetensors', 'state.json']) expect(existsSync(join(runDir, 'checkpoints', name, file)), `${name}/${file}`).toBe(true);
  }
}

let reference: Map<string, number[]>;
const referenceDir = join(root, 'reference');

describe('training under faults', () => {
  it('an uninterrupted run (the reference)', async () => {
    const r = cli(['train', '--out', referenceDir, ...SMALL]);
    expect(r.status, r.stderr).toBe(0);
    expectWhole(referenceDir);
    reference = await weights(referenceDir);
  });

  it.each([
    ['checkpoint-weights-written@3', []],
    ['checkpoint-swap@2', []],
    ['checkpoint-before-latest@4', []],
    ['validation@1', []],
    // the last step is not a checkpoint step: it is written before the validation all the same
    ['validation@1', ['train.ckpt_every=100']],
  ])('killed at %s %j, then resumed: whole, and the same weights as the uninterrupted run', async (point, extra) => {
    const dir = join(root, `kill-${point}-${extra.length}`);
    const killed = cli(['train', '--out', dir, ...SMALL, ...extra], { COLAR_FAILPOINT: point });
    expect(killed.signal).toBe('SIGKILL');
    const resumed = cli(['train', '--out', dir, '--resume', ...SMALL, ...extra]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/taking over .*\.lock: its process \d+ is no longer running/);
    expectWhole(dir);
    expect(await weights(dir)).toEqual(reference);
  });

  it('killed at three random moments and resumed each time: the same weights as the uninterrupted run', async () => {
    const dir = join(root, 'random-kills');
    let started = false;
    for (const delay of [700, 1100, 1500]) {
      const args = ['train', '--out', dir, ...(started ? ['--resume'] : []), ...SMALL];
      const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
      const timer = setTimeout(() => child.kill('SIGKILL'), delay);
      await new Promise((done) => child.on('exit', done));
      clearTimeout(timer);
      started = existsSync(join(dir, 'checkpoints', 'latest'));
    }
    const last = cli(['train', '--out', dir, ...(started ? ['--resume'] : ['--overwrite']), ...SMALL]);
    expect(last.status, last.stderr).toBe(0);
    expectWhole(dir);
    expect(await weights(dir)).toEqual(reference);
  });

  it('refuses a second training in a directory in use, and a fresh run over an old one', async () => {
    const dir = join(root, 'shared-dir');
    const first = spawn(process.execPath, [CLI, 'train', '--out', dir, ...SMALL, 'train.epochs=4'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((done) => first.on('exit', done));
    while (!existsSync(join(dir, '.lock'))) await new Promise((r) => setTimeout(r, 20));
    const second = cli(['train', '--out', dir, '--resume', ...SMALL]);
    expect(second.status).toBe(1);
    expect(errorLine(second)).toMatch(new RegExp(`^colar-wgpu: ${dir}/\\.lock: the run directory is in use by process \\d+ \\(since .*\\); wait for it to finish or stop it$`));
    expect(await exited).toBe(0);
    expectWhole(dir);
    const fresh = cli(['train', '--out', dir, ...SMALL]);
    expect(errorLine(fresh)).toBe(`colar-wgpu: ${dir} already holds a run: pass --resume to continue it, --overwrite to start again (removes its files), or choose another --out`);
    const overwritten = cli(['train', '--out', dir, '--overwrite', ...SMALL]);
    expect(overwritten.status, overwritten.stderr).toBe(0);
    expect(overwritten.stdout).toContain(`--overwrite: removed the old run in ${dir}`);
    expect(await weights(dir)).toEqual(reference);
  });

  it('a run killed while writing its config leaves a directory that a fresh run takes', async () => {
    const dir = join(root, 'killed-writing-config');
    mkdirSync(dir);
    const gone = spawnSync(process.execPath, ['-e', '']).pid!; // a process that has exited: the lock's owner is dead
    writeFileSync(join(dir, '.lock'), JSON.stringify({ pid: gone, host: hostname(), started: new Date().toISOString() }));
    const leftover = '.run_config.json.tmp-' + gone + '-0badc0de';
    writeFileSync(join(dir, leftover), '{"seed": 0, "mod');
    const r = cli(['train', '--out', dir, ...SMALL]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain(`removed ${join(dir, leftover)}, a file a killed run did not finish writing`);
    expect(existsSync(join(dir, leftover))).toBe(false);
    expectWhole(dir);
    expect(await weights(dir)).toEqual(reference);
  });

  it('--resume with nothing to resume, and --overwrite of a folder that holds no run, are errors', () => {
    const empty = join(root, 'empty');
    expect(errorLine(cli(['train', '--out', empty, '--resume', ...SMALL]))).toBe(`colar-wgpu: --resume: ${empty} has no checkpoint to resume (it holds no run); run without --resume to start fresh`);
    const notRun = join(root, 'not-a-run');
    mkdirSync(notRun);
    writeFileSync(join(notRun, 'notes.txt'), 'mine');
    expect(errorLine(cli(['train', '--out', notRun, '--overwrite', ...SMALL]))).toBe(`colar-wgpu: --overwrite: ${notRun} does not hold a run (no run_config.json or checkpoints/), so nothing is removed; choose another --out`);
    expect(readFileSync(join(notRun, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('diverging: non-finite steps are skipped, never checkpointed, and the run stops naming its last checkpoint', async () => {
    const dir = join(root, 'diverge');
    const r = cli(['train', '--out', dir, ...SMALL, 'train.lr=1000', 'train.max_skipped_steps=3']);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/step \d+: loss .*, gradient norm NaN; the update is skipped \(1 in a row, the run stops at 3\)/);
    expect(errorLine(r)).toMatch(new RegExp(`^colar-wgpu: step \\d+: 3 steps in a row had a non-finite loss or gradient \\(.*\\); stopped without applying them\\. The last checkpoint is ${dir}/checkpoints/step-\\d{6}; lower the learning rate`));
    for (const ckpt of readdirSync(join(dir, 'checkpoints')).filter((n) => n.startsWith('step-'))) {
      for (const values of (await weights(dir, ckpt)).values()) expect(values.every(Number.isFinite)).toBe(true);
    }
  });

  // a private mount namespace (unshare) holds the small or read-only file system, as root or not
  const inNamespace = (script: string) => spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', script], { encoding: 'utf8', env: process.env, timeout: 60_000 });
  const cliLine = (args: string) => `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} ${args} ${SMALL.join(' ')}`;

  it('a full file system: one line naming the file, and the last good checkpoint intact', () => {
    const mnt = join(root, 'full');
    mkdirSync(mnt);
    // room for the run's files and two checkpoints (~116 KB each), not for a third beside them
    const r = inNamespace(`mount -t tmpfs -o size=300k tmpfs ${mnt} && ${cliLine(`train --out ${mnt}/run`)}; echo "exit=$?"; cat ${mnt}/run/checkpoints/latest; echo; ls -a ${mnt}/run/checkpoints`);
    expect(r.stdout).toContain('exit=1');
    expect(r.stderr).toMatch(new RegExp(`colar-wgpu: cannot write ${mnt}/run/checkpoints/\\.tmp-step-\\d{6}/\\S+: no space left on device`));
    const [latest, ...listing] = r.stdout.split('exit=1\n')[1].trim().split('\n');
    expect(latest).toMatch(/^step-\d{6}$/);
    expect(listing).toContain(latest);
    expect(listing.filter((n) => n.startsWith('.tmp') || n.startsWith('.old'))).toEqual([]);
  });

  it('a read-only file system: one line naming the directory and the reason', () => {
    const mnt = join(root, 'readonly');
    mkdirSync(mnt);
    const r = inNamespace(`mount -t tmpfs -o ro tmpfs ${mnt} && ${cliLine(`train --out ${mnt}/run`)}`);
    expect(r.status).toBe(1);
    expect(errorLine(r)).toBe(`colar-wgpu: cannot create directory ${mnt}/run: read-only file system`);
  });
});
