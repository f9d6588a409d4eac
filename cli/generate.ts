import { Command } from 'commander';
import { Engine } from '../engine/index.js';
import { generate } from '../colar/llama/generate.js';
import { loadModelDir } from '../colar/llama/load.js';
import { ModelDir } from '../colar/llama/model_dir.js';
import { latentReasoning, PAPER_ANSWER_SAMPLING } from '../colar/inference.js';
import { loadRun } from '../colar/run.js';
import { integerAtLeast, numberIn } from './flags.js';
import { JSON_HELP, printJson } from './output.js';

export function generateCommand(): Command {
  return new Command('generate')
    .description('sample a continuation from a model directory, or an answer by latent reasoning from a CoLaR run')
    .option('--model <dir>', 'a Hugging Face model directory')
    .option('--ckpt <dir>', 'a CoLaR run directory: latent reasoning on --prompt as the question')
    .requiredOption('--prompt <text>', 'the prompt (or, with --ckpt, the question)')
    .option('--max-new-tokens <n>', 'tokens to generate', integerAtLeast(1), 64)
    .option('--compression <c>', 'compression factor of latent reasoning (with --ckpt)', integerAtLeast(1), 2)
    .option('--greedy', 'argmax instead of sampling')
    .option('--temperature <t>', 'sampling temperature', numberIn(0, Infinity), 1)
    .option('--top-p <p>', 'nucleus sampling mass (0 keeps the top token)', numberIn(0, 1), 0.9)
    .option('--seed <n>', 'sampling seed', integerAtLeast(0), 0)
    .option('--json', JSON_HELP)
    .action(async (o: { model?: string; ckpt?: string; prompt: string; maxNewTokens: number; compression: number; greedy?: boolean; temperature: number; topP: number; seed: number; json?: boolean }) => {
      if (!o.model === !o.ckpt) throw new Error('generate: give exactly one of --model DIR or --ckpt RUN_DIR');
      if (o.prompt === '') throw new Error('generate --prompt: is empty; give the text to continue (or, with --ckpt, the question)');
      const { seed, compression, maxNewTokens, temperature, topP } = o;
      const engine = await Engine.create();
      try {
        if (o.ckpt) {
          const { run } = await loadRun(engine, o.ckpt);
          if (!run.head) throw new Error(`generate --ckpt ${o.ckpt}: not a CoLaR run (no latent head)`);
          const r = await latentReasoning(run.model, run.head, run.prompt, [o.prompt], {
            compression, maxLatentSteps: 64, latentTemperature: 1, deterministic: o.greedy ?? false, stopTemperature: 1,
            answer: o.greedy ? { greedy: true, maxNewTokens: 16 } : PAPER_ANSWER_SAMPLING, seed,
          });
          const answer = run.tokenizer.decode(r.answerIds[0], { skipSpecialTokens: true });
          if (o.json) printJson({ question: o.prompt, answer, latent_steps: r.chainLengths[0] });
          else console.log(`${answer}   (#L = ${r.chainLengths[0]} latent steps)`);
          return;
        }
        const dir = await ModelDir.open(o.model!);
        const tokenizer = await dir.loadTokenizer();
        const eosIds = dir.eosTokenIds();
        await dir.close();
        const model = await loadModelDir(engine, o.model!);
        const [ids] = await generate(model, [tokenizer.encode(o.prompt)], {
          maxNewTokens, eosIds, padId: model.config.padTokenId ?? 0, seed,
          greedy: o.greedy, temperature, topP,
        });
        const continuation = tokenizer.decode(ids, { skipSpecialTokens: true });
        if (o.json) printJson({ prompt: o.prompt, continuation });
        else console.log(o.prompt + continuation);
      } finally {
        await engine.close();
      }
    });
}
