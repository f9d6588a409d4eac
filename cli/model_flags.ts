// The model a command reads: --model DIR (a Hugging Face model directory or a run directory),
// with --adapter DIR for a PEFT adapter on a model directory. See colar/model_source.ts.
import { Command, Option } from 'commander';
import { CLI_NAMES, resolveModelSource, type ModelSource } from '../colar/model_source.js';

export interface ModelFlags {
  model?: string;
  /** the older name of --model, for a run directory */
  ckpt?: string;
  adapter?: string;
}

export function addModelFlags(command: Command): Command {
  return command
    .option('--model <dir>', 'the model: a Hugging Face model directory (e.g. one written by export) or a run directory written by train')
    .option('--adapter <dir>', 'a PEFT adapter directory (written by export of a LoRA run) applied to --model')
    .addOption(new Option('--ckpt <dir>', 'a run directory (same as --model)').conflicts('model'));
}

export async function modelSource(o: ModelFlags, verb: string): Promise<ModelSource> {
  const dir = o.model ?? o.ckpt;
  if (!dir) throw new Error(`${verb}: give --model DIR (a Hugging Face model directory or a run directory)`);
  return resolveModelSource(dir, o.adapter ?? null, o.ckpt ? { ...CLI_NAMES, model: '--ckpt' } : CLI_NAMES);
}
