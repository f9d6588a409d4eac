import { Command } from 'commander';
import { tuneMatmul } from '../kernels/autotune.js';
import { Gpu } from '../kernels/gpu.js';

export function tuneCommand(): Command {
  return new Command('tune').description('time kernel variants on this adapter and cache the winners').action(async () => {
    const gpu = await Gpu.open();
    if (!gpu) throw new Error('tune: no WebGPU adapter found (run scripts/setup.sh)');
    await tuneMatmul(gpu, (line) => console.log(line));
    await gpu.close();
  });
}
