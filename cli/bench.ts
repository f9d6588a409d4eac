import { Command } from 'commander';
import { benchAttention } from '../bench/attention.js';
import { benchCopyBandwidth } from '../bench/ceiling.js';
import { benchEndToEnd, benchStepProfile } from '../bench/e2e.js';
import { benchGeneration } from '../bench/generation.js';
import { formatTable } from '../bench/format.js';
import { benchLora, benchMatmul } from '../bench/matmul.js';
import { benchMemoryOps } from '../bench/ops.js';
import type { BenchRecord } from '../bench/record.js';
import { Engine } from '../engine/index.js';
import { openDawn } from '../kernels/dawn.js';
import { printJson } from './output.js';

export function benchCommand(): Command {
  return new Command('bench')
    .description('kernel microbenchmarks: matmul, attention, norms, cross-entropy, AdamW, against the copy-bandwidth ceiling')
    .option('--json', 'print the records as one JSON array instead of a table')
    .option('--only <names>', 'comma-separated subset: copy,matmul,lora,attention,memory,e2e,generation,profile (profile: not in the default set)')
    .option('--preset <name>', 'profile: the model preset whose CoLaR training step is profiled', 'tiny')
    .option('--model <dir>', 'generation: time this model directory instead of the tiny preset')
    .action(async (opts: { json?: boolean; only?: string; model?: string; preset: string }) => {
      const gpu = await openDawn();
      if (!gpu) throw new Error('bench: no WebGPU adapter found (run scripts/setup.sh)');
      const only = opts.only ? new Set(opts.only.split(',')) : null;
      const wanted = (name: string) => (only ? only.has(name) : name !== 'profile');
      const progress = (msg: string) => process.stderr.write(`${msg}\n`);
      progress(`adapter: ${gpu.adapterName}`);
      const copy = await benchCopyBandwidth(gpu);
      const records: BenchRecord[] = wanted('copy') ? [copy] : [];
      if (wanted('matmul')) {
        progress('matmul ...');
        const mm = await benchMatmul(gpu);
        const best = Math.max(...mm.map((r) => r.gflops ?? 0));
        records.push(...mm.map((r) => ({ ...r, pct_of_ceiling: (100 * (r.gflops ?? 0)) / best })));
      }
      if (wanted('lora')) {
        progress('lora ...');
        records.push(...(await benchLora(gpu)));
      }
      if (wanted('attention')) {
        progress('attention ...');
        records.push(...(await benchAttention(gpu)));
      }
      if (wanted('memory')) {
        progress('memory-bound kernels ...');
        records.push(...(await benchMemoryOps(gpu, copy.gbps!)));
      }
      if (wanted('e2e')) {
        progress('end to end (tiny preset) ...');
        records.push(...(await benchEndToEnd(Engine.onGpu(gpu))));
      }
      if (wanted('generation')) {
        progress(`generation (${opts.model ?? 'tiny preset'}) ...`);
        records.push(...(await benchGeneration(Engine.onGpu(gpu), opts.model, opts.model ? { batch: 1, promptTokens: 16, newTokens: 4 } : undefined)));
      }
      if (wanted('profile')) {
        progress(`profile of one training step (${opts.preset} preset) ...`);
        records.push(...(await benchStepProfile(Engine.onGpu(gpu), gpu, opts.preset)));
      }
      if (opts.json) printJson(records);
      else console.log(formatTable(records));
      await gpu.close();
    });
}
