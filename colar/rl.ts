// The GRPO stage (docs/METHOD.md §4). Each epoch draws questions with replacement; each step
// rolls out G samples per question with sampled latents, stop decisions and answers, rewards
// correctness (optionally acc / #L), normalises rewards within each group, scores the rollouts
// under the rollout policy (old log-probs), then makes one pass over shuffled minibatches of
// the experience: recompute log-probs, clipped-ratio loss on latents and answer tokens, clip
// the gradient norm, AdamW. After each epoch the model is validated at the rollout factor and
// the best checkpoint kept (rl.validate), as the reference selects its checkpoints.

import * as E from '../engine/index.js';
import { isCorrectAnswer } from '../datasets/answer.js';
import { encodeInferencePrompt, separatorId } from '../datasets/prompt.js';
import type { QsaRecord } from '../datasets/record.js';
import { Rng as HostRng } from '../datasets/rng.js';
import { aggregationWeights, clippedObjective, groupAdvantages } from './grpo.js';
import { latentReasoning, PAPER_ANSWER_SAMPLING } from './inference.js';
import { rolloutLogprobs, type Rollout } from './rl_logprobs.js';
import type { RunModel } from './run.js';
import type { TrainConfig } from './train_config.js';
import { openTrainingLoop, stepCheckpointName, validationAccuracy } from './training_loop.js';

interface Experience {
  rollout: Rollout;
  advantage: number;
  oldLatent: Float32Array | Float64Array;
  oldAnswer: Float32Array | Float64Array;
}

export async function trainRl(engine: E.Engine, cfg: TrainConfig, run: RunModel, data: { train: QsaRecord[]; val: QsaRecord[] }, opts: { resume: boolean; log?: (l: string) => void }): Promise<{ steps: number; bestMetric: number | null }> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const rl = cfg.rl;
  const head = run.head;
  if (!head) throw new Error('rl: the model has no latent head (start from a CoLaR run with model.init_from)');
  const stepsPerEpoch = Math.ceil(rl.samples_per_epoch / rl.questions_per_step);
  const totalSteps = stepsPerEpoch * rl.epochs;
  const loop = await openTrainingLoop(cfg, run, { lr: rl.lr, totalSteps, label: 'grpo', resume: opts.resume, log });
  const { params, optimizer, state, metrics, tb, progress, guard } = loop;
  const sep = separatorId(run.prompt);
  const train = data.train;
  const epochEnded = () => state.step > 0 && state.step % stepsPerEpoch === 0;
  await loop.run(async () => {
    for (;;) {
      // like SFT's, so that a run killed during a validation redoes just that on resume
      if (rl.validate && epochEnded() && state.validatedStep !== state.step) {
        state.epoch = state.step / stepsPerEpoch;
        const accuracy = await validationAccuracy(engine, cfg, run, data.val, 'latent', rl.compression);
        log(`step ${state.step} (end of epoch ${state.epoch}): validation accuracy ${(100 * accuracy).toFixed(1)}% at c = ${rl.compression} on ${Math.min(cfg.train.val_samples, data.val.length)} questions`);
        await loop.recordValidation(accuracy, () => ({ ...state }));
        continue;
      }
      if (state.step >= totalSteps) break;
      const epoch = Math.floor(state.step / stepsPerEpoch);
      // questions with replacement, a function of (seed, epoch): resumable
      const draw = new HostRng(cfg.seed * 7777 + epoch);
      const epochQuestions = Array.from({ length: stepsPerEpoch * rl.questions_per_step }, () => train[Math.floor(draw.float() * train.length)]);
      const inEpoch = state.step % stepsPerEpoch;
      const questions = epochQuestions.slice(inEpoch * rl.questions_per_step, (inEpoch + 1) * rl.questions_per_step);
      const started = performance.now();

      const grouped = questions.flatMap((q) => new Array<QsaRecord>(rl.group_size).fill(q));
      const result = await latentReasoning(run.model, head, run.prompt, grouped.map((q) => q.question), {
        compression: rl.compression, maxLatentSteps: rl.max_latent_steps, latentTemperature: 1, deterministic: false,
        stopTemperature: 1, answer: PAPER_ANSWER_SAMPLING, seed: (cfg.seed * 1000 + state.step) >>> 0, captureLatents: true,
      });
      const correct = grouped.map((q, i) => (isCorrectAnswer(q.answer, run.tokenizer.decode(result.answerIds[i], { skipSpecialTokens: true })) ? 1 : 0));
      const rewards = correct.map((acc, i) => (rl.punish_latent_length ? acc / Math.max(1, result.chainLengths[i]) : acc));
      const advantages = groupAdvantages(rewards, rl.group_size);
      const rollouts: Rollout[] = grouped.map((q, i) => ({
        prompt: encodeInferencePrompt(run.prompt, q.question, rl.compression),
        latents: result.latents![i],
        answer: [sep, ...result.answerIds[i]],
      }));

      // old log-probs: the policy that produced the rollouts, before any update this step
      const experience: Experience[] = [];
      for (let i = 0; i < rollouts.length; i += rl.exp_batch_size) {
        const chunk = rollouts.slice(i, i + rl.exp_batch_size);
        const lp = E.noGrad(() => engine.scope(() => rolloutLogprobs(run.model, head, chunk, run.prompt.padId)));
        const [lat, ans] = [await lp.latent.data(), await lp.answer.data()];
        lp.latent.dispose();
        lp.answer.dispose();
        let lo = 0;
        let ao = 0;
        chunk.forEach((r, k) => {
          experience.push({ rollout: r, advantage: advantages[i + k], oldLatent: lat.slice(lo, lo + r.latents.length) as Float32Array, oldAnswer: ans.slice(ao, ao + r.answer.length) as Float32Array });
          lo += r.latents.length;
          ao += r.answer.length;
        });
      }

      // one pass over shuffled minibatches
      const order = new HostRng(cfg.seed * 31 + state.step).shuffle(experience.map((_, i) => i));
      const parts = { latentLoss: 0, answerLoss: 0, clip: 0, batches: 0 };
      for (let i = 0; i < order.length; i += rl.exp_batch_size) {
        const mb = order.slice(i, i + rl.exp_batch_size).map((k) => experience[k]);
        // all-equal groups carry no signal; the reference still steps (momentum and weight decay move)
        if (rl.zero_advantage_steps === 'skip' && mb.every((x) => x.advantage === 0)) continue;
        const values = engine.scope(() => {
          const lp = rolloutLogprobs(run.model, head, mb.map((x) => x.rollout), run.prompt.padId);
          const part = (logp: E.Tensor, old: (x: Experience) => ArrayLike<number>, count: (x: Experience) => number) => {
            const flatOld = mb.flatMap((x) => Array.from(old(x)));
            const adv = mb.flatMap((x) => new Array<number>(count(x)).fill(x.advantage));
            const w = aggregationWeights(mb.map(count), rl.aggregation);
            return clippedObjective(logp, engine.tensor(flatOld), engine.tensor(adv), engine.tensor(w), rl.clip_eps);
          };
          const latent = part(lp.latent, (x) => x.oldLatent, (x) => x.rollout.latents.length);
          const answer = part(lp.answer, (x) => x.oldAnswer, (x) => x.rollout.answer.length);
          E.backward(E.add(latent.loss, answer.loss));
          return [latent.loss, answer.loss, E.scale(E.add(latent.clipFraction, answer.clipFraction), 0.5)].map((t) => E.keep(t));
        });
        const clip = E.clipGradNorm(params, cfg.train.grad_clip ?? Infinity);
        const [ll, al, cf] = await Promise.all(values.map((v) => v.item()));
        values.forEach((v) => v.dispose());
        const [, gradNorm] = await clip.array();
        // a non-finite minibatch is skipped, so nothing non-finite reaches the weights
        if (!(await guard.check(state.step + 1, ll + al, gradNorm))) optimizer.update(clip);
        optimizer.zeroGrad();
        clip.dispose();
        state.skippedSteps = guard.consecutive;
        parts.latentLoss += ll;
        parts.answerLoss += al;
        parts.clip += cf;
        parts.batches++;
      }
      state.step++;
      const seconds = (performance.now() - started) / 1000;
      const nb = Math.max(1, parts.batches);
      const tokens = rollouts.reduce((s, r) => s + r.prompt.length + r.latents.length + r.answer.length, 0);
      const record = {
        step: state.step, epoch: epoch + 1,
        reward: mean(rewards), accuracy: mean(correct), chain_length: mean(result.chainLengths),
        clip_fraction: parts.clip / nb, latent_loss: parts.latentLoss / nb, answer_loss: parts.answerLoss / nb,
        tokens_per_s: tokens / seconds,
      };
      metrics.write(record);
      for (const [k, v] of Object.entries(record)) if (k !== 'step') tb.scalar(`rl/${k}`, v, state.step);
      progress.tick(1, { reward: record.reward, '#L': record.chain_length });
      if (state.step % rl.ckpt_every === 0 || state.step === totalSteps) {
        await loop.save(stepCheckpointName(state.step), { ...state, epoch });
      }
    }
  });
  return { steps: state.step, bestMetric: state.bestMetric };
}

function mean(xs: number[]): number {
  return xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
}
