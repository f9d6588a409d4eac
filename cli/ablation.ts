import { Command } from 'commander';
import { readPlanResults } from '../colar/experiment.js';
import { writeAblationReport } from '../colar/report/ablation_table.js';

export function ablationCommand(): Command {
  return new Command('ablation')
    .description('the ablation table of a results directory written by `run ablation` (each lever a stage run per training seed): prints it and writes ABLATION.md')
    .argument('<dir>', 'the results directory (it holds results.json)')
    .action(async (dir: string) => {
      console.log(await writeAblationReport(dir, await readPlanResults(dir)));
    });
}
