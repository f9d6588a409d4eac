import { Command, Option } from 'commander';
import { Engine } from '../engine/index.js';
import { buildRunModel, runDatasets, writeRunFiles } from '../colar/run.js';
import { train } from '../colar/trainer.js';
import { resolveConfig, type Stage } from '../colar/train_config.js';

export function trainCommand(): Command {
  return new Command('train')
    .description('supervised training: CoT SFT, No-CoT SFT, or CoLaR SFT (start CoLaR from a CoT run with model.init_from=RUN_DIR)')
    .addOption(new Option('--stage <stage>', 'what to train').choices(['cot', 'colar', 'nocot']).default('cot'))
    .option('--preset <name>', 'configuration preset: tiny | llama-3.2-1b', 'tiny')
    .option('--out <dir>', 'run directory (default: the preset\'s out_dir)')
    .option('--resume', 'continue from the run directory\'s latest checkpoint')
    .argument('[overrides...]', 'key=value config overrides (a bare key sets every key of that name)')
    .action(async (overrides: string[], opts: { stage: Stage; preset: string; out?: string; resume?: boolean }) => {
      const cfg = resolveConfig(opts.preset, opts.stage, [...overrides, ...(opts.out ? [`out_dir=${JSON.stringify(opts.out)}`] : [])]);
      const engine = await Engine.create();
      try {
        console.log(`${opts.stage} training on ${engine.backend.deviceName}; run directory ${cfg.out_dir}`);
        const run = await buildRunModel(engine, cfg, cfg.stage === 'colar');
        const data = await runDatasets(cfg);
        await writeRunFiles(cfg.out_dir, cfg, run);
        const result = await train(engine, cfg, run, data, { resume: opts.resume ?? false });
        console.log(`done: ${result.steps} steps; best validation accuracy ${result.bestMetric === null ? 'n/a' : (100 * result.bestMetric).toFixed(1) + '%'}; checkpoints in ${result.runDir}/checkpoints`);
      } finally {
        await engine.close();
      }
    });
}
