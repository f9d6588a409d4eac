// The report's findings are computed from the rows and curves: here, how many RL steps had any
// reward (a stage whose rollouts all scored 0 never updated).
import { describe, expect, it } from 'vitest';
import { findings } from '../../colar/repro.js';

describe('repro findings', () => {
  it('counts the RL steps with any reward per stage, and says why all-zero stages did not move', () => {
    const notes = findings([], 2, {
      cot: [{ step: 1, loss: 2 }],
      rl: [{ step: 1, reward: 0 }, { step: 2, reward: 0.25 }, { step: 3, reward: 0 }],
      'rl-sum32': [{ step: 1, reward: 0 }, { step: 2, reward: 0 }],
    });
    expect(notes).toEqual([
      'RL stage rl: 1 of 3 steps had any reward.',
      'RL stage rl-sum32: 0 of 2 steps had any reward — every rollout scored 0, so every advantage, and the policy gradient, was 0.',
    ]);
  });
});
