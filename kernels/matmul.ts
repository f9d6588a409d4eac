// Batched matrix multiply, C[b] = alpha · op(A[b]) · op(B[b]) (+ C[b]).
// (Lead's simple first version so the engine can run; the tuned kernels replace it.)
// Each invocation computes a 4×4 block of C with a straight K loop.

import { WGSL_GROUP_INDEX, f32bits, type Gpu } from './gpu.js';

export interface MatmulShape {
  batch: number; M: number; N: number; K: number;
  transA: boolean;
  transB: boolean;
  aBatchStride: number; bBatchStride: number;
  alpha?: number;
  accumulate?: boolean;
}

export function matmulCpu(a: Float64Array, b: Float64Array, c: Float64Array, s: MatmulShape): void {
  const { batch, M, N, K, transA, transB, aBatchStride, bBatchStride } = s;
  const alpha = s.alpha ?? 1;
  for (let bt = 0; bt < batch; bt++) {
    const ao = bt * aBatchStride;
    const bo = bt * bBatchStride;
    const co = bt * M * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += a[ao + (transA ? k * M + i : i * K + k)] * b[bo + (transB ? j * K + k : k * N + j)];
        c[co + i * N + j] = alpha * acc + (s.accumulate ? c[co + i * N + j] : 0);
      }
    }
  }
}

const WG = 64;

function source(transA: boolean, transB: boolean, accumulate: boolean): string {
  const aIdx = transA ? '(k * p.M + r)' : '(r * p.K + k)';
  const bIdx = transB ? '(cc * p.K + k)' : '(k * p.N + cc)';
  return /* wgsl */ `
struct Params { batch: u32, M: u32, N: u32, K: u32, aStride: u32, bStride: u32, alpha: f32, tilesM: u32, tilesN: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
${WGSL_GROUP_INDEX}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = group_index(wid, nwg) * ${WG}u + lid;
  let perBatch = p.tilesM * p.tilesN;
  if (t >= perBatch * p.batch) { return; }
  let bt = t / perBatch;
  let tile = t % perBatch;
  let row0 = (tile / p.tilesN) * 4u;
  let col0 = (tile % p.tilesN) * 4u;
  let ao = bt * p.aStride;
  let bo = bt * p.bStride;
  var acc: array<array<f32, 4>, 4>;
  for (var k = 0u; k < p.K; k++) {
    var av: array<f32, 4>;
    var bv: array<f32, 4>;
    for (var i = 0u; i < 4u; i++) {
      let r = min(row0 + i, p.M - 1u);
      av[i] = A[ao + ${aIdx}];
      let cc = min(col0 + i, p.N - 1u);
      bv[i] = B[bo + ${bIdx}];
    }
    for (var i = 0u; i < 4u; i++) {
      for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(av[i], bv[j], acc[i][j]); }
    }
  }
  let co = bt * p.M * p.N;
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      let r = row0 + i;
      let cc = col0 + j;
      if (r < p.M && cc < p.N) {
        let o = co + r * p.N + cc;
        C[o] = p.alpha * acc[i][j]${accumulate ? ' + C[o]' : ''};
      }
    }
  }
}`;
}

export function matmulGpu(gpu: Gpu, a: GPUBuffer, b: GPUBuffer, c: GPUBuffer, s: MatmulShape): void {
  const acc = s.accumulate ?? false;
  const pipe = gpu.pipeline(`matmul-simple-${s.transA}-${s.transB}-${acc}`, () => source(s.transA, s.transB, acc));
  const tilesM = Math.ceil(s.M / 4);
  const tilesN = Math.ceil(s.N / 4);
  const params = [s.batch, s.M, s.N, s.K, s.aBatchStride, s.bBatchStride, f32bits(s.alpha ?? 1), tilesM, tilesN];
  gpu.dispatch(pipe, [a, b, c], params, Math.ceil((tilesM * tilesN * s.batch) / WG));
}
