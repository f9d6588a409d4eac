// Define-by-run reverse-mode autodiff. Each differentiable op records a GradNode beside its
// output: the edges to its inputs, the tensors it saved, and a backward closure written in
// terms of other ops. backward() sorts the graph once and sweeps it in reverse, freeing each
// node's saved tensors as soon as the node has run.

import { keep, scope } from './scope.js';
import { Tensor, formatShape } from './tensor.js';

/** Where a gradient goes: the node that made an input, a trainable leaf, or nowhere. */
type Edge = GradNode | Tensor | null;

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording a graph (inference, optimizer steps, backward itself). */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

export function needsGrad(t: Tensor): boolean {
  return t.requiresGrad || t.node !== null;
}

export type BackwardFn = (gradOut: Tensor, saved: Tensor[]) => Array<Tensor | null>;

export class GradNode {
  /** references: the output tensor (while alive) and every node that has this one as an edge */
  private refs = 1;
  private saved: Tensor[] | null;
  readonly edges: Edge[];

  constructor(
    readonly op: string,
    inputs: Tensor[],
    saved: Tensor[],
    private readonly backwardFn: BackwardFn,
    readonly outShape: readonly number[],
  ) {
    this.edges = inputs.map((t) => {
      if (t.node) {
        t.node.refs++;
        return t.node;
      }
      return t.requiresGrad ? t : null;
    });
    this.saved = saved.map((t) => t.alias(t.shape, { tracked: false }));
  }

  /** Input gradients for one output gradient; consumes the saved tensors. */
  run(gradOut: Tensor): Array<Tensor | null> {
    if (!this.saved) throw new Error(`backward through ${this.op} a second time: its saved tensors were already freed`);
    const grads = this.backwardFn(gradOut, this.saved);
    this.freeSaved();
    return grads;
  }

  unref(): void {
    if (--this.refs > 0) return;
    this.freeSaved();
    for (const e of this.edges) if (e instanceof GradNode) e.unref();
  }

  private freeSaved(): void {
    for (const t of this.saved ?? []) t.dispose();
    this.saved = null;
  }
}

/**
 * Attaches a GradNode to `out` when any input needs a gradient and recording is on.
 * `backward` receives the output gradient and the saved tensors, and returns one gradient
 * per input (null where none flows).
 */
export function record(op: string, out: Tensor, inputs: Tensor[], saved: Tensor[], backward: BackwardFn): Tensor {
  if (gradEnabled && inputs.some(needsGrad)) out.node = new GradNode(op, inputs, saved, backward, out.shape);
  return out;
}

/**
 * Accumulates d(root)/d(leaf) into leaf.grad for every trainable leaf reachable from root.
 * root must be a scalar unless gradOut is given. The graph is consumed.
 */
export function backward(root: Tensor, gradOut?: Tensor): void {
  if (!root.node) throw new Error(`backward(): ${root} does not depend on any tensor with requiresGrad`);
  if (!gradOut && root.size !== 1) throw new Error(`backward(): root has shape ${formatShape(root.shape)}; pass gradOut for a non-scalar`);
  noGrad(() => {
    const order = topologicalOrder(root.node!);
    const pending = new Map<GradNode, Tensor>();
    pending.set(root.node!, gradOut ? gradOut.alias(gradOut.shape, { tracked: false }) : ones(root));
    for (const node of order) {
      const g = pending.get(node);
      pending.delete(node);
      if (!g) continue;
      // the node's temporaries die with its scope; the gradients it returns are kept
      const grads = scope(() => node.run(g));
      g.dispose();
      node.edges.forEach((edge, i) => {
        const gi = grads[i];
        if (!gi) return;
        keep(gi);
        if (!edge) return gi.dispose();
        if (edge instanceof GradNode) {
          const prev = pending.get(edge);
          pending.set(edge, prev ? accumulate(prev, gi) : gi);
        } else {
          edge.grad = edge.grad ? accumulate(edge.grad, gi) : gi;
        }
      });
    }
  });
}

function ones(like: Tensor): Tensor {
  return new Tensor(like.backend, like.backend.filled(like.size, 'f32', 1), like.shape, 'f32', { tracked: false });
}

function accumulate(a: Tensor, b: Tensor): Tensor {
  const sum = new Tensor(a.backend, a.backend.binary('add', a, b, a.shape), a.shape, 'f32', { tracked: false });
  a.dispose();
  b.dispose();
  return sum;
}

function topologicalOrder(root: GradNode): GradNode[] {
  const order: GradNode[] = [];
  const visited = new Set<GradNode>();
  // iterative DFS: deep graphs (many layers × many ops) would overflow the call stack
  const stack: Array<[GradNode, number]> = [[root, 0]];
  visited.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i < node.edges.length) {
      top[1]++;
      const e = node.edges[i];
      if (e instanceof GradNode && !visited.has(e)) {
        visited.add(e);
        stack.push([e, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order.reverse();
}
