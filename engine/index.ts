// The engine's public API.
export { Engine, type EngineOptions } from './engine.js';
export { Tensor, shapeSize, formatShape, type Shape } from './tensor.js';
export type { Backend, BackendName, DType, HostData } from './backend.js';
export { backward, noGrad, isGradEnabled } from './autograd.js';
export { scope, keep } from './scope.js';
export { Rng, type RngState } from './random.js';
export { AdamW, clipGradNorm, type AdamWOptions } from './optim.js';
export * from './ops/elementwise.js';
export * from './ops/reduce.js';
export * from './ops/shape.js';
export * from './ops/matmul.js';
export * from './ops/nn.js';
export * from './ops/linear_cross_entropy.js';
export { requestComputeDevice, type AdapterInfo } from '../kernels/gpu.js';
export { MemoryTuningCache, type TuningCache } from '../kernels/autotune.js';
export { DeviceLimitError, checkModelFits, formatBytes, type TensorPlan } from './device_limits.js';
