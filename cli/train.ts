import { Command, Option } from 'commander';
import { Engine } from '../engine/index.js';
import { STAGES } from '../colar/config_schema.js';
import { runStage } from '../colar/stage.js';
import { configToYaml, presetNames, resolveConfig, type Stage } from '../colar/train_config.js';

export function trainCommand(): Command {
  return new Command('train')
    .description('training: CoT SFT, No-CoT SFT, CoLaR SFT (from a CoT run: model.init_from=RUN_DIR), or GRPO on the latent chain (--stage rl, from a CoLaR run)')
    .addOption(new Option('--stage <stage>', 'what to train').choices(STAGES).default('cot'))
    .addOption(new Option('--preset <name>', 'configuration preset (configs/<name>.yaml)').choices(presetNames()).default('tiny'))
    .option('--config <file>', 'a YAML config file merged over the preset (key: value, nested; `extends:` a preset)')
    .option('--print-config', 'print the resolved configuration as YAML and exit')
    .option('--out <dir>', 'run directory (default: the config\'s out_dir, else runs/<preset>-<stage>)')
    .addOption(new Option('--resume', 'continue the run directory\'s latest checkpoint').conflicts('overwrite'))
    .option('--overwrite', 'remove the run already in the run directory and start again')
    .option('--lora <spec>', 'train LoRA adapters on a frozen base, e.g. r=128,alpha=32 (PEFT defaults for the rest)')
    .argument('[overrides...]', 'key=value config overrides, applied last (a bare key must name exactly one key)')
    .action(async (overrides: string[], opts: { stage: Stage; preset: string; config?: string; printConfig?: boolean; out?: string; resume?: boolean; overwrite?: boolean; lora?: string }) => {
      if (opts.out && overrides.some((o) => /^out_dir=/.test(o))) throw new Error(`--out ${opts.out} and out_dir=…: set the run directory once`);
      if (opts.lora && overrides.some((o) => /^lora\./.test(o))) throw new Error(`--lora ${opts.lora} and lora.… overrides: set the adapters one way`);
      const flagOverrides = [...(opts.out ? [`out_dir=${JSON.stringify(opts.out)}`] : []), ...(opts.lora ? loraOverrides(opts.lora) : [])];
      const cfg = resolveConfig(opts.preset, opts.stage, [...flagOverrides, ...overrides], { configFile: opts.config });
      if (opts.printConfig) {
        process.stdout.write(configToYaml(cfg));
        return;
      }
      const engine = await Engine.create();
      try {
        console.log(`${opts.stage} training on ${engine.backend.deviceName}; run directory ${cfg.out_dir}`);
        const mode = opts.resume ? 'resume' : opts.overwrite ? 'overwrite' : 'fresh';
        const result = await runStage(engine, cfg, mode, (line) => console.log(line));
        const best = result.bestMetric === null ? '' : `; best validation accuracy ${(100 * result.bestMetric).toFixed(1)}%`;
        console.log(`done: ${result.steps} ${cfg.stage === 'rl' ? 'GRPO ' : ''}steps${best}; checkpoints in ${result.runDir}/checkpoints`);
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
