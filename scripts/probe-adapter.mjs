// Exits 0 and prints the adapter when Dawn finds a WebGPU adapter; exits 1 otherwise.
// Plain JS so that setup can run it before anything is built.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.log('no WebGPU adapter');
  process.exit(1);
}
const info = adapter.info;
console.log(`WebGPU adapter: ${info.vendor} ${info.architecture} ${info.device} ${info.description}`.replace(/\s+/g, ' ').trim());
process.exit(0);
