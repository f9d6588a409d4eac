import { Command } from 'commander';
import { benchAttention } from '../bench/attention.js';
import { benchCopyBandwidth } from '../bench/ceiling.js';
import { benchEndToEnd, benchStepProfile } from '../bench/e2e.js';
import { benchGeneration } from '../bench/generation.js';
import { formatTable } from '../bench/format.js';
import { benchLora, benchMatmul } from '../bench/matmul.js';
import { benchMemoryOps } from '../bench/ops.js';
import type { BenchRecord } from '../bench/record.js';
import { benchVariants } from '../bench/variants.js';
import { Engine } from '../engine/index.js';
import { openDawn } from '../kernels/dawn.js';
import { printJson } from './output.js';

export function benchCommand(): Command {
  return new Command('bench')
    .description('kernel microbenchmarks: matmul, attention, norms, cross-entropy, AdamW, against the copy-bandwidth ceiling')
    .option('--json', 'print the records as one JSON array instead of a table')
    .option('--only <names>', 'comma-separated subset: copy,matmul,lora,attention,memory,e2e,generation,variants,profile (variants, profile: not in the default set)')
    .option('--preset <name>', 'profile: the model preset whose CoT and CoLaR training steps are profiled', 'tiny')
    .option('--model <dir>', 'generation: time this model directory instead of the tiny preset; profile: profile LoRA on it as the llama-3.2-1b preset sets it (batch 4 of ~128 tokens)')
    .action(async (opts: { json?: boolean; only?: string; model?: string; preset: string }) => {
      const gpu = await openDawn();
      if (!gpu) throw new Error('bench: no WebGPU adapter found (run scripts/setup.sh)');
      const only = opts.only ? new Set(opts.only.split(',')) : null;
      const wanted = (name: string) => (only ? only.has(name) : name !== 'variants' && name !== 'profile');
      const progress = (msg: string) => process.stderr.write(`${msg}\n`);
      progress(`adapter: ${gpu.adapterName}`);
      const copy = await benchCopyBandwidth(gpu);
      const records: BenchRecord[] = wanted('copy') ? [copy] : [];
      // the profile rates a training step against the best matmul of the same run
      let bestMatmul: number | undefined;
      if (wanted('matmul') || wanted('profile')) {
        progress('matmul ...');
        const mm = await benchMatmul(gpu);
        bestMatmul = Math.max(...mm.map((r) => r.gflops ?? 0));
        const rated = mm.map((r) => ({ ...r, pct_of_ceiling: (100 * (r.gflops ?? 0)) / bestMatmul! }));
        records.push(...(wanted('matmul') ? rated : rated.filter((r) => r.gflops === bestMatmul)));
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
      if (wanted('variants')) {
        progress('kernel variants (cross-entropy, attention) ...');
        records.push(...(await benchVariants(gpu)));
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
        progress(`profile of a CoT and a CoLaR training step (${opts.model ?? `${opts.preset} preset`}) ...`);
        records.push(...(await benchStepProfile(Engine.onGpu(gpu), gpu, { preset: opts.preset, modelDir: opts.model }, bestMatmul)));
      }
      if (opts.json) printJson(records);
      else console.log(formatTable(records));
      await gpu.close();
    });
}
