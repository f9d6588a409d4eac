// Checkpoint rotation: a long run keeps only the newest step checkpoints (and best/), and
// `latest` always names one that is still there.
import { mkdir, mkdtemp, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { latestCheckpoint, readState, recoverCheckpoints, STEP_CHECKPOINTS_KEPT, saveCheckpoint } from '../../colar/checkpoint.js';
import { temporaryPath } from '../../io/files.js';
import { cpu } from '../helpers/engines.js';

describe('checkpoints', () => {
  it(`keep the newest ${STEP_CHECKPOINTS_KEPT} step checkpoints and best/, with latest on the newest`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ckpt-'));
    const weights = new Map([['w', cpu.tensor([1, 2, 3])]]);
    const state = (step: number) => ({ step, epoch: 1, batchInEpoch: step, rng: new E.Rng(0).state(), bestMetric: null });
    // steps past 999,999 outgrow the zero padding: the order is numeric, not by name
    for (const step of [50, 100, 150, 999_950, 1_000_000]) {
      await saveCheckpoint(dir, `step-${String(step).padStart(6, '0')}`, weights, null, [], state(step));
      if (step === 100) await saveCheckpoint(dir, 'best', weights, null, [], state(step));
    }
    expect((await readdir(join(dir, 'checkpoints'))).sort()).toEqual(['best', 'latest', 'step-1000000', 'step-999950']);
    expect(await readFile(join(dir, 'checkpoints', 'latest'), 'utf8')).toBe('step-1000000');
    weights.get('w')!.dispose();
  });

  const state = (step: number) => ({ step, epoch: 1, batchInEpoch: step, rng: new E.Rng(0).state(), bestMetric: null });

  it('never prune the checkpoint latest names, even below older runs\' higher steps', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ckpt-'));
    const weights = new Map([['w', cpu.tensor([1, 2, 3])]]);
    for (const step of [500, 600]) await saveCheckpoint(dir, `step-${String(step).padStart(6, '0')}`, weights, null, [], state(step));
    await saveCheckpoint(dir, 'step-000002', weights, null, [], state(2));
    expect(await latestCheckpoint(dir)).toBe(join(dir, 'checkpoints', 'step-000002'));
    expect((await readdir(join(dir, 'checkpoints'))).sort()).toEqual(['latest', 'step-000002', 'step-000600']);
  });

  it('refuse non-finite values and leave the checkpoint before them whole', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ckpt-'));
    await saveCheckpoint(dir, 'step-000001', new Map([['w', cpu.tensor([1, 2, 3])]]), null, [], state(1));
    await expect(saveCheckpoint(dir, 'step-000002', new Map([['w', cpu.tensor([1, NaN, 3])]]), null, [], state(2))).rejects.toThrow('refusing to checkpoint non-finite values: tensor w holds NaN at index 1');
    expect(await readdir(join(dir, 'checkpoints'))).toEqual(['latest', 'step-000001']);
    expect(await latestCheckpoint(dir)).toBe(join(dir, 'checkpoints', 'step-000001'));
  });

  it('read latest and state.json strictly: one line naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ckpt-'));
    const root = join(dir, 'checkpoints');
    await mkdir(root);
    expect(await latestCheckpoint(dir)).toBeNull();
    for (const name of ['../../elsewhere', '/etc', 'best', 'step-1']) {
      await writeFile(join(root, 'latest'), name);
      await expect(latestCheckpoint(dir)).rejects.toThrow(`${root}/latest: names ${JSON.stringify(name)}, not a step-N checkpoint of this run`);
    }
    await writeFile(join(root, 'latest'), 'step-000007');
    await expect(latestCheckpoint(dir)).rejects.toThrow(`${root}/latest: names step-000007, which does not exist`);
    await mkdir(join(root, 'step-000007'));
    await writeFile(join(root, 'step-000007', 'state.json'), '{"step": 1,\n"epoch": 0, oops}');
    await expect(readState(join(root, 'step-000007'))).rejects.toThrow(new RegExp(`^${root}/step-000007/state.json: not valid JSON \\(`));
    await writeFile(join(root, 'step-000007', 'state.json'), '{"step": -1, "epoch": 0, "batchInEpoch": 0}');
    await expect(readState(join(root, 'step-000007'))).rejects.toThrow(`${root}/step-000007/state.json: step must be an integer ≥ 0, got -1`);
    await writeFile(join(root, 'step-000007', 'state.json'), '{"step": 1, "epoch": 0, "batchInEpoch": 0, "rng": null, "bestMetric": null}');
    await expect(readState(join(root, 'step-000007'))).rejects.toThrow(`${root}/step-000007/state.json: rng must be {seed, offset}, got null`);
  });

  it('recover after a kill: a checkpoint moved aside comes back, unfinished writes go', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ckpt-'));
    const root = join(dir, 'checkpoints');
    await saveCheckpoint(dir, 'best', new Map([['w', cpu.tensor([1, 2, 3])]]), null, [], state(1));
    await rename(join(root, 'best'), join(root, '.old-best')); // killed between the two renames of a swap
    await mkdir(join(root, '.tmp-best'));
    await mkdir(join(root, '.tmp-step-000009'));
    await writeFile(temporaryPath(join(root, 'latest')), 'step-0000'); // killed while repointing latest
    await recoverCheckpoints(dir);
    expect((await readdir(root)).sort()).toEqual(['best']);
    expect((await readState(join(root, 'best'))).step).toBe(1);
  });
});
