// The three checks every differentiable op gets, on one sampled case:
//  (a) WebGPU forward vs the CPU backend,
//  (b) CPU gradients vs float64 central finite differences,
//  (c) WebGPU gradients vs CPU gradients.
// The scalar being differentiated is sum(out · R) for a random cotangent R.

import { expect } from 'vitest';
import { Engine, Tensor, backward, noGrad, scope, shapeSize } from '../../engine/index.js';
import { CpuBackend } from '../../engine/backend_cpu.js';
import { expectClose, type Tolerance } from './compare.js';
import { cpu, seeded, webgpu } from './engines.js';

export type InputKind =
  | { kind: 'float'; scale?: number }
  | { kind: 'positive'; min?: number }
  /** alternating signs, magnitudes in [0.5, 1]: every row's spread stays far from 0, where a
   *  normalisation's gradient (∝ 1/σ) would amplify float32 rounding past any fixed tolerance */
  | { kind: 'spread' }
  | { kind: 'ids'; max: number }
  | { kind: 'mask' }
  | { kind: 'values'; values: number[]; dtype?: 'f32' | 'i32' };

export interface InputSpec {
  shape: number[];
  input: InputKind;
  /** differentiate with respect to this input (floats only) */
  grad?: boolean;
}

export interface OpTolerances {
  forward: Tolerance;
  gradient: Tolerance;
  /** CPU analytic vs finite differences (float64) */
  finiteDiff?: Tolerance;
}

function makeData(spec: InputSpec, rand: () => number): number[] {
  const n = shapeSize(spec.shape);
  const k = spec.input;
  switch (k.kind) {
    case 'float':
      return Array.from({ length: n }, () => (rand() * 2 - 1) * (k.scale ?? 1));
    case 'positive':
      return Array.from({ length: n }, () => (k.min ?? 0.1) + rand() * 2);
    case 'spread':
      return Array.from({ length: n }, (_, i) => (i % 2 ? 1 : -1) * (0.5 + rand() * 0.5));
    case 'ids':
      return Array.from({ length: n }, () => Math.floor(rand() * k.max));
    case 'mask':
      return Array.from({ length: n }, () => (rand() < 0.3 ? 0 : 1));
    case 'values':
      return k.values;
  }
}

function dtypeOf(spec: InputSpec): 'f32' | 'i32' {
  return spec.input.kind === 'ids' || (spec.input.kind === 'values' && spec.input.dtype === 'i32') ? 'i32' : 'f32';
}

type OpFn = (inputs: Tensor[]) => Tensor;

function build(engine: Engine, specs: InputSpec[], data: number[][]): Tensor[] {
  return specs.map((s, i) => {
    const t = engine.tensor(data[i], s.shape, dtypeOf(s));
    if (s.grad) t.requiresGrad = true;
    return t;
  });
}

async function runWithGrads(engine: Engine, specs: InputSpec[], data: number[][], fn: OpFn, cotangent: number[]) {
  const inputs = build(engine, specs, data);
  const out = fn(inputs);
  const outData = Array.from(await out.data());
  const grads: number[][] = [];
  if (specs.some((s) => s.grad)) {
    const r = engine.tensor(cotangent, out.shape);
    backward(out, r);
    for (let i = 0; i < specs.length; i++) {
      if (!specs[i].grad) continue;
      const g = inputs[i].grad;
      grads.push(g ? Array.from(await g.data()) : new Array(inputs[i].size).fill(0));
    }
    r.dispose();
  }
  out.dispose();
  for (const t of inputs) t.dispose();
  return { outData, outShape: out.shape, grads };
}

/** Runs (a), (b), (c) for one case. `seed` makes the data; FD checks up to `fdPoints` elements per input. */
export async function checkOp(name: string, specs: InputSpec[], fn: OpFn, tol: OpTolerances, seed: number, fdPoints = 8): Promise<void> {
  const rand = seeded(seed);
  const data = specs.map((s) => makeData(s, rand));
  // the output shape is known only after one forward
  const outShape = noGrad(() => scope(() => fn(build(cpu, specs, data)).shape));
  const cot = Array.from({ length: shapeSize(outShape) }, () => rand() * 2 - 1);
  const cpuRun = await runWithGrads(cpu, specs, data, fn, cot);
  const gpuRun = await runWithGrads(await webgpu(), specs, data, fn, cot);

  expectClose(gpuRun.outData, cpuRun.outData, tol.forward, `${name} forward (webgpu vs cpu)`);
  let g = 0;
  for (let i = 0; i < specs.length; i++) {
    if (!specs[i].grad) continue;
    expectClose(gpuRun.grads[g], cpuRun.grads[g], tol.gradient, `${name} d/dinput${i} (webgpu vs cpu)`);
    const fd = finiteDifferences(specs, data, fn, cot, i, fdPoints, rand);
    const analytic = fd.indices.map((k) => cpuRun.grads[g][k]);
    expectClose(analytic, fd.values, tol.finiteDiff ?? { rtol: 1e-5, atol: 1e-6 }, `${name} d/dinput${i} (cpu vs finite differences at [${fd.indices.join(',')}])`);
    g++;
  }
  expect(cpuRun.outData.every(Number.isFinite) || name.includes('nonfinite')).toBe(true);
}

function finiteDifferences(specs: InputSpec[], data: number[][], fn: OpFn, cot: number[], which: number, points: number, rand: () => number) {
  const n = data[which].length;
  const indices = n <= points ? Array.from({ length: n }, (_, k) => k) : Array.from({ length: points }, () => Math.floor(rand() * n));
  const lossAt = (k: number, delta: number): number =>
    noGrad(() =>
      scope(() => {
        const perturbed = data.map((d, j) => (j === which ? d.map((v, m) => (m === k ? v + delta : v)) : d));
        const inputs = specs.map((s, j) => cpu.tensor(perturbed[j], s.shape, dtypeOf(s)));
        const out = fn(inputs);
        const values = (cpu.backend as CpuBackend).readSync(out);
        let loss = 0;
        for (let m = 0; m < out.size; m++) loss += values[m] * cot[m];
        return loss;
      }),
    );
  const h = 1e-6;
  const values = indices.map((k) => (lossAt(k, h) - lossAt(k, -h)) / (2 * h));
  return { indices, values };
}
