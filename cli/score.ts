import { Command } from 'commander';
import * as E from '../engine/index.js';
import { loadModelDir } from '../colar/llama/load.js';
import { ModelDir } from '../colar/llama/model_dir.js';
import { JSON_HELP, printJson } from './output.js';

export function scoreCommand(): Command {
  return new Command('score')
    .description('per-token log-probabilities of a text under a model')
    .requiredOption('--model <dir>', 'a Hugging Face model directory')
    .requiredOption('--text <text>', 'the text to score')
    .option('--json', JSON_HELP)
    .action(async (o: { model: string; text: string; json?: boolean }) => {
      const dir = await ModelDir.open(o.model);
      const tokenizer = await dir.loadTokenizer();
      await dir.close();
      const ids = tokenizer.encode(o.text);
      if (ids.length < 2) throw new Error('score --text: needs at least two tokens');
      const engine = await E.Engine.create();
      try {
        const model = await loadModelDir(engine, o.model);
        const T = ids.length;
        const nll = E.noGrad(() =>
          engine.scope(() => {
            const { logits } = model.forward({ ids: engine.tensor(ids, [1, T], 'i32') });
            const targets = engine.tensor([...ids.slice(1), -100], [T], 'i32');
            return E.crossEntropy(E.reshape(logits!, [T, -1]), targets, { reduction: 'none' });
          }),
        );
        const logprobs = Array.from(await nll.data()).slice(0, T - 1).map((x) => -x);
        const rows = logprobs.map((lp, i) => ({ token: tokenizer.decode([ids[i + 1]]), id: ids[i + 1], logprob: lp }));
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
