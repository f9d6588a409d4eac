// The teacher-forced diagnostic feeds the gold chain compressed exactly as in training: at c = 1
// that is the chain's own token embeddings, so it must decode the same answer as feeding the
// chain as token ids; at c > 1 it feeds ⌈n/c⌉ groups.
import { describe, expect, it } from 'vitest';
import { encodeExample, encodeInferencePrompt, separatorId } from '../../datasets/prompt.js';
import { arithmeticDataset } from '../../datasets/synthetic.js';
import { teacherForcedReasoning } from '../../colar/inference.js';
import { Decoder } from '../../colar/llama/decoder.js';
import { continueTokens } from '../../colar/llama/generate.js';
import { HostRng } from '../../colar/llama/sampling.js';
import { buildRunModel } from '../../colar/run.js';
import { resolveConfig } from '../../colar/train_config.js';
import { cpu } from '../helpers/engines.js';

const small = ['model.hidden_size=16', 'model.layers=1', 'model.heads=2', 'model.kv_heads=1', 'model.intermediate_size=24'];
const greedy = { greedy: true, maxNewTokens: 6 };

describe('teacher-forced compressed chain', () => {
  it('at c = 1 answers exactly as the gold chain fed as tokens', async () => {
    const run = await buildRunModel(cpu, resolveConfig('tiny', 'cot', small), false);
    const records = arithmeticDataset('test', 3, 0);
    const tf = await teacherForcedReasoning(run.model, run.prompt, records, { compression: 1, pooling: 'sqrt', answer: greedy, seed: 0 });

    const sep = separatorId(run.prompt);
    for (const [k, r] of records.entries()) {
      const chain = encodeExample(run.prompt, r, 1).steps.slice(1);
      expect(tf.chainLengths[k]).toBe(chain.length);
      const ref = new Decoder(run.model, 1, 200);
      (await ref.prompt([[...encodeInferencePrompt(run.prompt, r.question, 1), ...chain]], run.prompt.padId, false)).hidden.dispose();
      const start = await ref.tokens([sep], [true]);
      start.hidden.dispose();
      const answer = await continueTokens(ref, start.logits, new HostRng(0), { ...greedy, eosIds: [run.prompt.eosId], padId: run.prompt.padId });
      ref.dispose();
      expect(tf.answerIds[k]).toEqual(answer[0]);
    }
    run.model.dispose();
  });

  it('feeds ⌈n/c⌉ groups per question', async () => {
    const run = await buildRunModel(cpu, resolveConfig('tiny', 'cot', small), false);
    const records = arithmeticDataset('test', 4, 1);
    const tf = await teacherForcedReasoning(run.model, run.prompt, records, { compression: 3, pooling: 'mean', answer: greedy, seed: 0 });
    expect(tf.chainLengths).toEqual(records.map((r) => Math.ceil((encodeExample(run.prompt, r, 3).steps.length - 1) / 3)));
    run.model.dispose();
  });
});
