// CoLaR's latent head: from the LLM's final normed hidden state h it predicts a diagonal
// Gaussian over the next compressed embedding, in the embedding space divided by embedStd:
//   x = LayerNorm(W2 · GELU(W1·h + b1) + b2);  mean = Wm·x + bm;  logStd = Ws·x + bs.

import * as E from '../engine/index.js';

export interface LatentHeadParams {
  w1: E.Tensor; b1: E.Tensor;
  w2: E.Tensor; b2: E.Tensor;
  lnWeight: E.Tensor; lnBias: E.Tensor;
  wMean: E.Tensor; bMean: E.Tensor;
  wLogStd: E.Tensor; bLogStd: E.Tensor;
}

export interface LatentDistribution {
  mean: E.Tensor;
  logStd: E.Tensor;
}

export class LatentHead {
  constructor(
    readonly params: LatentHeadParams,
    /** std of the token-embedding entries: targets are embeddings / embedStd */
    readonly embedStd: number,
  ) {}

  /** PyTorch's default init: Linear U(±1/√fan_in) for weights and biases, LayerNorm (1, 0). */
  static init(engine: E.Engine, hidden: number, intermediate: number, embedStd: number, rng: E.Rng): LatentHead {
    const uniform = (shape: number[], fanIn: number) => {
      const bound = 1 / Math.sqrt(fanIn);
      return engine.parameter(E.noGrad(() => E.addScalar(E.scale(rng.uniform(engine, shape), 2 * bound), -bound)));
    };
    return new LatentHead(
      {
        w1: uniform([intermediate, hidden], hidden), b1: uniform([intermediate], hidden),
        w2: uniform([intermediate, intermediate], intermediate), b2: uniform([intermediate], intermediate),
        lnWeight: engine.parameter(engine.ones([intermediate])), lnBias: engine.parameter(engine.zeros([intermediate])),
        wMean: uniform([hidden, intermediate], intermediate), bMean: uniform([hidden], intermediate),
        wLogStd: uniform([hidden, intermediate], intermediate), bLogStd: uniform([hidden], intermediate),
      },
      embedStd,
    );
  }

  forward(h: E.Tensor): LatentDistribution {
    const p = this.params;
    const x = E.layerNorm(E.linear(E.gelu(E.linear(h, p.w1, p.b1)), p.w2, p.b2), p.lnWeight, p.lnBias, 1e-5);
    return { mean: E.linear(x, p.wMean, p.bMean), logStd: E.linear(x, p.wLogStd, p.bLogStd) };
  }

  /** Parameters under stable names, for checkpoints. */
  namedParameters(): Map<string, E.Tensor> {
    return new Map(Object.entries(this.params).map(([k, v]) => [`latent_head.${k}`, v]));
  }
}

/** The std of all entries of the embedding matrix (the reference's MODEL_EMB_STD, measured). */
export async function embeddingStd(table: E.Tensor): Promise<number> {
  const values = await table.data();
  let sum = 0;
  let sq = 0;
  for (const v of values) {
    sum += v;
    sq += v * v;
  }
  const n = values.length;
  const mean = sum / n;
  return Math.sqrt(Math.max(0, sq / n - mean * mean));
}
