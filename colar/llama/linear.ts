// A linear layer y = x·Wᵀ (+ b), with an optional LoRA adapter: y += s·(dropout(x)·Aᵀ)·Bᵀ,
// s = alpha/r, dropout only in training (when the forward is given a dropout stream), as PEFT.
// The base weight can be frozen (no gradient is ever computed for it) while A and B train.

import * as E from '../../engine/index.js';

export interface LoraWeights {
  /** [r, in], Kaiming-uniform initialised */
  A: E.Tensor;
  /** [out, r], zero initialised so a fresh adapter changes nothing */
  B: E.Tensor;
  scale: number;
  /** probability of zeroing an input entry of the adapter's path in training (PEFT's lora_dropout) */
  dropout: number;
}

export class Linear {
  lora: LoraWeights | null = null;

  constructor(
    /** [out, in] */
    public weight: E.Tensor,
    readonly bias: E.Tensor | null = null,
  ) {}

  get inFeatures(): number {
    return this.weight.shape[1];
  }

  get outFeatures(): number {
    return this.weight.shape[0];
  }

  /** `dropoutRng`: training; the adapter's dropout masks come from it (none without it). */
  forward(x: E.Tensor, dropoutRng?: E.Rng): E.Tensor {
    if (!this.lora) return E.linear(x, this.weight, this.bias ?? undefined);
    const { A, B, scale, dropout } = this.lora;
    let y: E.Tensor;
    if (dropout > 0 && dropoutRng) {
      // the adapter reads a dropped-out x, so it cannot share the base product's pass over x
      const xa = E.dropout(x, dropout, dropoutRng.uniformLike(x));
      y = E.add(E.linear(x, this.weight), E.matmul(E.matmul(xa, A, { transB: true }), B, { transB: true, alpha: scale }));
    } else {
      y = E.loraLinear(x, this.weight, A, B, scale);
    }
    return this.bias ? E.add(y, this.bias) : y;
  }

  /** Folds the adapter into the base weight (W += s·B·A) and removes it. */
  mergeLora(): void {
    if (!this.lora) return;
    const { A, B, scale } = this.lora;
    // a frozen bf16 base widens: the merged weight is f32
    const merged = E.keep(E.noGrad(() => E.scope(() => E.add(E.cast(this.weight, 'f32'), E.matmul(B, A, { alpha: scale })))));
    merged.requiresGrad = this.weight.requiresGrad;
    for (const t of [this.weight, A, B]) t.dispose();
    this.weight = merged;
    this.lora = null;
  }
}
