// The WebGPU runtime: one device, a pipeline cache, a buffer pool, and a command stream that
// records dispatches and submits them in batches. The CPU waits only in read(). Any GPUDevice
// will do (a page's navigator.gpu device, or Dawn's in Node: see dawn.ts); kernels size
// themselves from its limits and features. Every pipeline is created inside an error scope;
// uncaptured errors are fatal.

import { MemoryTuningCache, type TuningCache } from './autotune.js';
import { BufferPool } from './buffer_pool.js';
import { KernelProfiler, type KernelTime } from './profiler.js';
import { checkKernelsEnv } from './variants.js';

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** the smallest subgroup the adapter runs (attention's workgroup size); absent without subgroups */
  subgroupMinSize?: number;
}

export interface GpuOptions {
  /** names the adapter and gives its subgroup size; default: device.adapterInfo */
  adapterInfo?: AdapterInfo;
  /** close() destroys the device (true when the runtime opened it itself) */
  ownsDevice?: boolean;
  /** kept alive as long as the runtime (dawn.node crashes if its instance is collected while work is in flight) */
  keepAlive?: unknown;
}

/** The features the kernels use when the adapter has them. */
export const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

/**
 * A device with the adapter's features the kernels use and its largest limits on the buffer and
 * workgroup sizes they depend on (a device otherwise gets WebGPU's small defaults).
 */
export function requestComputeDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const a = adapter.limits;
  return adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxBufferSize: a.maxBufferSize,
      maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: a.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: a.maxComputeWorkgroupSizeY,
      maxStorageBuffersPerShaderStage: a.maxStorageBuffersPerShaderStage,
    },
  });
}

/** A binding: a whole buffer, a byte range of one, or a storage texture. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset: number; size: number } | GPUTexture;

/** Workgroups per dispatch dimension that every adapter accepts. */
const MAX_GROUPS_PER_DIM = 65535;
const PARAM_SLOT_BYTES = 256;
const MAX_DISPATCHES_PER_BATCH = 512;
const READBACK_SLICE_BYTES = 1 << 26; // 64 MiB

/**
 * WGSL every kernel can include: the linear workgroup index of a 2-D dispatch grid
 * (grids wider than 65535 groups wrap into y).
 */
export const WGSL_GROUP_INDEX = /* wgsl */ `
fn group_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.x + wid.y * nwg.x; }`;

/** The bit pattern of a float32, for packing float parameters beside u32 ones. */
export function f32bits(x: number): number {
  F32_SCRATCH[0] = x;
  return U32_SCRATCH[0];
}
const F32_SCRATCH = new Float32Array(1);
const U32_SCRATCH = new Uint32Array(F32_SCRATCH.buffer);

export class Gpu {
  readonly pool: BufferPool;
  readonly limits: GPUSupportedLimits;
  readonly features: ReadonlySet<string>;
  readonly info: AdapterInfo;
  /** where matmul's autotuned variants are kept: in memory unless the Node edge gives a file (dawn.ts) */
  tuning: TuningCache = new MemoryTuningCache();
  /** Dispatches recorded since start (for tests and benchmarks). */
  dispatchCount = 0;

  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly params = new Uint32Array((MAX_DISPATCHES_PER_BATCH * PARAM_SLOT_BYTES) / 4);
  private readonly paramBuffer: GPUBuffer;
  private paramSlots = 0;
  private readonly readback: GPUBuffer[] = [];
  private fatal: Error | null = null;
  private closed = false;
  private profiler: KernelProfiler | null = null;
  private readonly ownsDevice: boolean;
  private readonly keepAlive: unknown;

  constructor(
    readonly device: GPUDevice,
    opts: GpuOptions = {},
  ) {
    checkKernelsEnv();
    this.info = opts.adapterInfo ?? adapterInfoOf(device.adapterInfo);
    this.ownsDevice = opts.ownsDevice ?? false;
    this.keepAlive = opts.keepAlive;
    this.limits = device.limits;
    this.features = new Set(device.features as unknown as Iterable<string>);
    this.pool = new BufferPool(device, device.limits.maxBufferSize);
    this.paramBuffer = device.createBuffer({
      size: this.params.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    device.addEventListener('uncapturederror', (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.fatal ??= new Error(`WebGPU error: ${error.message}`);
      console.error(this.fatal.message);
    });
    void device.lost.then((lost) => {
      if (!this.closed) this.fatal ??= new Error(`WebGPU device lost: ${lost.message}`);
    });
  }

  /** One line naming the adapter, for logs and benchmark records. */
  get adapterName(): string {
    const { vendor, architecture, description } = this.info;
    return `${vendor} ${architecture} ${description}`.replace(/\s+/g, ' ').trim();
  }

  /** A CPU implementation (lavapipe/llvmpipe, SwiftShader): kernels need other shapes there. */
  get isSoftware(): boolean {
    return /llvmpipe|lavapipe|swiftshader|software/i.test(this.adapterName);
  }

  /**
   * The pipeline for a kernel specialization, compiled once per key. Compilation errors
   * surface at the next flush or read (and through the uncaptured-error listener).
   */
  pipeline(key: string, source: () => string): GPUComputePipeline {
    let p = this.pipelines.get(key);
    if (p) return p;
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ label: key, code: source() });
    p = this.device.createComputePipeline({ label: key, layout: 'auto', compute: { module, entryPoint: 'main' } });
    void this.device.popErrorScope().then((error) => {
      // the compiler's message explains the uncaptured errors that using the pipeline raised first
      if (error) this.fatal = new Error(`kernel ${key} failed to compile: ${error.message}`);
    });
    this.pipelines.set(key, p);
    return p;
  }

  /**
   * Records one dispatch. Binding 0 is the uniform `params` (when given), storage buffers
   * follow from binding 1 in order. `groups` is a count (split into a 2-D grid when above
   * 65535; kernels use group_index()) or an explicit [x, y, z].
   */
  dispatch(
    pipeline: GPUComputePipeline,
    buffers: Binding[],
    params: Uint32Array | number[] | null,
    groups: number | [number, number, number],
  ): void {
    this.check();
    if (this.paramSlots >= MAX_DISPATCHES_PER_BATCH || this.profiler?.full) this.flush();
    const entries: GPUBindGroupEntry[] = [];
    if (params) {
      if (params.length * 4 > PARAM_SLOT_BYTES) throw new Error(`kernel params exceed ${PARAM_SLOT_BYTES} bytes`);
      const slot = this.paramSlots++;
      this.params.set(params, (slot * PARAM_SLOT_BYTES) / 4);
      entries.push({ binding: 0, resource: { buffer: this.paramBuffer, offset: slot * PARAM_SLOT_BYTES, size: PARAM_SLOT_BYTES } });
    }
    buffers.forEach((b, i) => {
      const resource = 'createView' in b ? b.createView() : 'buffer' in b ? b : { buffer: b };
      entries.push({ binding: i + 1, resource });
    });
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const [x, y, z] = typeof groups === 'number' ? grid2d(groups) : groups;
    if (x === 0 || y === 0 || z === 0) return;
    if (this.profiler) {
      this.endPass();
      this.pass = this.commandEncoder().beginComputePass({ timestampWrites: this.profiler.timestampWrites(pipeline.label) });
    }
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (this.profiler) this.endPass();
    this.dispatchCount++;
  }

  /** Times every dispatch from now on (each in its own pass) until stopProfiling(). */
  startProfiling(): void {
    this.flush();
    this.profiler ??= new KernelProfiler(this.device);
  }

  /** Finishes recorded work and returns the time of every dispatch since startProfiling(). */
  async stopProfiling(): Promise<KernelTime[]> {
    const profiler = this.profiler;
    if (!profiler) throw new Error('stopProfiling() without startProfiling()');
    await this.sync();
    this.profiler = null;
    const times = await profiler.collect();
    profiler.destroy();
    return times;
  }

  /** Records a buffer-to-buffer copy in stream order. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.check();
    if (bytes === 0) return;
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Writes host data into a buffer, after all work recorded so far. */
  write(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.check();
    // queue.writeBuffer runs before unsubmitted commands, which may still read this buffer's old contents
    if (this.encoder) this.flush();
    this.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.check();
    if (!this.encoder) return;
    this.endPass();
    if (this.paramSlots > 0) {
      this.device.queue.writeBuffer(this.paramBuffer, 0, this.params.buffer, 0, this.paramSlots * PARAM_SLOT_BYTES);
    }
    this.profiler?.resolve(this.encoder);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.paramSlots = 0;
  }

  /**
   * Reads bytes back to the host: the only place the CPU waits for the GPU. A large buffer comes
   * back a slice at a time, so its staging copy (host memory, on a CPU adapter) stays small.
   */
  async read(buffer: GPUBuffer, byteOffset: number, byteLength: number): Promise<ArrayBuffer> {
    const out = new Uint8Array(byteLength);
    for (let done = 0; done < byteLength; done += READBACK_SLICE_BYTES) {
      const n = Math.min(READBACK_SLICE_BYTES, byteLength - done);
      const size = Math.ceil(n / 4) * 4;
      const staging = this.takeReadback(size);
      this.copy(buffer, byteOffset + done, staging, 0, size);
      this.flush();
      await staging.mapAsync(GPUMapMode.READ, 0, size);
      out.set(new Uint8Array(staging.getMappedRange(0, size), 0, n), done);
      staging.unmap();
      this.readback.push(staging);
      this.check();
    }
    return out.buffer;
  }

  /** Waits until the GPU has finished all submitted work (benchmarks use this). */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  /** Finishes submitted work and frees the pool (and the device, when owned); safe after a fatal error. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.fatal) this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.closed = true;
    this.pool.trim();
    this.paramBuffer.destroy();
    for (const b of this.readback.splice(0)) b.destroy();
    if (this.ownsDevice) this.device.destroy();
  }

  private check(): void {
    if (this.closed) throw new Error('the WebGPU runtime is closed');
    if (this.fatal) throw this.fatal;
  }

  private commandEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private computePass(): GPUComputePassEncoder {
    return (this.pass ??= this.commandEncoder().beginComputePass());
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  private takeReadback(size: number): GPUBuffer {
    const i = this.readback.findIndex((b) => b.size >= size);
    if (i >= 0) return this.readback.splice(i, 1)[0];
    return this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }
}

/** The fields of a GPUAdapterInfo the runtime uses (a plain copy: dawn.node's object is a live host object). */
export function adapterInfoOf(i: GPUAdapterInfo | undefined): AdapterInfo {
  return { vendor: i?.vendor ?? '', architecture: i?.architecture ?? '', device: i?.device ?? '', description: i?.description ?? '', subgroupMinSize: i?.subgroupMinSize };
}

function grid2d(groups: number): [number, number, number] {
  if (groups <= MAX_GROUPS_PER_DIM) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_GROUPS_PER_DIM);
  return [Math.ceil(groups / y), y, 1];
}
