import { Command } from 'commander';
import * as E from '../engine/index.js';
import { tokenLogprobs } from '../colar/llama/score.js';
import { loadModel } from '../colar/model_source.js';
import { addModelFlags, modelSource, type ModelFlags } from './model_flags.js';
import { JSON_HELP, printJson } from './output.js';

export function scoreCommand(): Command {
  return addModelFlags(new Command('score').description('per-token log-probabilities of a text under a model'))
    .requiredOption('--text <text>', 'the text to score')
    .option('--json', JSON_HELP)
    .option('--allow-non-finite', 'load weights that hold NaN or infinity instead of refusing them')
    .action(async (o: ModelFlags & { text: string; json?: boolean; allowNonFinite?: boolean }) => {
      const source = await modelSource(o, 'score');
      const engine = await E.Engine.create();
      try {
        const { run } = await loadModel(engine, source, { allowNonFinite: o.allowNonFinite });
        const ids = run.tokenizer.encode(o.text);
        if (ids.length < 2) throw new Error('score --text: needs at least two tokens');
        const logprobs = await tokenLogprobs(run.model, ids);
        const rows = logprobs.map((lp, i) => ({ token: run.tokenizer.decode([ids[i + 1]]), id: ids[i + 1], logprob: lp }));
        if (o.json) printJson({ tokens: rows, total: logprobs.reduce((s, x) => s + x, 0) });
        else {
          for (const r of rows) console.log(`${JSON.stringify(r.token).padEnd(16)} ${String(r.id).padStart(7)} ${r.logprob.toFixed(4)}`);
          console.log(`total ${logprobs.reduce((s, x) => s + x, 0).toFixed(4)} over ${rows.length} tokens`);
        }
      } finally {
        await engine.close();
      }
    });
}
