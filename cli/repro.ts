import { Command } from 'commander';
import { Engine } from '../engine/index.js';
import { runRepro } from '../colar/repro.js';
import { positiveInt, positiveIntList } from './flags.js';

export function reproCommand(): Command {
  return new Command('repro')
    .description('the whole pipeline on the built-in task: CoT, No-CoT, CoLaR (MSE, NLL), GRPO (averaged and not), evaluation over seeds, results/REPRO.md with plots; resumable')
    .option('--preset <name>', 'configuration preset', 'tiny')
    .option('--out <dir>', 'results directory', 'results')
    .option('--seeds <n>', 'evaluation seeds', '5')
    .option('--test <n>', 'test questions', '200')
    .option('--compression <list>', 'compression factors to evaluate', '1,2,3,4,5')
    .option('--batch <n>', 'questions decoded together in evaluation', '200')
    .argument('[overrides...]', 'key=value overrides for every stage')
    .action(async (overrides: string[], o: { preset: string; out: string; seeds: string; test: string; compression: string; batch: string }) => {
      const seeds = positiveInt('--seeds', o.seeds);
      const testQuestions = positiveInt('--test', o.test);
      const compressions = positiveIntList('--compression', o.compression);
      const evalBatch = positiveInt('--batch', o.batch);
      const engine = await Engine.create();
      try {
        const r = await runRepro(engine, {
          outDir: o.out, preset: o.preset, seeds, testQuestions, compressions, evalBatch, overrides,
          command: `colar-wgpu repro ${process.argv.slice(3).join(' ')}`.trim(), log: (l) => console.log(l),
        });
        console.log(`wrote ${o.out}/REPRO.md (${(r.seconds / 60).toFixed(1)} min)`);
      } finally {
        await engine.close();
      }
    });
}
