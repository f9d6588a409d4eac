#!/usr/bin/env node
// colar-wgpu: one verb per file under cli/; this file only wires them.
import { Command } from 'commander';
import { ablationCommand } from './ablation.js';
import { benchCommand } from './bench.js';
import { isFilteredChild, runFilteringDawnWarnings } from './dawn_warnings.js';
import { dataCommand } from './data.js';
import { evalCommand } from './eval.js';
import { exportCommand } from './export.js';
import { generateCommand } from './generate.js';
import { infoCommand } from './info.js';
import { initCommand } from './init.js';
import { reproCommand } from './repro.js';
import { runCommand } from './run.js';
import { scoreCommand } from './score.js';
import { serveCommand } from './serve.js';
import { trainCommand } from './train.js';
import { tuneCommand } from './tune.js';

const program = new Command()
  .name('colar-wgpu')
  .description('Compressed Latent Reasoning (CoLaR) on a from-scratch Llama-3.2, with WGSL kernels run through Dawn')
  .version('0.1.0')
  .addCommand(trainCommand())
  .addCommand(evalCommand())
  .addCommand(exportCommand())
  .addCommand(runCommand())
  .addCommand(reproCommand())
  .addCommand(initCommand())
  .addCommand(generateCommand())
  .addCommand(serveCommand())
  .addCommand(scoreCommand())
  .addCommand(infoCommand())
  .addCommand(benchCommand())
  .addCommand(tuneCommand())
  .addCommand(dataCommand())
  .addCommand(ablationCommand());

if (isFilteredChild()) {
  program.parseAsync().catch((err: unknown) => {
    console.error(`colar-wgpu: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
} else {
  runFilteringDawnWarnings();
}
