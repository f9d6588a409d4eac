// Batched autoregressive generation of token ids with a KV cache (see decoder.ts).

import { Decoder } from './decoder.js';
import type { Llama } from './model.js';
import { HostRng, sampleToken, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** a row stops after any of these */
  eosIds: number[];
  padId: number;
  /** called with each token as it is chosen (a page shows the chain growing) */
  onToken?: (row: number, id: number) => void;
}

/**
 * Continues every row from the logits of its last fed position until EOS or maxNewTokens.
 * Returns the generated ids per row (EOS included when reached).
 */
export async function continueTokens(decoder: Decoder, lastLogits: ArrayLike<number>, rng: HostRng, opts: GenerateOptions): Promise<number[][]> {
  const B = decoder.batch;
  const V = decoder.model.config.vocabSize;
  const out: number[][] = Array.from({ length: B }, () => []);
  const done = new Array<boolean>(B).fill(false);
  let logits = lastLogits;
  for (let step = 0; step < opts.maxNewTokens; step++) {
    const next = out.map((_, b) => {
      const u = rng.next();
      return done[b] ? opts.padId : sampleToken(logits, u, opts, b * V, V);
    });
    const active = done.map((d) => !d);
    next.forEach((tok, b) => {
      if (done[b]) return;
      out[b].push(tok);
      opts.onToken?.(b, tok);
      if (opts.eosIds.includes(tok)) done[b] = true;
    });
    if (!done.includes(false) || step === opts.maxNewTokens - 1) break;
    const r = await decoder.tokens(next, active);
    r.hidden.dispose();
    logits = r.logits;
  }
  return out;
}

/** Generates a continuation of each prompt (prompts may differ in length). */
export async function generate(model: Llama, prompts: number[][], opts: GenerateOptions & { seed: number }): Promise<number[][]> {
  const L = Math.max(...prompts.map((p) => p.length));
  const decoder = new Decoder(model, prompts.length, L + opts.maxNewTokens);
  try {
    const first = await decoder.prompt(prompts, opts.padId);
    first.hidden.dispose();
    return await continueTokens(decoder, first.logits, new HostRng(opts.seed), opts);
  } finally {
    decoder.dispose();
  }
}
