import { Command, Option } from 'commander';
import { Engine } from '../engine/index.js';
import { exportRun, type ModelDType } from '../colar/export.js';
import { CLI_NAMES, resolveModelSource } from '../colar/model_source.js';

export function exportCommand(): Command {
  return new Command('export')
    .description('turn a run directory into a Hugging Face model directory, or for a LoRA run a PEFT adapter (--merge: a model with the adapters folded in); a CoLaR run adds its latent head')
    .requiredOption('--ckpt <dir>', 'a run directory written by colar-wgpu train (its best checkpoint, else its latest)')
    .requiredOption('--out <dir>', 'the directory to write (new or empty)')
    .option('--merge', 'LoRA run: write the base with the adapters folded in (W + alpha/r · B·A) instead of an adapter')
    .addOption(new Option('--dtype <dtype>', "the model's weight dtype (default: the base's, as PEFT's merge_and_unload keeps it; f32 holds a merge exactly)").choices(Object.keys(DTYPES)))
    .option('--overwrite', 'write into a non-empty --out, replacing an earlier export')
    .action(async (o: { ckpt: string; out: string; merge?: boolean; dtype?: keyof typeof DTYPES; overwrite?: boolean }) => {
      if ((await resolveModelSource(o.ckpt, null, { ...CLI_NAMES, model: '--ckpt' })).kind !== 'run') throw new Error(`--ckpt ${o.ckpt}: a model directory, not a run directory; there is nothing to export`);
      const engine = await Engine.create();
      try {
        const r = await exportRun(engine, o.ckpt, o.out, { merge: o.merge ?? false, overwrite: o.overwrite ?? false, dtype: o.dtype ? DTYPES[o.dtype] : undefined });
        const what = r.kind === 'model' ? 'a Hugging Face model directory' : `a PEFT adapter on the base ${r.base}`;
        console.log(`wrote ${what}${r.head ? ' and the latent head' : ''} to ${o.out}`);
      } finally {
        await engine.close();
      }
    });
}

const DTYPES: Record<string, ModelDType> = { f32: 'F32', bf16: 'BF16', f16: 'F16' };
