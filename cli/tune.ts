import { Command } from 'commander';
import { tuneMatmul } from '../kernels/autotune.js';
import { cachePath } from '../kernels/autotune_file.js';
import { openDawn } from '../kernels/dawn.js';
import { JSON_HELP, printJson, textLines } from './output.js';

export function tuneCommand(): Command {
  return new Command('tune')
    .description('time kernel variants on this adapter and cache the winners')
    .option('--json', JSON_HELP)
    .action(async (o: { json?: boolean }) => {
      const gpu = await openDawn();
      if (!gpu) throw new Error('tune: no WebGPU adapter found (run scripts/setup.sh)');
      const matmul = await tuneMatmul(gpu, textLines(o.json ?? false));
      if (o.json) printJson({ adapter: gpu.adapterName, cache: cachePath(), matmul });
      await gpu.close();
    });
}
