// A seeded, counter-based random stream: (seed, offset) names every draw, so a run that saves
// its generator state resumes with exactly the same numbers, on either backend.

import type { Engine } from './engine.js';
import { Tensor, shapeSize, type Shape } from './tensor.js';
import { fail } from './ops/util.js';

export interface RngState {
  seed: number;
  offset: number;
}

export class Rng {
  private offset: number;
  readonly seed: number;

  constructor(seed: number, offset = 0) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`rng: seed must be an integer in [0, 2^32), got ${seed}`);
    this.seed = seed;
    this.offset = offset;
  }

  state(): RngState {
    return { seed: this.seed, offset: this.offset };
  }

  static fromState(s: RngState): Rng {
    return new Rng(s.seed, s.offset);
  }

  /** Uniform in (0, 1). */
  uniform(engine: Engine, shape: Shape): Tensor {
    const n = shapeSize(shape);
    return new Tensor(engine.backend, engine.backend.randomUniform(n, this.seed, this.take(n)), shape, 'f32');
  }

  /** Uniform in (0, 1) with the shape and backend of `like` (e.g. a dropout mask's draws). */
  uniformLike(like: Tensor): Tensor {
    return new Tensor(like.backend, like.backend.randomUniform(like.size, this.seed, this.take(like.size)), like.shape, 'f32');
  }

  normal(engine: Engine, shape: Shape, mean = 0, std = 1): Tensor {
    const n = shapeSize(shape);
    return new Tensor(engine.backend, engine.backend.randomNormal(n, this.seed, this.take(n), mean, std), shape, 'f32');
  }

  /** One index per row of non-negative weights [..., n] (i32, shape [...]). */
  multinomial(weights: Tensor): Tensor {
    if (weights.dtype !== 'f32' || weights.rank < 1) fail('multinomial', 'weights must be f32 [..., n]', weights);
    const n = weights.shape[weights.rank - 1];
    const rows = weights.size / n;
    const storage = weights.backend.multinomial(weights, rows, n, this.seed, this.take(rows));
    return new Tensor(weights.backend, storage, weights.shape.slice(0, -1), 'i32');
  }

  /**
   * Reserves the draws of n values (uniform or normal) and returns the state that makes them, so
   * they can be drawn later, in any order: Rng.fromState(state).normal(engine, shape) with n values.
   */
  reserve(n: number): RngState {
    return { seed: this.seed, offset: this.take(n) };
  }

  /** Reserves n counters; offsets wrap at 2^32 like the kernels' u32 counters. */
  private take(n: number): number {
    const start = this.offset;
    // normal draws use two uniforms per value; leave room for them
    this.offset = (this.offset + 2 * n) % 0x100000000;
    return start;
  }
}
