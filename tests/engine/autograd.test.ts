// Autograd and memory semantics: accumulation, frozen inputs, noGrad, scopes, freeing saved
// tensors, and one-line errors for misuse. Runs on both backends.
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { cpu, webgpu } from '../helpers/engines.js';

for (const name of ['cpu', 'webgpu'] as const) {
  const engine = async () => (name === 'cpu' ? cpu : await webgpu());

  describe(`autograd on ${name}`, () => {
    it('accumulates gradients over backward calls and fans out to shared inputs', async () => {
      const e = await engine();
      const x = e.parameter(e.tensor([1, 2, 3]));
      for (let i = 0; i < 2; i++) {
        e.scope(() => E.backward(E.sum(E.mul(x, x)))); // d/dx sum(x·x) = 2x, twice
      }
      expect(await x.grad!.array()).toEqual([4, 8, 12]);
      x.dispose();
    });

    it('computes no gradient for inputs that do not require one (frozen weights)', async () => {
      const e = await engine();
      const w = e.tensor([[1, 2], [3, 4]]); // frozen
      const a = e.parameter(e.tensor([[0.5, -1]]));
      // count the products the backend runs: the forward and dA only, never a dW thrown away
      const backend = e.backend;
      const product = backend.matmul.bind(backend);
      let products = 0;
      backend.matmul = (...args) => {
        products++;
        return product(...args);
      };
      try {
        e.scope(() => E.backward(E.sum(E.matmul(a, w, { transB: true }))));
      } finally {
        backend.matmul = product;
      }
      expect(products).toBe(2);
      expect(w.grad).toBeNull();
      expect(await a.grad!.array()).toEqual([4, 6]);
      w.dispose();
      a.dispose();
    });

    it('keeps no activation alive for a frozen weight: x·Wᵀ frees x with its last handle, and dx still flows', async () => {
      const e = await engine();
      const w = e.tensor([[1, 2], [3, 4]]); // frozen
      const p = e.parameter(e.tensor([[0.5, -1]]));
      e.scope(() => {
        const x = E.scale(p, 2); // an activation
        const storage = x.storage;
        const y = E.matmul(x, w, { transB: true });
        x.dispose();
        expect(() => storage.retain()).toThrow(/freed/);
        E.backward(E.sum(y)); // d/dp sum(2p·Wᵀ) = 2 · (column sums of W)
      });
      expect([...(await p.grad!.data())]).toEqual([8, 12]);
      for (const t of [w, p]) t.dispose();
    });

    it('records nothing under noGrad', async () => {
      const e = await engine();
      const x = e.parameter(e.tensor([1, 2]));
      const y = E.noGrad(() => E.mul(x, x));
      expect(y.node).toBeNull();
      expect(() => E.backward(E.sum(y))).toThrow(/does not depend/);
      y.dispose();
      x.dispose();
    });

    it('scope disposes what it does not return; the graph survives for backward', async () => {
      const e = await engine();
      const x = e.parameter(e.tensor([3]));
      let inner: E.Tensor | null = null;
      const loss = e.scope(() => {
        inner = E.exp(x);
        return E.sum(E.mul(inner, x));
      });
      expect(inner!.disposed).toBe(true);
      E.backward(loss); // d/dx x·eˣ = (1 + x)eˣ
      expect((await x.grad!.item()) / Math.exp(3)).toBeCloseTo(4, 5);
      expect(() => E.backward(loss)).toThrow(/second time/);
      loss.dispose();
      x.dispose();
    });

    it('rejects misuse with one line that names the op and the shapes', async () => {
      const e = await engine();
      const a = e.tensor([[1, 2, 3]]);
      const b = e.tensor([[1, 2]]);
      expect(() => E.matmul(a, b)).toThrow('matmul: inner dimensions differ (3 vs 1, transA=false, transB=false) (got [1, 3] f32, [1, 2] f32)');
      expect(() => E.add(a, b)).toThrow('add: shapes [1, 3] and [1, 2] do not broadcast');
      expect(() => E.reshape(a, [2, 2])).toThrow('reshape: cannot reshape to [2, 2] (got [1, 3] f32)');
      expect(() => E.embedding(a, a)).toThrow('embedding: ids must be i32');
      const disposed = e.tensor([1]);
      disposed.dispose();
      expect(() => E.exp(disposed)).toThrow(/used after dispose/);
      a.dispose();
      b.dispose();
    });
  });
}
