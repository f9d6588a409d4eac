// Peak memory of one LoRA training step (forward + backward) on a model with Llama-3.2's
// 128,256-token vocabulary and a small trunk, before and after frozen 16-bit weights and the
// chunked LM loss. Run each case in its own process under /usr/bin/time -v (on lavapipe the
// device's buffers are host memory, so the peak RSS counts them):
//   node dist/bench/lora_memory.js write <dir> [d] [layers]      a BF16 checkpoint
//   node dist/bench/lora_memory.js step <dir> f32|bf16 full|chunked [batch] [tokens]
// f32 + full is the old path (base widened to f32, [tokens, V] logits and their gradient);
// bf16 + chunked the new one.
import * as E from '../engine/index.js';
import { parseLlamaConfig, toHF, type LlamaConfig } from '../colar/llama/config.js';
import { initLlama } from '../colar/llama/init.js';
import { loadModelDir } from '../colar/llama/node_files.js';
import { applyLora } from '../colar/llama/lora.js';
import { writeModelDir } from '../colar/llama/model_dir_write.js';

const VOCAB = 128_256;

async function write(engine: E.Engine, dir: string, d: number, layers: number): Promise<void> {
  const headDim = 64;
  const config: LlamaConfig = parseLlamaConfig(
    toHF({
      vocabSize: VOCAB, hiddenSize: d, intermediateSize: 4 * d, numHiddenLayers: layers, numAttentionHeads: d / headDim, numKeyValueHeads: Math.max(1, d / headDim / 4), headDim,
      rmsNormEps: 1e-5, ropeTheta: 500000, maxPositionEmbeddings: 2048, tieWordEmbeddings: true, eosTokenId: 1,
    }),
    'bench config',
  );
  const model = initLlama(engine, config, new E.Rng(0));
  const tensors = [...model.namedParameters()].map(([name, t]) => ({ name, shape: [...t.shape], data: () => t.float32() }));
  await writeModelDir(dir, { config, tensors, floatDType: 'BF16' });
}

async function step(engine: E.Engine, dir: string, dtype: string, loss: string, batch: number, tokens: number): Promise<void> {
  const t0 = performance.now();
  const model = await loadModelDir(engine, dir, { frozen: dtype === 'bf16' });
  applyLora(model, { r: 128, alpha: 32, dropout: 0, targetModules: ['q_proj', 'v_proj'] }, new E.Rng(1));
  const ids = engine.tensor(Array.from({ length: batch * tokens }, (_, i) => (i * 7919) % VOCAB), [batch, tokens], 'i32');
  const targets = engine.tensor(Array.from({ length: batch * tokens }, (_, i) => (i * 104729 + 1) % VOCAB), [batch * tokens], 'i32');
  const value = engine.scope(() => {
    const ce = loss === 'full'
      ? E.crossEntropy(E.reshape(model.forward({ ids }).logits!, [batch * tokens, VOCAB]), targets)
      : model.lmLoss(model.forward({ ids, logitsFor: 'none' }).hidden, targets);
    E.backward(ce);
    return E.keep(ce);
  });
  const owned = engine.gpu ? `, device buffers ${(engine.gpu.pool.getStats().bytesOwned / 2 ** 20).toFixed(0)} MiB` : '';
  console.log(`${dtype} ${loss}: loss ${(await value.item()).toFixed(4)}${owned}, ${((performance.now() - t0) / 1000).toFixed(1)} s on ${engine.backend.deviceName}`);
}

const [mode, dir, ...rest] = process.argv.slice(2);
const engine = await E.Engine.create();
try {
  if (mode === 'write') await write(engine, dir, Number(rest[0] ?? 256), Number(rest[1] ?? 2));
  else if (mode === 'step') await step(engine, dir, rest[0], rest[1], Number(rest[2] ?? 4), Number(rest[3] ?? 128));
  else throw new Error('usage: lora_memory.js write <dir> [d] [layers] | step <dir> f32|bf16 full|chunked [batch] [tokens]');
} finally {
  await engine.close();
}
