// The entry point: pick a backend, make tensors. One Engine per process is the usual case;
// it owns the WebGPU runtime and closes it. It runs on any GPUDevice it is given (a page's);
// without one, in Node, it opens Dawn (kernels/dawn.ts), which nothing else here imports.

import type { TuningCache } from '../kernels/autotune.js';
import { adapterInfoOf, Gpu } from '../kernels/gpu.js';
import type { Backend, BackendName, DType } from './backend.js';
import { CpuBackend } from './backend_cpu.js';
import { WebGpuBackend } from './backend_webgpu.js';
import { noGrad } from './autograd.js';
import { envVar, isNode } from './env.js';
import { keep, scope } from './scope.js';
import { Tensor, formatShape, shapeSize, type Shape } from './tensor.js';

export interface EngineOptions {
  /** 'webgpu' or 'cpu'; default: env COLAR_BACKEND, else webgpu with a CPU fallback */
  backend?: BackendName;
  /**
   * The WebGPU device to run on, e.g. from navigator.gpu (request it with requestComputeDevice
   * for the adapter's full limits). The engine leaves it open on close(). Without one, Node
   * opens Dawn's first adapter.
   */
  device?: GPUDevice;
  /** names the adapter in logs and gives the subgroup size (default: device.adapterInfo) */
  adapterInfo?: GPUAdapterInfo;
  /** where autotuned kernel variants are kept (default: memory with `device`, the cache file with Dawn) */
  tuning?: TuningCache;
  /** where the one-line fallback warning goes (default: stderr) */
  warn?: (line: string) => void;
}

// A specifier the bundler cannot follow: a browser bundle must not contain Dawn or node:fs.
const DAWN_MODULE = '../kernels/dawn.js';

type Nested = number | Nested[];

export class Engine {
  private constructor(
    readonly backend: Backend,
    readonly gpu: Gpu | null,
  ) {}

  static async create(opts: EngineOptions = {}): Promise<Engine> {
    const requested = opts.backend ?? parseBackend(envVar('COLAR_BACKEND'));
    if (requested === 'cpu') return new Engine(new CpuBackend(), null);
    if (opts.device) {
      const gpu = new Gpu(opts.device, { adapterInfo: opts.adapterInfo && adapterInfoOf(opts.adapterInfo) });
      if (opts.tuning) gpu.tuning = opts.tuning;
      return new Engine(new WebGpuBackend(gpu), gpu);
    }
    if (!isNode) throw new Error('Engine.create: give a WebGPU device (from navigator.gpu) or backend "cpu"; only Node opens a device itself');
    const { openDawn } = (await import(DAWN_MODULE)) as typeof import('../kernels/dawn.js');
    const gpu = await openDawn();
    if (gpu && opts.tuning) gpu.tuning = opts.tuning;
    if (gpu) return new Engine(new WebGpuBackend(gpu), gpu);
    if (requested === 'webgpu' && opts.backend) throw new Error('backend webgpu: no WebGPU adapter found (run scripts/setup.sh)');
    (opts.warn ?? ((l) => console.warn(l)))('warning: no WebGPU adapter found; running on the CPU backend (run scripts/setup.sh to install Mesa lavapipe)');
    return new Engine(new CpuBackend(), null);
  }

  /** An engine on an already-open WebGPU runtime (the engine does not own it). */
  static onGpu(gpu: Gpu): Engine {
    return new Engine(new WebGpuBackend(gpu), null);
  }

  /** A tensor from nested arrays or flat data with an explicit shape. */
  tensor(data: Nested | ArrayLike<number>, shape?: Shape, dtype: DType = 'f32'): Tensor {
    // flat data goes to the backend as it is: a copy into a JS array fails past ~10^8 elements
    const flat = isFlat(data) ? (data as ArrayLike<number>) : flatten(data as Nested);
    const s = shape ?? inferShape(data as Nested);
    if (shapeSize(s) !== flat.length) throw new Error(`tensor: ${flat.length} values do not fill shape ${formatShape(s)}`);
    return new Tensor(this.backend, this.backend.fromData(flat, dtype), s, dtype);
  }

  zeros(shape: Shape, dtype: DType = 'f32'): Tensor {
    return this.full(shape, 0, dtype);
  }

  ones(shape: Shape, dtype: DType = 'f32'): Tensor {
    return this.full(shape, 1, dtype);
  }

  full(shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
    return new Tensor(this.backend, this.backend.filled(shapeSize(shape), dtype, value), shape, dtype);
  }

  /** A trainable leaf: kept out of scopes, gradients accumulate in .grad. */
  parameter(init: Tensor): Tensor {
    init.requiresGrad = true;
    return keep(init);
  }

  scope<T>(fn: () => T): T {
    return scope(fn);
  }

  noGrad<T>(fn: () => T): T {
    return noGrad(fn);
  }

  /** Waits for all recorded work. */
  sync(): Promise<void> {
    return this.backend.sync();
  }

  async close(): Promise<void> {
    await this.gpu?.close();
  }
}

function parseBackend(value: string | undefined): BackendName | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'cpu' || value === 'webgpu') return value;
  throw new Error(`COLAR_BACKEND=${value}: expected webgpu or cpu`);
}

function isFlat(data: unknown): boolean {
  return ArrayBuffer.isView(data) || (Array.isArray(data) && data.every((x) => typeof x === 'number'));
}

function flatten(data: Nested): number[] {
  return Array.isArray(data) ? data.flatMap(flatten) : [data];
}

function inferShape(data: Nested): number[] {
  const shape: number[] = [];
  let d: Nested = data;
  while (Array.isArray(d)) {
    shape.push(d.length);
    d = d[0];
  }
  return shape;
}
