import { Command, Option } from 'commander';
import { Engine } from '../engine/index.js';
import { buildRunModel, runDatasets, writeRunFiles } from '../colar/run.js';
import { trainRl } from '../colar/rl.js';
import { train } from '../colar/trainer.js';
import { resolveConfig, type Stage } from '../colar/train_config.js';

export function trainCommand(): Command {
  return new Command('train')
    .description('training: CoT SFT, No-CoT SFT, CoLaR SFT (from a CoT run: model.init_from=RUN_DIR), or GRPO on the latent chain (--stage rl, from a CoLaR run)')
    .addOption(new Option('--stage <stage>', 'what to train').choices(['cot', 'nocot', 'colar', 'rl']).default('cot'))
    .option('--preset <name>', 'configuration preset: tiny | small | llama-3.2-1b', 'tiny')
    .option('--out <dir>', 'run directory (default: the preset\'s out_dir)')
    .option('--resume', 'continue from the run directory\'s latest checkpoint')
    .option('--lora <spec>', 'train LoRA adapters on a frozen base, e.g. r=128,alpha=32 (PEFT defaults for the rest)')
    .argument('[overrides...]', 'key=value config overrides (a bare key sets every key of that name)')
    .action(async (overrides: string[], opts: { stage: Stage; preset: string; out?: string; resume?: boolean; lora?: string }) => {
      const flagOverrides = [...(opts.out ? [`out_dir=${JSON.stringify(opts.out)}`] : []), ...(opts.lora ? loraOverrides(opts.lora) : [])];
      const cfg = resolveConfig(opts.preset, opts.stage, [...flagOverrides, ...overrides]);
      const engine = await Engine.create();
      try {
        console.log(`${opts.stage} training on ${engine.backend.deviceName}; run directory ${cfg.out_dir}`);
        if (cfg.stage === 'rl' && !cfg.model.init_from) throw new Error('--stage rl: set model.init_from=RUN_DIR to a CoLaR run');
        const run = await buildRunModel(engine, cfg, cfg.stage === 'colar' || cfg.stage === 'rl');
        const data = await runDatasets(cfg);
        await writeRunFiles(cfg.out_dir, cfg);
        if (cfg.stage === 'rl') {
          const rl = await trainRl(engine, cfg, run, data.train, { resume: opts.resume ?? false });
          console.log(`done: ${rl.steps} GRPO steps; checkpoints in ${cfg.out_dir}/checkpoints`);
          return;
        }
        const result = await train(engine, cfg, run, data, { resume: opts.resume ?? false });
        console.log(`done: ${result.steps} steps; best validation accuracy ${result.bestMetric === null ? 'n/a' : (100 * result.bestMetric).toFixed(1) + '%'}; checkpoints in ${result.runDir}/checkpoints`);
      } finally {
        await engine.close();
      }
    });
}

/** "r=128,alpha=32" → lora.enabled=true lora.r=128 lora.alpha=32. */
function loraOverrides(spec: string): string[] {
  const known = new Set(['r', 'alpha', 'dropout']);
  return ['lora.enabled=true', ...spec.split(',').map((kv) => {
    const [k, v] = kv.split('=').map((x) => x.trim());
    if (!known.has(k) || v === undefined || v === '') throw new Error(`--lora ${spec}: expected r=N,alpha=N (got "${kv}")`);
    return `lora.${k}=${v}`;
  })];
}
