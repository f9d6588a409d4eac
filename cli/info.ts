import { Command } from 'commander';
import { openDawn } from '../kernels/dawn.js';
import { JSON_HELP, printJson } from './output.js';

const LIMITS = ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup'] as const;

export function infoCommand(): Command {
  return new Command('info')
    .description('print the WebGPU adapter, its features and limits')
    .option('--json', JSON_HELP)
    .action(async (o: { json?: boolean }) => {
      const gpu = await openDawn();
      if (!gpu) {
        if (o.json) printJson({ adapter: null });
        else console.log('no WebGPU adapter found: the CPU backend will be used (run scripts/setup.sh to install Mesa lavapipe)');
        return;
      }
      const info = { adapter: gpu.adapterName, features: [...gpu.features].sort(), limits: Object.fromEntries(LIMITS.map((name) => [name, gpu.limits[name]])) };
      await gpu.close();
      if (o.json) return printJson(info);
      console.log(`adapter: ${info.adapter}`);
      console.log(`features: ${info.features.join(', ') || '(none)'}`);
      console.log(LIMITS.map((name) => `${name}: ${info.limits[name]}`).join('\n'));
    });
}
