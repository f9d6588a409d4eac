import { Command, Option } from 'commander';
import { Engine, Rng } from '../engine/index.js';
import { llamaPreset } from '../colar/llama/config.js';
import { initialWeights } from '../colar/llama/init.js';
import { writeModelDir } from '../colar/llama/model_dir_write.js';
import { readTokenizerFile } from '../colar/llama/node_files.js';
import { freshModelConfig, runTokenizer } from '../colar/run.js';
import { promptTokenizer, SPECIAL_TOKENS } from '../datasets/vocab.js';
import { presetNames, resolveConfig } from '../colar/train_config.js';
import { integerAtLeast } from './flags.js';
import { refuseNonEmptyDir } from '../io/files.js';

export function initCommand(): Command {
  return new Command('init')
    .description('write a randomly initialised model directory (Hugging Face layout) with a tokenizer, for training from scratch')
    .addOption(new Option('--preset <name>', 'the model `train --preset` builds (configs/<name>.yaml); llama-3.2-1b: the published shape').choices(presetNames()).default('tiny'))
    .requiredOption('--out <dir>', 'directory to write (new or empty)')
    .option('--overwrite', 'write into a directory that already holds files, replacing its model')
    .option('--seed <n>', 'initialisation seed', integerAtLeast(0), 0)
    .option('--tokenizer <file>', 'tokenizer.json to use (default: the built-in synthetic task\'s)')
    .addOption(new Option('--dtype <type>', 'weights on disk (default: bf16 for llama-3.2-1b, as published; f32 for tiny)').choices(['bf16', 'f32']))
    .action(async (o: { preset: string; out: string; seed: number; tokenizer?: string; dtype?: 'bf16' | 'f32'; overwrite?: boolean }) => {
      const dtype = o.dtype ?? (o.preset === 'llama-3.2-1b' ? 'bf16' : 'f32');
      if (!o.overwrite) await refuseNonEmptyDir(o.out, 'init --out');
      // the preset's own tokenizer (the built-in task's), unless one is given
      const cfg = resolveConfig(o.preset, 'cot', ['model.path=null', 'model.preset="tiny"']);
      const builtIn = await runTokenizer(cfg);
      const tokJson = o.tokenizer ?? builtIn.json;
      const tokenizer = o.tokenizer ? await readTokenizerFile(o.tokenizer) : builtIn.tokenizer;
      // a tokenizer of the user's may lack the built-in task's EOS and pad tokens: id 0 then
      const special = o.tokenizer ? { eosId: tokenizer.tokenToId(SPECIAL_TOKENS.eos) ?? 0, padId: tokenizer.tokenToId(SPECIAL_TOKENS.pad) ?? 0 } : promptTokenizer(tokenizer, builtIn.config);
      const config = o.preset === 'llama-3.2-1b' ? llamaPreset('llama-3.2-1b') : freshModelConfig(cfg, tokenizer, special);
      const engine = await Engine.create();
      try {
        // one tensor at a time, made, written and freed: a 1B model is never whole in memory
        const tensors = initialWeights(config, new Rng(o.seed)).map((w) => ({
          name: w.name,
          shape: w.shape,
          data: async () => {
            const t = w.draw(engine);
            try {
              return await t.float32();
            } finally {
              t.dispose();
            }
          },
        }));
        await writeModelDir(o.out, { config, tensors, tokenizer: tokJson, tokenizerConfig: o.tokenizer ? undefined : builtIn.config, floatDType: dtype === 'bf16' ? 'BF16' : 'F32' });
        console.log(`wrote ${o.preset} model (${config.numHiddenLayers} layers, d=${config.hiddenSize}, vocab ${config.vocabSize}, ${dtype}) to ${o.out}`);
      } finally {
        await engine.close();
      }
    });
}
