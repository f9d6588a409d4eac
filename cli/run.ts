import { Command } from 'commander';
import { Engine } from '../engine/index.js';
import { runPlan } from '../colar/experiment.js';
import { builtinPlans, planFile, readPlan } from '../colar/plan.js';
import { writePlanReport } from '../colar/plan_report.js';
import { integerAtLeast, integerListAtLeast } from './flags.js';
import { JSON_HELP, printJson, textLines } from './output.js';

interface PlanFlags {
  out?: string;
  preset?: string;
  seeds?: number;
  questions?: number;
  compression?: number[];
  batch?: number;
  json?: boolean;
}

/** The flags that change a plan's settings (each defaults to the plan's value). */
export function withPlanFlags(command: Command): Command {
  return command
    .option('--out <dir>', 'results directory: runs/, eval/, results.json and the report (default: the plan\'s out)')
    .option('--preset <name>', 'configuration preset of every stage (default: the plan\'s)')
    .option('--seeds <n>', 'evaluation seeds (default: the plan\'s eval.seeds)', integerAtLeast(1))
    .option('-n, --questions <n>', 'test questions (default: the plan\'s eval.questions)', integerAtLeast(1))
    .option('--compression <list>', 'the factors the plan\'s {compressions} and `compression: all` rows stand for', integerListAtLeast(1))
    .option('--batch <n>', 'questions decoded together in evaluation (default: the plan\'s eval.batch)', integerAtLeast(1))
    .option('--json', `${JSON_HELP}: the plan's results (results.json) without the training curves`)
    .argument('[overrides...]', 'key=value overrides for every stage (a stage\'s own overrides in the plan win)');
}

/** Reads the plan with the flags applied, runs what is not done yet, writes its report. */
export async function runPlanFile(file: string, overrides: string[], o: PlanFlags, command: string): Promise<void> {
  const plan = readPlan(file, { out: o.out, preset: o.preset, seeds: o.seeds, questions: o.questions, compressions: o.compression, batch: o.batch, overrides });
  const engine = await Engine.create();
  try {
    const say = textLines(o.json ?? false);
    const results = await runPlan(engine, plan, { command, log: say });
    const report = await writePlanReport(plan.report, plan.out, results);
    say(`wrote ${report ?? `${plan.out}/results.json`} (${(results.seconds / 60).toFixed(1)} min)`);
    if (o.json) printJson({ report, ...results, curves: undefined });
  } finally {
    await engine.close();
  }
}

export function runCommand(): Command {
  return withPlanFlags(
    new Command('run')
      .description('run an experiment plan: its training stages, then its evaluation rows, then its report; resumable (finished stages and rows are skipped)')
      .argument('<plan>', `a plan file (YAML), or a built-in plan: ${builtinPlans().join(', ')}`),
  ).action(async (plan: string, overrides: string[], o: PlanFlags) => {
    await runPlanFile(planFile(plan), overrides, o, `colar-wgpu run ${process.argv.slice(3).join(' ')}`.trim());
  });
}
