// The SFT training loop shared by the CoT, No-CoT and CoLaR stages: seeded epoch order, the
// compression factor drawn per optimizer step, gradient accumulation, global-norm clipping,
// AdamW with warmup + cosine decay, validation accuracy each epoch and at the last step with
// best-checkpoint selection, atomic checkpoints every ckpt_every steps, steps with a non-finite
// loss or gradient skipped (divergence.ts), and exact resume (weights, optimizer, RNG, data
// position, what is left after the last step). Metrics go to metrics.jsonl, TensorBoard and a progress line.

import * as E from '../engine/index.js';
import { encodeExample, type EncodedExample } from '../datasets/prompt.js';
import type { QsaRecord } from '../datasets/record.js';
import { Rng as HostShuffle } from '../datasets/rng.js';
import { failpoint } from '../io/failpoint.js';
import type { RunModel } from './run.js';
import { buildSlotBatch } from './sequence.js';
import { sftLosses, type SftLossConfig } from './sft.js';
import type { TrainConfig } from './train_config.js';
import { openTrainingLoop, stepCheckpointName, validationAccuracy } from './training_loop.js';

export interface TrainResult {
  steps: number;
  bestMetric: number | null;
  runDir: string;
}

/** Linear warmup, then cosine decay to min_lr_ratio·lr at the last step; or lr throughout. */
export function learningRate(step: number, totalSteps: number, c: TrainConfig['train']): number {
  if (c.lr_schedule === 'constant') return c.lr;
  if (step <= c.warmup_steps) return (c.lr * step) / Math.max(1, c.warmup_steps);
  const progress = Math.min(1, (step - c.warmup_steps) / Math.max(1, totalSteps - c.warmup_steps));
  return c.lr * (c.min_lr_ratio + (1 - c.min_lr_ratio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** The permutation of the training set for an epoch: a function of (seed, epoch) only. */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  return new HostShuffle(seed * 1000003 + epoch).shuffle(Array.from({ length: n }, (_, i) => i));
}

/** Batches sorted together: a pool of this many batches is sorted by length before it is cut. */
const LENGTH_POOL_BATCHES = 32;

/**
 * The epoch's order with every run of `batchSize` examples of similar length (group_by_length),
 * so a batch pads to its own longest example rather than to a random one: the shuffled order is
 * cut into pools of LENGTH_POOL_BATCHES batches, each pool sorted by length and cut into batches,
 * and the full batches shuffled (a short last batch stays last). A function of (seed, epoch).
 */
export function lengthGroupedOrder(lengths: number[], batchSize: number, seed: number, epoch: number): number[] {
  const order = epochOrder(lengths.length, seed, epoch);
  const pool = batchSize * LENGTH_POOL_BATCHES;
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += pool) {
    const sorted = order.slice(start, start + pool).sort((a, b) => lengths[a] - lengths[b] || a - b);
    for (let b = 0; b < sorted.length; b += batchSize) batches.push(sorted.slice(b, b + batchSize));
  }
  const last = batches.at(-1)!.length < batchSize ? batches.pop()! : [];
  return [...new HostShuffle(seed * 1000003 + epoch + 0x9e3779b9).shuffle(batches).flat(), ...last];
}

const encodedLength = (e: EncodedExample) => e.question.length + e.steps.length + e.answer.length;

export async function train(engine: E.Engine, cfg: TrainConfig, run: RunModel, data: { train: QsaRecord[]; val: QsaRecord[] }, opts: { resume: boolean; log?: (line: string) => void }): Promise<TrainResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const runDir = cfg.out_dir;
  const t = cfg.train;
  const microPerStep = t.batch_size * t.grad_accum;
  // tokens of each example at speed 1 (a compressed chain shrinks with it): ~1 s for 20k examples
  const lengths = t.group_by_length ? data.train.map((r) => encodedLength(encodeExample(run.prompt, r, 1))) : [];
  const stepsPerEpoch = Math.ceil(data.train.length / microPerStep);
  const totalSteps = Math.min(t.max_steps ?? Infinity, stepsPerEpoch * t.epochs);
  const factors = cfg.stage === 'colar' ? cfg.colar.compression_factors : [1];
  const lossCfg: SftLossConfig = {
    latentLoss: cfg.colar.latent_loss, ceWeight: cfg.colar.ce_weight, latentWeight: cfg.colar.latent_weight, entropyWeight: cfg.colar.entropy_weight,
    predEmbedForwardWeight: cfg.colar.pred_embed_forward_weight, predEmbedForwardVariant: cfg.colar.pred_embed_forward_variant, inputNoise: cfg.colar.input_noise,
  };

  const loop = await openTrainingLoop(cfg, run, { lr: t.lr, totalSteps, label: `${cfg.stage} sft`, resume: opts.resume, log });
  const { params, optimizer, state, metrics, tb, progress, guard } = loop;
  const flopsPerToken = modelFlopsPerToken(run, params);
  const rng = E.Rng.fromState(state.rng);
  const snapshot = () => ({ ...state, rng: rng.state() });
  const epochComplete = () => state.batchInEpoch * microPerStep >= data.train.length;
  const finished = () => state.step >= totalSteps || state.epoch >= t.epochs;
  /** validation, best-checkpoint selection and a checkpoint: what follows an epoch and the last step */
  const validateAndSave = async () => {
    failpoint('validation');
    const mode = cfg.stage === 'colar' ? 'latent' : cfg.stage === 'nocot' ? 'no-cot' : 'cot';
    const accuracy = await validationAccuracy(engine, cfg, run, data.val, mode, cfg.colar.val_compression);
    log(`step ${state.step} (${epochComplete() || state.batchInEpoch === 0 ? `end of epoch ${state.epoch}` : `epoch ${state.epoch + 1}`}): validation accuracy ${(100 * accuracy).toFixed(1)}% on ${Math.min(cfg.train.val_samples, data.val.length)} questions`);
    await loop.recordValidation(accuracy, snapshot);
  };
  /** the step on disk before a validation, which may be long: a kill during it loses no step */
  const saveBeforeValidation = async () => {
    if (state.step % t.ckpt_every !== 0) await loop.save(stepCheckpointName(state.step), snapshot());
  };
  const orders = new Map<number, number[]>();
  const orderOf = (epoch: number) => {
    if (!orders.has(epoch)) orders.set(epoch, t.group_by_length ? lengthGroupedOrder(lengths, t.batch_size, cfg.seed, epoch) : epochOrder(data.train.length, cfg.seed, epoch));
    return orders.get(epoch)!;
  };

  await loop.run(async () => {
    // each pass either closes an epoch or trains one step, so a run resumed at any point (even
    // killed during the last validation) goes on with exactly what was left
    for (;;) {
      if (epochComplete()) {
        await saveBeforeValidation();
        state.epoch++;
        state.batchInEpoch = 0;
        await validateAndSave();
        continue;
      }
      if (finished()) break;
      const order = orderOf(state.epoch);
      const started = performance.now();
      // one compression factor per optimizer step (the whole batch shares it), from the saved stream
      const c = drawCompression(factors, hostUniform(cfg.seed, state.step), state.step / totalSteps, cfg.colar.curriculum_fraction);
      let tokens = 0;
      // the loss and each part the step computed, averaged over micro-batches, under their metric names
      const parts: Record<string, number> = {};
      for (let micro = 0; micro < t.grad_accum; micro++) {
        const first = (state.batchInEpoch * t.grad_accum + micro) * t.batch_size;
        const records = order.slice(first, first + t.batch_size).map((i) => data.train[i]);
        if (records.length === 0) break;
        const labelDraw = seededStream(cfg.seed, state.step * 131 + micro);
        const batch = buildSlotBatch(
          records.map((r) => encodeExample(run.prompt, r, cfg.stage === 'cot' || cfg.stage === 'nocot' ? 1 : c)),
          { compression: c, pooling: cfg.colar.pooling, padId: run.prompt.padId, random: labelDraw, withSteps: cfg.stage !== 'nocot', referencePadding: cfg.colar.reference_padding },
        );
        tokens += batch.mask.reduce((s, m) => s + m, 0);
        const computed = engine.scope(() => {
          const l = sftLosses(run.model, run.head, batch, lossCfg, rng, run.multiToken);
          E.backward(E.scale(l.total, 1 / t.grad_accum));
          const named = { loss: l.total, ce: l.ce, latent: l.latent, multi_token: l.multiToken, pred_embed_forward: l.predEmbedForward };
          return Object.entries(named).flatMap(([name, x]) => (x ? [{ name, x: E.keep(x) }] : []));
        });
        const values = await Promise.all(computed.map(({ x }) => x.item()));
        computed.forEach(({ name, x }, i) => {
          parts[name] = (parts[name] ?? 0) + values[i] / t.grad_accum;
          x.dispose();
        });
      }
      state.step++;
      state.batchInEpoch++;
      optimizer.lr = learningRate(state.step, totalSteps, t);
      // the update is applied only when the loss and the gradient are finite
      const clip = E.clipGradNorm(params, t.grad_clip ?? Infinity);
      const [, gradNorm] = await clip.array();
      const skipped = await guard.check(state.step, parts.loss, gradNorm);
      if (!skipped) optimizer.update(clip);
      optimizer.zeroGrad();
      clip.dispose();
      state.skippedSteps = guard.consecutive;
      const seconds = (performance.now() - started) / 1000;
      const { loss, ce, latent = null, ...extra } = parts;
      const record = { step: state.step, epoch: state.epoch + 1, c, loss, ce, latent, ...extra, lr: optimizer.lr, grad_norm: gradNorm, ...(skipped ? { skipped: 1 } : {}), tokens_per_s: tokens / seconds, model_gflops_per_s: (flopsPerToken * tokens) / seconds / 1e9 };
      metrics.write(record);
      for (const [k, v] of Object.entries(record)) if (typeof v === 'number' && Number.isFinite(v) && k !== 'step') tb.scalar(`train/${k}`, v, state.step);
      progress.tick(1, { loss, c, 'tok/s': Math.round(tokens / seconds) });
      if (state.step % t.ckpt_every === 0) await loop.save(stepCheckpointName(state.step), snapshot());
    }
    // a run cut short by max_steps ends mid-epoch: it is still validated, and its last step kept
    if (state.validatedStep !== state.step) {
      await saveBeforeValidation();
      await validateAndSave();
    }
  });
  return { steps: state.step, bestMetric: state.bestMetric, runDir };
}

/**
 * A training step's model FLOPs per token: 2 per weight forward and 4 backward for the weights
 * that train, 2 + 2 for frozen ones (their inputs still need gradients); attention scores are not
 * counted. Weights outside the model (the latent head) count when they train.
 */
export function modelFlopsPerToken(run: RunModel, trained: E.Tensor[]): number {
  const trainable = new Set(trained);
  return [...new Set([...run.model.namedParameters().values(), ...trained])].reduce((f, p) => f + (trainable.has(p) ? 6 : 4) * p.size, 0);
}

/**
 * An optimizer step's compression factor from a uniform u: uniform over the choices, or, with a
 * curriculum, uniform over a prefix of them that grows from the first choice alone to all of
 * them during the first `curriculumFraction` of training (progress = step / total steps).
 */
export function drawCompression(factors: number[], u: number, progress: number, curriculumFraction: number): number {
  const reach = curriculumFraction > 0 ? Math.min(1, progress / curriculumFraction) : 1;
  const available = Math.max(1, Math.ceil(reach * factors.length));
  return factors[Math.floor(u * available)];
}

/** A uniform in [0, 1) that depends only on (seed, index): resumable by construction. */
function hostUniform(seed: number, index: number): number {
  return seededStream(seed, index)();
}

function seededStream(seed: number, index: number): () => number {
  const rng = new HostShuffle((seed * 2654435761 + index * 40503) >>> 0);
  return () => rng.float();
}
