import { Command } from 'commander';
import { Engine } from '../engine/index.js';
import { generate } from '../colar/llama/generate.js';
import { latentReasoning, PAPER_ANSWER_SAMPLING } from '../colar/inference.js';
import { loadModel } from '../colar/model_source.js';
import { integerAtLeast, numberIn } from './flags.js';
import { addModelFlags, modelSource, type ModelFlags } from './model_flags.js';
import { JSON_HELP, printJson } from './output.js';

export function generateCommand(): Command {
  return addModelFlags(new Command('generate').description('sample a continuation of the prompt, or, from a model with a latent head (CoLaR), an answer to it by latent reasoning'))
    .requiredOption('--prompt <text>', 'the prompt (or, for a CoLaR model, the question)')
    .option('--max-new-tokens <n>', 'tokens to generate', integerAtLeast(1), 64)
    .option('--compression <c>', 'latent reasoning speed (CoLaR models)', integerAtLeast(1), 2)
    .option('--greedy', 'argmax instead of sampling')
    .option('--temperature <t>', 'sampling temperature', numberIn(0, Infinity), 1)
    .option('--top-p <p>', 'nucleus sampling mass (0 keeps the top token)', numberIn(0, 1), 0.9)
    .option('--seed <n>', 'sampling seed', integerAtLeast(0), 0)
    .option('--json', JSON_HELP)
    .option('--allow-non-finite', 'load weights that hold NaN or infinity instead of refusing them')
    .action(async (o: ModelFlags & { prompt: string; maxNewTokens: number; compression: number; greedy?: boolean; temperature: number; topP: number; seed: number; allowNonFinite?: boolean; json?: boolean }) => {
      if (o.prompt === '') throw new Error('generate --prompt: is empty; give the text to continue (or, for a CoLaR model, the question)');
      const source = await modelSource(o, 'generate');
      const { seed, compression, maxNewTokens, temperature, topP } = o;
      const engine = await Engine.create();
      try {
        const { run, eosIds } = await loadModel(engine, source, { allowNonFinite: o.allowNonFinite });
        if (run.head) {
          const r = await latentReasoning(run.model, run.head, run.prompt, [o.prompt], {
            compression, maxLatentSteps: 64, latentTemperature: 1, deterministic: o.greedy ?? false, stopTemperature: 1,
            answer: o.greedy ? { greedy: true, maxNewTokens: 16 } : PAPER_ANSWER_SAMPLING, seed,
          });
          const answer = run.tokenizer.decode(r.answerIds[0], { skipSpecialTokens: true });
          if (o.json) printJson({ question: o.prompt, answer, latent_steps: r.chainLengths[0] });
          else console.log(`${answer}   (#L = ${r.chainLengths[0]} latent steps)`);
          return;
        }
        const [ids] = await generate(run.model, [run.tokenizer.encode(o.prompt)], {
          maxNewTokens, eosIds, padId: run.model.config.padTokenId ?? 0, seed,
          greedy: o.greedy, temperature, topP,
        });
        const continuation = run.tokenizer.decode(ids, { skipSpecialTokens: true });
        if (o.json) printJson({ prompt: o.prompt, continuation });
        else console.log(o.prompt + continuation);
      } finally {
        await engine.close();
      }
    });
}
