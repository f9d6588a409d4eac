// Config overrides as the reference's run.py parses them, and the training schedule helpers.
import { describe, expect, it } from 'vitest';
import { applyOverrides, parseOverrideValue } from '../../colar/overrides.js';
import { normalizeRunConfig, resolveConfig } from '../../colar/train_config.js';
import fc from 'fast-check';
import { drawCompression, epochOrder, learningRate, lengthGroupedOrder } from '../../colar/trainer.js';
import { meanCI } from '../../colar/evaluate.js';
import { syntheticDataset } from '../../colar/run.js';
import { arithmeticDataset, DEFAULT_ARITHMETIC_OPTIONS } from '../../datasets/synthetic.js';

describe('overrides', () => {
  it('parses values like the reference (booleans and null in any case, JSON, else the raw string), keeping case', () => {
    expect(parseOverrideValue('1e-3')).toBe(0.001);
    expect(parseOverrideValue('True')).toBe(true);
    expect(parseOverrideValue('None')).toBeNull();
    expect(parseOverrideValue('runs/MyRun')).toBe('runs/MyRun');
    expect(parseOverrideValue('[1,2]')).toEqual([1, 2]);
    expect(parseOverrideValue('"Runs/CoT"')).toBe('Runs/CoT');
  });
  it('sets a dotted path, or the one key of a bare name, and rejects unknown and ambiguous keys', () => {
    const cfg = { a: { lr: 1, b: { lr: 2 } }, c: 3 };
    expect(() => applyOverrides(cfg, ['lr=5'])).toThrow('override "lr=5": lr names 2 keys (a.lr, a.b.lr); use the full key');
    expect(applyOverrides(cfg, ['c=5'])).toEqual({ a: { lr: 1, b: { lr: 2 } }, c: 5 });
    expect(applyOverrides(cfg, ['a.b.lr=7'])).toEqual({ a: { lr: 1, b: { lr: 7 } }, c: 3 });
    expect(() => applyOverrides(cfg, ['a.b.llr=7'])).toThrow(/no config key a.b.llr; did you mean a.lr or a.b.lr\?/);
    expect(() => applyOverrides(cfg, ['nope=1'])).toThrow(/no config key nope/);
    expect(() => applyOverrides(cfg, ['a.x=1'])).toThrow(/no config key a.x/);
    expect(() => applyOverrides(cfg, ['justakey'])).toThrow(/expected key=value/);
    expect(cfg.a.lr).toBe(1);
  });
  it('resolves presets with one-line errors for bad values', () => {
    expect(resolveConfig('tiny', 'colar', ['batch_size=8']).train.batch_size).toBe(8);
    expect(() => resolveConfig('tiny', 'cot', ['batch_size=0'])).toThrow('config train.batch_size: expected an integer ≥ 1, got 0');
    expect(() => resolveConfig('huge', 'cot', [])).toThrow(/--preset huge: unknown/);
    expect(resolveConfig('tiny', 'colar', ['colar.compression_factors=2']).colar.compression_factors).toEqual([2]);
    expect(resolveConfig('tiny', 'colar', ['colar.compression_factors=1,2,5']).colar.compression_factors).toEqual([1, 2, 5]);
    expect(resolveConfig('tiny', 'colar', ['colar.compression_factors=[1,3]']).colar.compression_factors).toEqual([1, 3]);
    expect(() => resolveConfig('tiny', 'colar', ['colar.compression_factors=1,x'])).toThrow('config colar.compression_factors: expected a non-empty list of integers ≥ 1 (e.g. 1,2,5), got "1,x"');
    expect(() => resolveConfig('tiny', 'colar', ['latent_loss=soft-mse'])).toThrow(/set colar.entropy_weight to −α/);
    expect(resolveConfig('tiny', 'colar', ['latent_loss=soft-mse', 'entropy_weight=-1e-6']).colar.entropy_weight).toBe(-1e-6);
  });
  it('draws the built-in task as data.arithmetic configures it, and rejects bad ranges by key', () => {
    const cfg = resolveConfig('small', 'cot', ['data.arithmetic.steps=[3,4]', 'max_value=99', 'max_start=50']);
    const records = syntheticDataset(cfg, 'test', 200);
    expect([...new Set(records.map((r) => r.steps.length))].sort()).toEqual([3, 4]);
    expect(Math.max(...records.map((r) => Number(r.answer)))).toBeLessThanOrEqual(99);
    // a run saved before the key existed keeps the task it was trained on (2..6 steps, values to 999)
    const tiny = resolveConfig('tiny', 'cot', []);
    const { arithmetic: _, ...oldData } = tiny.data;
    const old = syntheticDataset(normalizeRunConfig({ ...tiny, data: oldData }, 'run_config.json'), 'test', 300);
    expect(old).toEqual(arithmeticDataset('test', 300, 0, DEFAULT_ARITHMETIC_OPTIONS));
    expect(() => resolveConfig('tiny', 'cot', ['steps=[3,2]'])).toThrow('config data.arithmetic: need 1 ≤ fewest steps ≤ most steps, got 3, 2');
    expect(() => resolveConfig('tiny', 'cot', ['max_value=20'])).toThrow('config data.arithmetic: need 1 ≤ min value ≤ max start ≤ max value, got 2, 50, 20');
    expect(() => resolveConfig('tiny', 'cot', ['steps=[2]'])).toThrow('config data.arithmetic.steps: expected a list of 2 integers ≥ 1, got [2]');
  });
});

describe('schedule', () => {
  it('warms up linearly, then decays by cosine to min_lr_ratio', () => {
    const t = { ...resolveConfig('tiny', 'cot', []).train, lr: 1, warmup_steps: 10, min_lr_ratio: 0.1 };
    expect(learningRate(5, 100, t)).toBeCloseTo(0.5);
    expect(learningRate(10, 100, t)).toBeCloseTo(1);
    expect(learningRate(55, 100, t)).toBeCloseTo(0.55);
    expect(learningRate(100, 100, t)).toBeCloseTo(0.1);
  });
  it('orders epochs by (seed, epoch) only, as a permutation', () => {
    const a = epochOrder(50, 3, 1);
    expect(epochOrder(50, 3, 1)).toEqual(a);
    expect(epochOrder(50, 3, 2)).not.toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    // an unbiased shuffle reaches every order (a cycle-only one would reach 2 of the 6)
    expect(new Set(Array.from({ length: 200 }, (_, seed) => epochOrder(3, seed, 0).join())).size).toBe(6);
  });
  it('groups batches by length: a permutation, by (seed, epoch) only, a short batch last, far less padding', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 3000 }), fc.integer({ min: 1, max: 70 }), fc.nat(99), (lengths, batch, seed) => {
        const order = lengthGroupedOrder(lengths, batch, seed, 1);
        expect([...order].sort((x, y) => x - y)).toEqual(lengths.map((_, i) => i));
        expect(lengthGroupedOrder(lengths, batch, seed, 1)).toEqual(order);
        // every full batch is one sorted run of a pool, so its lengths are ordered
        for (let b = 0; b + batch <= order.length; b += batch) {
          const run = order.slice(b, b + batch).map((i) => lengths[i]);
          expect(run).toEqual([...run].sort((x, y) => x - y));
        }
      }),
    );
    // padded slots (each batch pads to its longest) on lengths like the built-in task's (62..159)
    const lengths = Array.from({ length: 20000 }, (_, i) => 62 + ((i * 7919) % 98));
    const padded = (order: number[]) => {
      let slots = 0;
      for (let b = 0; b < order.length; b += 64) slots += 64 * Math.max(...order.slice(b, b + 64).map((i) => lengths[i]));
      return slots;
    };
    const tokens = lengths.reduce((s, l) => s + l, 0);
    expect(tokens / padded(epochOrder(lengths.length, 0, 0))).toBeLessThan(0.75);
    expect(tokens / padded(lengthGroupedOrder(lengths, 64, 0, 0))).toBeGreaterThan(0.95);
    expect(lengthGroupedOrder(lengths, 64, 0, 1)).not.toEqual(lengthGroupedOrder(lengths, 64, 0, 0));
  });
  it('95% CI over seeds is 1.96·s/√n', () => {
    const { mean, ci95 } = meanCI([1, 2, 3, 4, 5]);
    expect(mean).toBe(3);
    expect(ci95).toBeCloseTo((1.96 * Math.sqrt(2.5)) / Math.sqrt(5), 10);
  });
});

describe('compression curriculum', () => {
  it('draws uniformly from all factors without one, and from a growing prefix with one', () => {
    const factors = [1, 2, 3, 4, 5];
    expect([0, 0.21, 0.5, 0.99].map((u) => drawCompression(factors, u, 0, 0))).toEqual([1, 2, 3, 5]);
    // curriculum over the first half: at progress 0 only c = 1, at 0.25 the first three, from 0.5 all
    expect(drawCompression(factors, 0.99, 0, 0.5)).toBe(1);
    expect(drawCompression(factors, 0.99, 0.25, 0.5)).toBe(3);
    expect(drawCompression(factors, 0.99, 0.5, 0.5)).toBe(5);
    expect(drawCompression(factors, 0.99, 0.9, 0.5)).toBe(5);
  });
});
