// What a training loop does when a step goes non-finite: the update is skipped (so the weights,
// the optimizer moments and every checkpoint stay finite), a line says so, and after
// `maxConsecutive` such steps in a row the run stops, naming the step and the last checkpoint
// that exists. A single bad batch costs one step; a diverged run stops before it wastes hours.

import { latestCheckpoint } from './checkpoint.js';

export class DivergenceGuard {
  constructor(
    private readonly maxConsecutive: number,
    /** consecutive skips carried over from a resumed checkpoint */
    public consecutive: number,
    private readonly runDir: string,
    private readonly log: (line: string) => void,
  ) {}

  /** True when the step must be skipped; throws when too many were skipped in a row. */
  async check(step: number, loss: number, gradNorm: number): Promise<boolean> {
    if (Number.isFinite(loss) && Number.isFinite(gradNorm)) {
      this.consecutive = 0;
      return false;
    }
    this.consecutive++;
    const what = `loss ${loss}, gradient norm ${gradNorm}`;
    if (this.consecutive >= this.maxConsecutive) {
      const last = await latestCheckpoint(this.runDir).catch(() => null);
      throw new Error(`step ${step}: ${this.consecutive} steps in a row had a non-finite loss or gradient (${what}); stopped without applying them. ${last ? `The last checkpoint is ${last}` : 'The run has no checkpoint yet'}; lower the learning rate or check the data (train.max_skipped_steps sets how many are tolerated)`);
    }
    this.log(`step ${step}: ${what}; the update is skipped (${this.consecutive} in a row, the run stops at ${this.maxConsecutive})`);
    return true;
  }
}
