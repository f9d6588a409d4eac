import { join } from 'node:path';
import { Command, Option } from 'commander';
import { Engine } from '../engine/index.js';
import { runRepro } from '../colar/repro.js';
import { integerAtLeast, integerListAtLeast } from './flags.js';
import { JSON_HELP, printJson, textLines } from './output.js';

export function reproCommand(): Command {
  return new Command('repro')
    .description('the whole pipeline on the built-in task, as a demonstration sized for a 2-core CPU: CoT, No-CoT, one CoLaR model, GRPO (averaged and not), evaluation over seeds, results/REPRO.md with plots; resumable')
    .option('--preset <name>', 'configuration preset', 'tiny')
    .option('--out <dir>', 'results directory', 'results')
    .option('--seeds <n>', 'evaluation seeds', integerAtLeast(1), 5)
    .option('-n, --questions <n>', 'test questions', integerAtLeast(1), 200)
    .addOption(new Option('--compression <list>', 'compression factors CoLaR trains with (drawn per step) and is evaluated at, comma-separated').argParser(integerListAtLeast(1)).default([1, 2], '1,2'))
    .option('--batch <n>', 'questions decoded together in evaluation', integerAtLeast(1), 200)
    .option('--json', `${JSON_HELP}: the summary of REPRO.md, without the training curves`)
    .argument('[overrides...]', 'key=value overrides for every stage')
    .action(async (overrides: string[], o: { preset: string; out: string; seeds: number; questions: number; compression: number[]; batch: number; json?: boolean }) => {
      const say = textLines(o.json ?? false);
      const engine = await Engine.create();
      try {
        const r = await runRepro(engine, {
          outDir: o.out, preset: o.preset, seeds: o.seeds, testQuestions: o.questions, compressions: o.compression, evalBatch: o.batch, overrides,
          command: `colar-wgpu repro ${process.argv.slice(3).join(' ')}`.trim(), log: say,
        });
        const report = join(o.out, 'REPRO.md');
        say(`wrote ${report} (${(r.seconds / 60).toFixed(1)} min)`);
        if (o.json) {
          const { curves: _curves, ...summary } = r;
          printJson({ report, ...summary });
        }
      } finally {
        await engine.close();
      }
    });
}
