// Llama-3.2, as the paper and Hugging Face define it: token embeddings → N × [RMSNorm →
// grouped-query self-attention with RoPE → residual → RMSNorm → SwiGLU MLP → residual] →
// RMSNorm → LM head (tied to the embeddings or not). The forward pass takes token ids or input
// embeddings, explicit positions and a key-padding mask with holes: CoLaR needs all three.

import * as E from '../../engine/index.js';
import { ropeInvFreq } from '../../kernels/rope.js';
import type { LlamaConfig } from './config.js';
import { KvCache } from './kv_cache.js';
import { Linear } from './linear.js';

export interface DecoderLayer {
  inputNorm: E.Tensor;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  postNorm: E.Tensor;
  gate: Linear;
  up: Linear;
  down: Linear;
}

export interface ForwardInput {
  /** i32 [B, T] token ids, or … */
  ids?: E.Tensor;
  /** … f32 [B, T, d] input embeddings */
  embeds?: E.Tensor;
  /** i32 [B, T]; default 0..T-1 (after the cache's length) for every row */
  positions?: E.Tensor;
  /** f32 [B, T] (or [B, cache length + T] with a cache): 1 real, 0 padding */
  keyMask?: E.Tensor;
  /** decoding: keys/values of earlier positions, extended in place */
  cache?: KvCache;
  /** compute logits only for these flat rows of [B·T] (default: all) */
  logitsFor?: 'all' | 'last' | 'none';
  /** training: LoRA dropout draws its masks from this stream (no dropout without it) */
  dropoutRng?: E.Rng;
}

export interface ForwardOutput {
  /** [B, T, V] (or [B, 1, V] for 'last') */
  logits: E.Tensor | null;
  /** final normed hidden states [B, T, d]: what the LM head (and CoLaR's latent head) reads */
  hidden: E.Tensor;
}

export class Llama {
  readonly invFreq: E.Tensor;

  constructor(
    readonly engine: E.Engine,
    readonly config: LlamaConfig,
    readonly embedTokens: E.Tensor,
    readonly layers: DecoderLayer[],
    readonly norm: E.Tensor,
    /** null when tied to embedTokens */
    readonly lmHead: E.Tensor | null,
  ) {
    const c = config;
    this.invFreq = E.keep(engine.tensor(Array.from(ropeInvFreq(c.headDim, c.ropeTheta, c.ropeScaling)), [c.headDim / 2]));
  }

  /** The Hugging Face names of every base parameter. */
  namedParameters(): Map<string, E.Tensor> {
    const m = new Map<string, E.Tensor>();
    m.set('model.embed_tokens.weight', this.embedTokens);
    this.layers.forEach((l, i) => {
      const p = `model.layers.${i}`;
      m.set(`${p}.input_layernorm.weight`, l.inputNorm);
      m.set(`${p}.self_attn.q_proj.weight`, l.q.weight);
      m.set(`${p}.self_attn.k_proj.weight`, l.k.weight);
      m.set(`${p}.self_attn.v_proj.weight`, l.v.weight);
      m.set(`${p}.self_attn.o_proj.weight`, l.o.weight);
      m.set(`${p}.post_attention_layernorm.weight`, l.postNorm);
      m.set(`${p}.mlp.gate_proj.weight`, l.gate.weight);
      m.set(`${p}.mlp.up_proj.weight`, l.up.weight);
      m.set(`${p}.mlp.down_proj.weight`, l.down.weight);
    });
    m.set('model.norm.weight', this.norm);
    if (this.lmHead) m.set('lm_head.weight', this.lmHead);
    return m;
  }

  /** Looks up token embeddings: i32 [B, T] → [B, T, d]. */
  embed(ids: E.Tensor): E.Tensor {
    return E.embedding(this.embedTokens, ids);
  }

  forward(input: ForwardInput): ForwardOutput {
    const c = this.config;
    const x0 = input.embeds ?? (input.ids ? this.embed(input.ids) : null);
    if (!x0 || x0.rank !== 3 || x0.shape[2] !== c.hiddenSize) {
      throw new Error(`llama forward: pass ids [B, T] or embeds [B, T, ${c.hiddenSize}]${x0 ? ` (got embeds ${E.formatShape(x0.shape)})` : ''}`);
    }
    const [B, T] = x0.shape;
    const past = input.cache?.length ?? 0;
    // Positions count real tokens, so they stay below the sequence length: bounding it bounds them.
    if (past + T > c.maxPositionEmbeddings) {
      throw new Error(`a sequence of ${past + T} tokens is longer than the model's max_position_embeddings (${c.maxPositionEmbeddings})`);
    }
    const positions = input.positions ?? this.engine.tensor(Array.from({ length: B * T }, (_, i) => past + (i % T)), [B, T], 'i32');
    let x = x0;
    this.layers.forEach((layer, i) => {
      // a layer's temporaries, and its input, are freed as it ends, not with the caller's scope:
      // what backward needs its graph holds; the rest (~40 MB a 1B layer at 512 tokens) piles up
      const out = E.scope(() => {
        const h = E.add(x, this.attention(layer, E.rmsNorm(x, layer.inputNorm, c.rmsNormEps), positions, input.keyMask ?? null, input.cache, i, input.dropoutRng));
        return E.add(h, this.mlp(layer, E.rmsNorm(h, layer.postNorm, c.rmsNormEps), input.dropoutRng));
      });
      if (x !== x0) x.dispose();
      x = out;
    });
    input.cache?.advance(T);
    const hidden = E.rmsNorm(x, this.norm, c.rmsNormEps);
    const mode = input.logitsFor ?? 'all';
    if (mode === 'none') return { logits: null, hidden };
    const head = mode === 'last' ? E.slice(hidden, 1, T - 1, T) : hidden;
    return { logits: this.lmLogits(head), hidden };
  }

  /** The LM head on hidden states [..., d] → [..., V]. */
  lmLogits(hidden: E.Tensor): E.Tensor {
    return E.matmul(hidden, this.lmHead ?? this.embedTokens, { transB: true });
  }

  /**
   * Cross-entropy of the LM head's predictions from hidden states [..., d] against i32 targets:
   * the logits are made and freed a chunk of rows at a time, never [tokens, V] at once.
   */
  lmLoss(hidden: E.Tensor, targets: E.Tensor, opts: E.LinearCrossEntropyOptions = {}): E.Tensor {
    return E.linearCrossEntropy(hidden, this.lmHead ?? this.embedTokens, targets, opts);
  }

  private attention(l: DecoderLayer, x: E.Tensor, positions: E.Tensor, keyMask: E.Tensor | null, cache: KvCache | undefined, layer: number, rng?: E.Rng): E.Tensor {
    const c = this.config;
    const [B, T] = x.shape;
    const q = E.rope(E.reshape(l.q.forward(x, rng), [B, T, c.numAttentionHeads, c.headDim]), positions, this.invFreq);
    const k = E.rope(E.reshape(l.k.forward(x, rng), [B, T, c.numKeyValueHeads, c.headDim]), positions, this.invFreq);
    const v = E.reshape(l.v.forward(x, rng), [B, T, c.numKeyValueHeads, c.headDim]);
    const out = cache
      ? E.attention(q, ...cache.append(layer, k, v), { causal: true, keyMask, kvLength: cache.length + T })
      : E.attention(q, k, v, { causal: true, keyMask });
    return l.o.forward(E.reshape(out, [B, T, c.numAttentionHeads * c.headDim]), rng);
  }

  private mlp(l: DecoderLayer, x: E.Tensor, rng?: E.Rng): E.Tensor {
    return l.down.forward(E.siluMul(l.gate.forward(x, rng), l.up.forward(x, rng)), rng);
  }

  dispose(): void {
    for (const t of this.namedParameters().values()) t.dispose();
    for (const l of this.layers) for (const lin of [l.q, l.k, l.v, l.o, l.gate, l.up, l.down]) if (lin.lora) [lin.lora.A, lin.lora.B].forEach((t) => t.dispose());
    this.invFreq.dispose();
  }
}
