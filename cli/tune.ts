import { Command } from 'commander';
import { cachePath, tuneMatmul, tuneVariants } from '../kernels/autotune.js';
import { Gpu } from '../kernels/gpu.js';
import { JSON_HELP, printJson, textLines } from './output.js';

export function tuneCommand(): Command {
  return new Command('tune')
    .description('time kernel variants on this adapter and cache the winners')
    .option('--json', JSON_HELP)
    .action(async (o: { json?: boolean }) => {
      const gpu = await Gpu.open();
      if (!gpu) throw new Error('tune: no WebGPU adapter found (run scripts/setup.sh)');
      const matmul = await tuneMatmul(gpu, textLines(o.json ?? false));
      const variants = await tuneVariants(gpu, textLines(o.json ?? false));
      if (o.json) printJson({ adapter: gpu.adapterName, cache: cachePath(), matmul, ...variants });
      await gpu.close();
    });
}
