import { Command, Option } from 'commander';
import { Engine, Rng } from '../engine/index.js';
import { syntheticTokenizerFiles } from '../datasets/vocab.js';
import { llamaPreset } from '../colar/llama/config.js';
import { initLlama } from '../colar/llama/init.js';
import { saveModelDir } from '../colar/llama/load.js';
import { Tokenizer } from '../colar/llama/tokenizer.js';
import { integerAtLeast } from './flags.js';
import { refuseNonEmptyDir } from '../io/files.js';

export function initCommand(): Command {
  return new Command('init')
    .description('write a randomly initialised model directory (Hugging Face layout) with a tokenizer, for training from scratch')
    .addOption(new Option('--preset <name>', 'model shape').choices(['tiny', 'llama-3.2-1b']).default('tiny'))
    .requiredOption('--out <dir>', 'directory to write (new or empty)')
    .option('--overwrite', 'write into a directory that already holds files, replacing its model')
    .option('--seed <n>', 'initialisation seed', integerAtLeast(0), 0)
    .option('--tokenizer <file>', 'tokenizer.json to use (default: the built-in synthetic task\'s)')
    .addOption(new Option('--dtype <type>', 'weights on disk (default: bf16 for llama-3.2-1b, as published; f32 for tiny)').choices(['bf16', 'f32']))
    .action(async (o: { preset: 'tiny' | 'llama-3.2-1b'; out: string; seed: number; tokenizer?: string; dtype?: 'bf16' | 'f32'; overwrite?: boolean }) => {
      const dtype = o.dtype ?? (o.preset === 'llama-3.2-1b' ? 'bf16' : 'f32');
      if (!o.overwrite) await refuseNonEmptyDir(o.out, 'init --out');
      const files = syntheticTokenizerFiles('digits');
      const tokJson = o.tokenizer ?? files.tokenizer;
      const tokenizer = o.tokenizer ? await Tokenizer.fromFile(o.tokenizer) : Tokenizer.fromJSON(files.tokenizer, 'synthetic tokenizer');
      const id = (t: string) => tokenizer.tokenToId(t);
      const config =
        o.preset === 'tiny'
          ? llamaPreset('tiny', { vocabSize: tokenizer.vocabSize, eosTokenId: id(files.config.eos_token as string) ?? 0, padTokenId: id(files.config.pad_token as string) })
          : llamaPreset('llama-3.2-1b');
      const engine = await Engine.create();
      try {
        const model = initLlama(engine, config, new Rng(o.seed));
        await saveModelDir(model, o.out, tokJson, o.tokenizer ? undefined : files.config, dtype === 'bf16' ? 'BF16' : 'F32');
        console.log(`wrote ${o.preset} model (${config.numHiddenLayers} layers, d=${config.hiddenSize}, vocab ${config.vocabSize}, ${dtype}) to ${o.out}`);
      } finally {
        await engine.close();
      }
    });
}
