import { Command } from 'commander';
import { planFile } from '../colar/plan.js';
import { runPlanFile, withPlanFlags } from './run.js';

export function reproCommand(): Command {
  return withPlanFlags(
    new Command('repro')
      .description('the whole pipeline on the built-in task (`run repro`, plans/repro.yaml), as a demonstration sized for a 2-core CPU: CoT, No-CoT, one CoLaR model, GRPO (averaged and not), evaluation over seeds, results/REPRO.md with plots; resumable'),
  ).action(async (overrides: string[], o: Parameters<typeof runPlanFile>[2]) => {
    await runPlanFile(planFile('repro'), overrides, o, `colar-wgpu repro ${process.argv.slice(3).join(' ')}`.trim());
  });
}
