// AdamW (decoupled weight decay, PyTorch's update order) and global gradient-norm clipping
// that never reads the norm back to the host inside a step.

import type { AdamWHyper } from '../kernels/adamw.js';
import { noGrad } from './autograd.js';
import { scope } from './scope.js';
import { Tensor } from './tensor.js';
import { add } from './ops/elementwise.js';
import { sumSquares } from './ops/reduce.js';

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export interface AdamWState {
  step: number;
  m: Tensor[];
  v: Tensor[];
}

export class AdamW {
  step = 0;
  readonly m: Tensor[];
  readonly v: Tensor[];
  lr: number;

  constructor(
    readonly params: Tensor[],
    readonly opts: AdamWOptions,
  ) {
    this.lr = opts.lr;
    const zeros = (p: Tensor) => new Tensor(p.backend, p.backend.filled(p.size, 'f32', 0), p.shape, 'f32', { tracked: false });
    this.m = params.map(zeros);
    this.v = params.map(zeros);
  }

  /**
   * One update from the accumulated .grad of each parameter (parameters without a gradient
   * are skipped). `gradScale` (e.g. from clipGradNorm) multiplies every gradient.
   */
  update(gradScale: Tensor | null = null): void {
    this.step++;
    const h: AdamWHyper = {
      lr: this.lr,
      beta1: this.opts.beta1 ?? 0.9,
      beta2: this.opts.beta2 ?? 0.999,
      eps: this.opts.eps ?? 1e-8,
      weightDecay: this.opts.weightDecay ?? 0.01,
      step: this.step,
    };
    this.params.forEach((p, i) => {
      if (p.grad) p.backend.adamw(p, p.grad, this.m[i], this.v[i], h, gradScale);
    });
  }

  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}

/**
 * The global L2 norm of all gradients and the factor min(1, maxNorm / norm) that clips it,
 * as a device tensor [scale, norm]: pass it to AdamW.update and read the norm when logging.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): Tensor {
  const grads = params.flatMap((p) => (p.grad ? [p.grad] : []));
  if (grads.length === 0) throw new Error('clipGradNorm: no parameter has a gradient');
  return noGrad(() =>
    scope(() => {
      const total = grads.map(sumSquares).reduce((a, b) => add(a, b));
      return new Tensor(total.backend, total.backend.clipScale(total, maxNorm), [2], 'f32');
    }),
  );
}
