// The teacher-forced diagnostic feeds the gold chain compressed exactly as in training: at c = 1
// that is the chain's own token embeddings, so the answer's first logits must equal those after
// feeding the chain as token ids; at c > 1 it feeds ⌈n/c⌉ groups.
import { describe, expect, it } from 'vitest';
import { encodeExample, encodeInferencePrompt, separatorId } from '../../datasets/prompt.js';
import { arithmeticDataset } from '../../datasets/synthetic.js';
import { feedGoldChain, goldChainSlots, teacherForcedReasoning } from '../../colar/inference.js';
import { Decoder } from '../../colar/llama/decoder.js';
import { buildRunModel } from '../../colar/run.js';
import { resolveConfig } from '../../colar/train_config.js';
import { cpu } from '../helpers/engines.js';

const small = ['model.hidden_size=16', 'model.layers=1', 'model.heads=2', 'model.kv_heads=1', 'model.intermediate_size=24'];

describe('teacher-forced compressed chain', () => {
  it('at c = 1 gives the answer the same logits as the gold chain fed as tokens', async () => {
    const run = await buildRunModel(cpu, resolveConfig('tiny', 'cot', small), false);
    const records = arithmeticDataset('test', 3, 0);
    const sep = separatorId(run.prompt);
    const answerLogits = async (chainAsTokens: boolean) => {
      const decoder = new Decoder(run.model, records.length, 200);
      const prompts = records.map((r) => encodeInferencePrompt(run.prompt, r.question, 1));
      if (chainAsTokens) {
        // each row's prompt and chain as one left-padded prompt: the same positions and keys
        const full = records.map((r, k) => [...prompts[k], ...encodeExample(run.prompt, r, 1).steps.slice(1)]);
        (await decoder.prompt(full, run.prompt.padId, false)).hidden.dispose();
      } else {
        (await decoder.prompt(prompts, run.prompt.padId, false)).hidden.dispose();
        const groups = await feedGoldChain(decoder, goldChainSlots(run.prompt, records, 1, 'sqrt'));
        expect(groups).toEqual(records.map((r) => encodeExample(run.prompt, r, 1).steps.length - 1));
      }
      const step = await decoder.tokens(records.map(() => sep), records.map(() => true));
      step.hidden.dispose();
      decoder.dispose();
      return Array.from(step.logits);
    };
    const fed = await answerLogits(false);
    const tokens = await answerLogits(true);
    fed.forEach((v, i) => expect(v).toBeCloseTo(tokens[i], 9));
    run.model.dispose();
  });

  it('feeds ⌈n/c⌉ groups per question and answers every one', async () => {
    const run = await buildRunModel(cpu, resolveConfig('tiny', 'cot', small), false);
    const records = arithmeticDataset('test', 4, 1);
    const tf = await teacherForcedReasoning(run.model, run.prompt, records, { compression: 3, pooling: 'mean', answer: { greedy: true, maxNewTokens: 4 }, seed: 0 });
    expect(tf.chainLengths).toEqual(records.map((r) => Math.ceil((encodeExample(run.prompt, r, 3).steps.length - 1) / 3)));
    expect(tf.answerIds.length).toBe(4);
    run.model.dispose();
  });
});
