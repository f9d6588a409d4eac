import { join } from 'node:path';
import { Command } from 'commander';
import { ablationMarkdown, readAblation } from '../colar/report/ablation_table.js';
import { withFileError, writeFileAtomic } from '../io/files.js';

export function ablationCommand(): Command {
  return new Command('ablation')
    .description('the ablation table of a bench/colar_ablation.sh directory (runs named <lever>-s<seed>, each evaluated): prints it and writes ABLATION.md')
    .argument('<dir>', 'the directory bench/colar_ablation.sh wrote')
    .action(async (dir: string) => {
      const cells = await withFileError('read', dir, () => readAblation(dir));
      if (cells.length === 0) throw new Error(`${dir}: no evaluated runs (<lever>-s<seed>/eval/eval.json)`);
      const table = ablationMarkdown(cells, ['cot', 'nocot', 'mse', 'nll', 'curriculum', 'lora', 'pef', 'noise', 'c1', 'c1noise', 'c2noise', 'rl-mean', 'rl-sum32']);
      await writeFileAtomic(join(dir, 'ABLATION.md'), `# CoLaR ablation (${dir})\n\nMean over training seeds of each run's mean over evaluation seeds, ± 1.96·σ/√n over training seeds.\n\n${table}\n`);
      console.log(table);
    });
}
