// Checkpoint rotation: a long run keeps only the newest step checkpoints (and best/), and
// `latest` always names one that is still there.
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { STEP_CHECKPOINTS_KEPT, saveCheckpoint } from '../../colar/checkpoint.js';
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
});
