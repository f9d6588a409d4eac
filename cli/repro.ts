import { Command } from 'commander';
import { Engine } from '../engine/index.js';
import { runRepro } from '../colar/repro.js';
import { integerAtLeast, integerListAtLeast } from './flags.js';

export function reproCommand(): Command {
  return new Command('repro')
    .description('the whole pipeline on the built-in task, as a demonstration sized for a 2-core CPU: CoT, No-CoT, one CoLaR model, GRPO (averaged and not), evaluation over seeds, results/REPRO.md with plots; resumable')
    .option('--preset <name>', 'configuration preset', 'tiny')
    .option('--out <dir>', 'results directory', 'results')
    .option('--seeds <n>', 'evaluation seeds', integerAtLeast(1), 5)
    .option('--test <n>', 'test questions', integerAtLeast(1), 200)
    .option('--compression <list>', 'compression factors CoLaR trains with (drawn per step) and is evaluated at', integerListAtLeast(1), [1, 2])
    .option('--batch <n>', 'questions decoded together in evaluation', integerAtLeast(1), 200)
    .argument('[overrides...]', 'key=value overrides for every stage')
    .action(async (overrides: string[], o: { preset: string; out: string; seeds: number; test: number; compression: number[]; batch: number }) => {
      const engine = await Engine.create();
      try {
        const r = await runRepro(engine, {
          outDir: o.out, preset: o.preset, seeds: o.seeds, testQuestions: o.test, compressions: o.compression, evalBatch: o.batch, overrides,
          command: `colar-wgpu repro ${process.argv.slice(3).join(' ')}`.trim(), log: (l) => console.log(l),
        });
        console.log(`wrote ${o.out}/REPRO.md (${(r.seconds / 60).toFixed(1)} min)`);
      } finally {
        await engine.close();
      }
    });
}
