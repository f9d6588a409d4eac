import { Command } from 'commander';
import { Gpu } from '../kernels/gpu.js';

export function infoCommand(): Command {
  return new Command('info').description('print the WebGPU adapter, its features and limits').action(async () => {
    const gpu = await Gpu.open();
    if (!gpu) {
      console.log('no WebGPU adapter found: the CPU backend will be used (run scripts/setup.sh to install Mesa lavapipe)');
      return;
    }
    const l = gpu.limits;
    console.log(`adapter: ${gpu.adapterName}`);
    console.log(`features: ${[...gpu.features].sort().join(', ') || '(none)'}`);
    console.log(`maxBufferSize: ${l.maxBufferSize}  maxStorageBufferBindingSize: ${l.maxStorageBufferBindingSize}`);
    console.log(`maxComputeWorkgroupStorageSize: ${l.maxComputeWorkgroupStorageSize}  maxComputeInvocationsPerWorkgroup: ${l.maxComputeInvocationsPerWorkgroup}`);
    await gpu.close();
  });
}
