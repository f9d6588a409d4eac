// Export: a run leaves its directory as a Hugging Face model or a PEFT adapter that scores text
// exactly as the run does — checked against PEFT's semantics computed here independently
// (W + alpha/r · B·A on the base weights read off disk) — and every exported directory loads
// back through generate, score, eval and train. The tests run in order: later ones read the
// runs and exports the earlier ones wrote.
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import * as E from '../../engine/index.js';
import { bf16BitsToF32, toBf16Bits } from '../../engine/bf16.js';
import { evalCommand } from '../../cli/eval.js';
import { exportCommand } from '../../cli/export.js';
import { generateCommand } from '../../cli/generate.js';
import { scoreCommand } from '../../cli/score.js';
import { saveCheckpoint } from '../../colar/checkpoint.js';
import { exportRun } from '../../colar/export.js';
import { parseLlamaConfig, toHF } from '../../colar/llama/config.js';
import { readLlamaConfig } from '../../colar/llama/node_files.js';
import { buildLlama, initLlama } from '../../colar/llama/init.js';
import { saveModelDir } from '../../colar/llama/model_dir_write.js';
import { loadModelDir } from '../../colar/llama/node_files.js';
import { parsePeftAdapterConfig } from '../../colar/llama/lora.js';
import type { Llama } from '../../colar/llama/model.js';
import { openSafetensors } from '../../colar/llama/safetensors.js';
import { tokenLogprobs } from '../../colar/llama/score.js';
import { CLI_NAMES, loadModel, resolveModelSource } from '../../colar/model_source.js';
import { buildRunModel, checkpointTensors, loadRun, runDatasets, writeRunFiles } from '../../colar/run.js';
import { resolveConfig } from '../../colar/train_config.js';
import { train } from '../../colar/trainer.js';
import { arithmeticDataset } from '../../datasets/synthetic.js';
import { syntheticTokenizerFiles } from '../../datasets/vocab.js';
import { cpu, seeded } from '../helpers/engines.js';

const small = ['model.hidden_size=16', 'model.layers=2', 'model.heads=2', 'model.kv_heads=1', 'model.intermediate_size=24', 'colar.head_intermediate=8'];
const state = { step: 1, epoch: 1, batchInEpoch: 0, rng: new E.Rng(0).state(), bestMetric: null };
const question = arithmeticDataset('test', 1, 3)[0];
const text = `${question.question} ${question.steps.join(' ')} ${question.answer}`;

/** A run directory with its best checkpoint; every trainable tensor is randomised, so LoRA's B is not zero. */
async function savedRun(dir: string, stage: 'cot' | 'colar', overrides: string[]): Promise<void> {
  const cfg = resolveConfig('tiny', stage, [...small, ...overrides, `out_dir=${JSON.stringify(dir)}`]);
  const run = await buildRunModel(cpu, cfg, stage === 'colar');
  const random = seeded(dir.length);
  for (const t of checkpointTensors(run, cfg).values()) t.assign(Array.from({ length: t.size }, () => 0.3 * (random() - 0.5)));
  await writeRunFiles(dir, cfg);
  await saveCheckpoint(dir, 'best', checkpointTensors(run, cfg), null, [], state);
  run.model.dispose();
}

/** Total log-probability of `text` under a model, in nats. */
async function score(model: Llama, ids: number[]): Promise<number> {
  return (await tokenLogprobs(model, ids)).reduce((s, x) => s + x, 0);
}

async function runScore(runDir: string): Promise<{ total: number; ids: number[] }> {
  const { run } = await loadRun(cpu, runDir);
  const ids = run.tokenizer.encode(text);
  const total = await score(run.model, ids);
  run.model.dispose();
  return { total, ids };
}

/** PEFT's semantics, computed here: every targeted weight becomes W + lora_alpha/r · B·A (float64), then `store`d. */
async function peftMerged(baseDir: string, adapterDir: string | null, store = (w: Float64Array): ArrayLike<number> => w): Promise<Llama> {
  const weights = new Map<string, Float64Array>();
  const base = await openSafetensors(join(baseDir, 'model.safetensors'));
  for (const t of base.tensors) weights.set(t.name, Float64Array.from(await base.read(t.name)));
  await base.close();
  if (adapterDir) {
    const cfg = JSON.parse(await readFile(join(adapterDir, 'adapter_config.json'), 'utf8'));
    const scale = cfg.use_rslora ? cfg.lora_alpha / Math.sqrt(cfg.r) : cfg.lora_alpha / cfg.r;
    const adapter = await openSafetensors(join(adapterDir, 'adapter_model.safetensors'));
    for (const a of adapter.tensors.filter((t) => t.name.endsWith('.lora_A.weight'))) {
      const module = a.name.replace(/^base_model\.model\./, '').replace(/\.lora_A\.weight$/, '');
      const [r, inF] = a.shape;
      const [outF] = adapter.info(`base_model.model.${module}.lora_B.weight`)!.shape;
      const [A, B] = [await adapter.read(a.name), await adapter.read(`base_model.model.${module}.lora_B.weight`)];
      const W = weights.get(`${module}.weight`)!;
      for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) for (let k = 0; k < r; k++) W[o * inF + i] += scale * B[o * r + k] * A[k * inF + i];
    }
    await adapter.close();
  }
  const config = await readLlamaConfig(join(baseDir, 'config.json'));
  return buildLlama(cpu, config, (name, shape) => cpu.tensor(Array.from(store(weights.get(name)!)), shape));
}

/** Runs a CLI verb in this process on the CPU backend and returns what it printed. */
async function cli(command: () => import('commander').Command, ...args: string[]): Promise<string> {
  const printed: string[] = [];
  vi.stubEnv('COLAR_BACKEND', 'cpu');
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void printed.push(parts.join(' ')));
  try {
    await command().exitOverride().parseAsync(args, { from: 'user' });
  } finally {
    log.mockRestore();
    vi.unstubAllEnvs();
  }
  return printed.join('\n');
}

const root = await mkdtemp(join(tmpdir(), 'export-'));
const dirs = {
  cot: join(root, 'cot'), cotOut: join(root, 'cot-hf'),
  lora: join(root, 'lora'), loraOut: join(root, 'lora-adapter'), mergedOut: join(root, 'lora-merged'),
  tinyLora: join(root, 'tiny-lora'), tinyLoraOut: join(root, 'tiny-lora-adapter'),
};

describe('export', () => {
  it('writes a full run as a model directory that scores text as the run does; the run dir holds no model/ folder', async () => {
    await savedRun(dirs.cot, 'cot', []);
    expect(await readdir(dirs.cot)).not.toContain('model');
    expect(await cli(exportCommand, '--ckpt', dirs.cot, '--out', dirs.cotOut)).toContain('wrote a Hugging Face model directory');
    expect((await readdir(dirs.cotOut)).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    const { total, ids } = await runScore(dirs.cot);
    const exported = await peftMerged(dirs.cotOut, null);
    expect(Math.abs((await score(exported, ids)) - total)).toBeLessThan(1e-4);
    exported.dispose();
  });

  it('writes a LoRA run on a model directory as a PEFT adapter on that base, with its latent head', async () => {
    // the LoRA run builds on the model directory the full run was exported to
    await savedRun(dirs.lora, 'colar', [`model.path=${JSON.stringify(dirs.cotOut)}`, 'lora.enabled=true', 'lora.r=2', 'lora.alpha=6', 'lora.target_modules=["q_proj","v_proj","down_proj"]']);
    const r = await exportRun(cpu, dirs.lora, dirs.loraOut, { merge: false, overwrite: false });
    expect(r).toEqual({ kind: 'adapter', base: dirs.cotOut, head: true });
    expect((await readdir(dirs.loraOut)).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'latent_head.json', 'latent_head.safetensors']);
    const config = JSON.parse(await readFile(join(dirs.loraOut, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({
      peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: dirs.cotOut, r: 2, lora_alpha: 6, lora_dropout: 0,
      target_modules: ['q_proj', 'v_proj', 'down_proj'], bias: 'none', fan_in_fan_out: false, inference_mode: true, use_rslora: false, use_dora: false, modules_to_save: null,
    });
    const f = await openSafetensors(join(dirs.loraOut, 'adapter_model.safetensors'));
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.info('base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight')?.shape).toEqual([2, 16]);
    expect(f.info('base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight')?.shape).toEqual([16, 2]);
    expect(f.info('base_model.model.model.layers.0.mlp.down_proj.lora_A.weight')?.shape).toEqual([2, 24]);
    expect(f.tensors).toHaveLength(2 * 2 * 3);
    await f.close();
    expect(JSON.parse(await readFile(join(dirs.loraOut, 'latent_head.json'), 'utf8'))).toMatchObject({ hidden_size: 16, intermediate_size: 8, pooling: 'sqrt' });

    const { total, ids } = await runScore(dirs.lora);
    const peft = await peftMerged(dirs.cotOut, dirs.loraOut);
    expect(Math.abs((await score(peft, ids)) - total)).toBeLessThan(1e-4);
    peft.dispose();
    // and the project reads it back the same, head included
    const loaded = await loadModel(cpu, await resolveModelSource(dirs.cotOut, dirs.loraOut, CLI_NAMES));
    expect(Math.abs((await score(loaded.run.model, ids)) - total)).toBeLessThan(1e-4);
    const { cfg, run } = await loadRun(cpu, dirs.lora);
    expect(loaded.run.head!.embedStd).toBe(cfg.colar.embed_std);
    expect(await loaded.run.head!.params.wMean.array()).toEqual(await run.head!.params.wMean.array());
  });

  it('reads a PEFT adapter that scales by alpha/√r (use_rslora) as PEFT does', async () => {
    const rslora = join(root, 'rslora');
    await mkdir(rslora);
    const config = JSON.parse(await readFile(join(dirs.loraOut, 'adapter_config.json'), 'utf8'));
    await writeFile(join(rslora, 'adapter_config.json'), JSON.stringify({ ...config, use_rslora: true }));
    await writeFile(join(rslora, 'adapter_model.safetensors'), await readFile(join(dirs.loraOut, 'adapter_model.safetensors')));
    const ids = (await runScore(dirs.lora)).ids;
    const peft = await peftMerged(dirs.cotOut, rslora);
    const loaded = await loadModel(cpu, await resolveModelSource(dirs.cotOut, rslora, CLI_NAMES));
    const [want, got, plain] = [await score(peft, ids), await score(loaded.run.model, ids), (await runScore(dirs.lora)).total];
    expect(Math.abs(got - want)).toBeLessThan(1e-4);
    expect(Math.abs(got - plain)).toBeGreaterThan(1e-3); // √2 ≠ 2: the scale matters
    peft.dispose();
  });

  it('--merge writes the base with the adapters folded in, scoring as the run does', async () => {
    expect(await cli(exportCommand, '--ckpt', dirs.lora, '--out', dirs.mergedOut, '--merge')).toContain('wrote a Hugging Face model directory and the latent head');
    const { total, ids } = await runScore(dirs.lora);
    const merged = await peftMerged(dirs.mergedOut, null);
    expect(Math.abs((await score(merged, ids)) - total)).toBeLessThan(1e-4);
    // the folded weights are PEFT's W + alpha/r · B·A, to float32 rounding
    const peft = await peftMerged(dirs.cotOut, dirs.loraOut);
    const [a, b] = [await merged.layers[1].q.weight.data(), await peft.layers[1].q.weight.data()];
    expect(Math.max(...b.map((v, i) => Math.abs(v - a[i])))).toBeLessThan(1e-6);
    merged.dispose();
    peft.dispose();
  });

  it('writes the base beside the adapter when the run\'s base was never a model directory', async () => {
    await savedRun(dirs.tinyLora, 'cot', ['lora.enabled=true', 'lora.r=3', 'lora.alpha=2']);
    const r = await exportRun(cpu, dirs.tinyLora, dirs.tinyLoraOut, { merge: false, overwrite: false });
    expect(r).toEqual({ kind: 'adapter', base: join(dirs.tinyLoraOut, 'base_model'), head: false });
    const { total, ids } = await runScore(dirs.tinyLora);
    const peft = await peftMerged(join(dirs.tinyLoraOut, 'base_model'), dirs.tinyLoraOut);
    expect(Math.abs((await score(peft, ids)) - total)).toBeLessThan(1e-4);
    peft.dispose();
  });

  it('loads every exported directory through score, generate and eval', async () => {
    const runTotal = (await runScore(dirs.lora)).total;
    const scored = async (...model: string[]) => JSON.parse(await cli(scoreCommand, ...model, '--text', text, '--json')).total as number;
    expect(Math.abs((await scored('--model', dirs.cotOut, '--adapter', dirs.loraOut)) - runTotal)).toBeLessThan(1e-4);
    expect(Math.abs((await scored('--model', dirs.mergedOut)) - runTotal)).toBeLessThan(1e-4);
    expect(Math.abs((await scored('--model', dirs.lora)) - runTotal)).toBeLessThan(1e-4);
    expect(Math.abs((await scored('--model', dirs.cotOut)) - (await runScore(dirs.cot)).total)).toBeLessThan(1e-4);

    // a latent head makes generate reason in latents, from the adapter and the merged model alike
    const gen = (...model: string[]) => cli(generateCommand, ...model, '--prompt', question.question, '--greedy', '--compression', '2');
    const fromAdapter = await gen('--model', dirs.cotOut, '--adapter', dirs.loraOut);
    expect(fromAdapter).toMatch(/#L = \d+ latent steps/);
    expect(await gen('--model', dirs.mergedOut)).toBe(fromAdapter);
    expect(await gen('--ckpt', dirs.lora)).toBe(fromAdapter);
    expect(await gen('--model', dirs.cotOut)).toMatch(new RegExp(`^${question.question.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

    const data = join(root, 'test.json');
    await writeFile(data, JSON.stringify(arithmeticDataset('test', 3, 1).map(({ question, steps, answer }) => ({ question, steps, answer }))));
    const evalOut = join(root, 'eval-adapter');
    await cli(evalCommand, '--model', dirs.cotOut, '--adapter', dirs.loraOut, '--data', data, '-n', '3', '--seeds', '1', '--compression', '1,2', '--out', evalOut, '--greedy');
    const report = JSON.parse(await readFile(join(evalOut, 'eval.json'), 'utf8'));
    expect(report.rows.map((r: { row: string }) => r.row)).toEqual(['CoLaR c=1', 'CoLaR c=2']);
    expect(report.questions).toBe(3);
    const runEval = join(root, 'eval-run');
    await cli(evalCommand, '--ckpt', dirs.lora, '--data', data, '-n', '3', '--seeds', '1', '--compression', '1,2', '--out', runEval, '--greedy');
    // the same answers and chains as the run itself
    expect(await readFile(join(runEval, 'samples.jsonl'), 'utf8')).toBe(await readFile(join(evalOut, 'samples.jsonl'), 'utf8'));
  });

  it('lets training start from exported directories: model.path (+ model.adapter), model.init_from', async () => {
    const tensorsOf = async (m: Llama) => Promise.all([m.layers[1].v.weight, m.embedTokens].map((t) => t.array()));
    const merged = await peftMerged(dirs.mergedOut, null);
    const want = await tensorsOf(merged);
    merged.dispose();
    // model.path + model.adapter: the base with the adapter folded in
    const withAdapter = await buildRunModel(cpu, resolveConfig('tiny', 'cot', [...small, `model.path=${JSON.stringify(dirs.cotOut)}`, `model.adapter=${JSON.stringify(dirs.loraOut)}`]), false);
    expectNear(await tensorsOf(withAdapter.model), want);
    // model.path of a run directory: that run's model
    const fromRun = await buildRunModel(cpu, resolveConfig('tiny', 'cot', [...small, `model.path=${JSON.stringify(dirs.lora)}`]), false);
    expectNear(await tensorsOf(fromRun.model), want);
    // model.init_from of the merged directory: its weights and head, and the head's embed_std
    const cfg = resolveConfig('tiny', 'colar', [...small, `model.init_from=${JSON.stringify(dirs.mergedOut)}`]);
    const fromMerged = await buildRunModel(cpu, cfg, true);
    expectNear(await tensorsOf(fromMerged.model), want);
    const { cfg: loraCfg, run } = await loadRun(cpu, dirs.lora);
    expect(cfg.colar.embed_std).toBe(loraCfg.colar.embed_std);
    expect(await fromMerged.head!.params.w1.array()).toEqual(await run.head!.params.w1.array());
    // model.init_from of an adapter directory continues the adapter on its base
    const cont = resolveConfig('tiny', 'colar', [...small, `model.path=${JSON.stringify(dirs.cotOut)}`, `model.init_from=${JSON.stringify(dirs.loraOut)}`, 'lora.enabled=true', 'lora.r=2', 'lora.alpha=6', 'lora.target_modules=["q_proj","v_proj","down_proj"]']);
    const continued = await buildRunModel(cpu, cont, true);
    expect(await continued.model.layers[0].q.lora!.B.array()).toEqual(await run.model.layers[0].q.lora!.B.array());
  });

  it('refuses wrong inputs with one line naming what was expected', async () => {
    const empty = join(root, 'empty');
    await mkdir(empty);
    const resolve = (dir: string, adapter: string | null = null) => resolveModelSource(dir, adapter, CLI_NAMES);
    await expect(resolve(join(root, 'nope'))).rejects.toThrow(`--model ${join(root, 'nope')}: no such directory; expected a Hugging Face model directory (config.json) or a run directory (run_config.json)`);
    await expect(resolve(empty)).rejects.toThrow(`--model ${empty}: expected a Hugging Face model directory (config.json) or a run directory (run_config.json)`);
    await expect(resolve(dirs.loraOut)).rejects.toThrow(`--model ${dirs.loraOut}: is a PEFT adapter; give its base model with --model and the adapter with --adapter`);
    await expect(resolve(dirs.lora, dirs.loraOut)).rejects.toThrow(/--adapter .*: --model .* is a run directory, which carries its own adapters/);
    await expect(resolve(dirs.cotOut, dirs.mergedOut)).rejects.toThrow(`--adapter ${dirs.mergedOut}: not a PEFT adapter directory (no adapter_config.json)`);
    await expect(cli(scoreCommand, '--text', 'x')).rejects.toThrow('score: give --model DIR (a Hugging Face model directory or a run directory)');
    await expect(cli(evalCommand, '--model', dirs.mergedOut)).rejects.toThrow(/eval --data synthetic: the task's options live in a run directory's config/);
    await expect(cli(exportCommand, '--ckpt', dirs.mergedOut, '--out', join(root, 'x'))).rejects.toThrow(`--ckpt ${dirs.mergedOut}: a model directory, not a run directory; there is nothing to export`);
    await expect(cli(exportCommand, '--ckpt', dirs.cot, '--out', dirs.loraOut)).rejects.toThrow(`--out ${dirs.loraOut}: the directory is not empty; pass --overwrite to replace what it holds`);
    await expect(cli(exportCommand, '--ckpt', dirs.cot, '--out', dirs.cot, '--overwrite')).rejects.toThrow(`--out ${dirs.cot}: is the input ${dirs.cot}`);
    await expect(buildRunModel(cpu, resolveConfig('tiny', 'cot', [...small, `model.init_from=${JSON.stringify(empty)}`]), false)).rejects.toThrow(
      `model.init_from ${empty}: expected a run directory (run_config.json), a checkpoint (weights.safetensors), or a model or adapter directory written by export (config.json / adapter_config.json)`,
    );
    await expect(buildRunModel(cpu, resolveConfig('tiny', 'cot', [...small, `model.path=${JSON.stringify(dirs.loraOut)}`]), false)).rejects.toThrow(
      `model.path ${dirs.loraOut}: is a PEFT adapter; give its base model with model.path and the adapter with model.adapter`,
    );
    expect(() => parsePeftAdapterConfig({ r: 2, lora_alpha: 4, target_modules: ['q_proj'], use_dora: true }, 'a.json')).toThrow('a.json: field use_dora is true; only plain LoRA adapters are supported');
  });

  it('writes a merged model in its base\'s dtype (bfloat16 stays bfloat16)', async () => {
    const bf16 = join(root, 'bf16-base');
    const base = await loadModelDir(cpu, dirs.cotOut);
    await saveModelDir(base, bf16, join(dirs.cotOut, 'tokenizer.json'), JSON.parse(await readFile(join(dirs.cotOut, 'tokenizer_config.json'), 'utf8')), 'BF16');
    base.dispose();
    const runDir = join(root, 'bf16-lora');
    await savedRun(runDir, 'cot', [`model.path=${JSON.stringify(bf16)}`, 'lora.enabled=true', 'lora.r=2']);
    const out = join(root, 'bf16-merged');
    await exportRun(cpu, runDir, out, { merge: true, overwrite: false });
    expect((await readLlamaConfig(join(out, 'config.json'))).torchDtype).toBe('bfloat16');
    const f = await openSafetensors(join(out, 'model.safetensors'));
    expect(new Set(f.tensors.map((t) => t.dtype))).toEqual(new Set(['BF16']));
    await f.close();
  });

  it('--overwrite replaces an earlier export of another kind, leaving no stale files', async () => {
    const out = join(root, 'overwritten');
    await exportRun(cpu, dirs.lora, out, { merge: true, overwrite: false });
    await exportRun(cpu, dirs.tinyLora, out, { merge: false, overwrite: true });
    expect((await readdir(out)).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'base_model']);
  });
});

describe('export at Llama-3.2\'s vocabulary', () => {
  it('trains LoRA a step on a bf16 128,256-token model; the adapter and the f32 merge score as the run, the bf16 merge as PEFT\'s merge rounded to bf16', async () => {
    const base = join(root, 'vocab-base');
    const files = syntheticTokenizerFiles('digits');
    const config = parseLlamaConfig(
      toHF({
        vocabSize: 128_256, hiddenSize: 64, intermediateSize: 192, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 16,
        rmsNormEps: 1e-5, ropeTheta: 500_000, maxPositionEmbeddings: 2048, tieWordEmbeddings: true, eosTokenId: 1, padTokenId: 1, torchDtype: 'float32',
      }),
      'test',
    );
    const model = initLlama(cpu, config, new E.Rng(5));
    await saveModelDir(model, base, files.tokenizer, files.config, 'BF16');
    model.dispose();
    // short records: a step's cost is the LM head over 128,256 tokens, per position
    const data = join(root, 'short.json');
    await writeFile(data, JSON.stringify([{ question: '3+4', steps: ['3+4=7'], answer: '7' }, { question: '5*2', steps: ['5*2=10'], answer: '10' }]));
    const runDir = join(root, 'vocab-lora');
    const cfg = resolveConfig('tiny', 'cot', [
      `model.path=${JSON.stringify(base)}`, 'lora.enabled=true', 'lora.r=4', 'lora.alpha=8', `data.train=${JSON.stringify(data)}`, `data.val=${JSON.stringify(data)}`, 'train.batch_size=2',
      'train.epochs=1', 'train.val_samples=0', 'train.warmup_steps=0', 'train.lr=0.05', `out_dir=${JSON.stringify(runDir)}`,
    ]);
    const run = await buildRunModel(cpu, cfg, false);
    await writeRunFiles(runDir, cfg);
    expect((await train(cpu, cfg, run, await runDatasets(cfg), { resume: false, log: () => {} })).steps).toBe(1);
    expect(Math.max(...(await run.model.layers[0].q.lora!.B.data()).map(Math.abs))).toBeGreaterThan(0);
    run.model.dispose();

    const short = '3+4=7';
    const { run: trained } = await loadRun(cpu, runDir);
    const total = await score(trained.model, trained.tokenizer.encode(short));
    trained.model.dispose();
    const adapter = join(root, 'vocab-adapter');
    expect(await exportRun(cpu, runDir, adapter, { merge: false, overwrite: false })).toEqual({ kind: 'adapter', base, head: false });
    const scored = async (...model: string[]) => JSON.parse(await cli(scoreCommand, ...model, '--text', short, '--json')).total as number;
    expect(Math.abs((await scored('--model', base, '--adapter', adapter)) - total)).toBeLessThan(1e-4);
    await expect(exportRun(cpu, runDir, join(root, 'vocab-refused'), { merge: false, overwrite: false, dtype: 'F32' })).rejects.toThrow(`${runDir}: a LoRA run exports an adapter`);

    const exact = join(root, 'vocab-merged-f32');
    await cli(exportCommand, '--ckpt', runDir, '--out', exact, '--merge', '--dtype', 'f32');
    expect(await readLlamaConfig(join(exact, 'config.json'))).toMatchObject({ vocabSize: 128_256, torchDtype: 'float32' });
    expect(Math.abs((await scored('--model', exact)) - total)).toBeLessThan(1e-4);

    // the default keeps the base's bf16: each weight is the f32 merge rounded to nearest even
    const rounded = join(root, 'vocab-merged-bf16');
    await exportRun(cpu, runDir, rounded, { merge: true, overwrite: false });
    expect((await readLlamaConfig(join(rounded, 'config.json'))).torchDtype).toBe('bfloat16');
    const [f32File, bf16File] = [await openSafetensors(join(exact, 'model.safetensors')), await openSafetensors(join(rounded, 'model.safetensors'))];
    for (const t of bf16File.tensors) {
      const [got, want] = [await bf16File.readBf16Bits(t.name), toBf16Bits(await f32File.read(t.name))];
      expect([got.length, got.findIndex((bits, i) => bits !== want[i])]).toEqual([want.length, -1]);
    }
    await Promise.all([f32File.close(), bf16File.close()]);
    const peft = await peftMerged(base, adapter, (w) => bf16BitsToF32(toBf16Bits(w)));
    const predicted = await score(peft, trained.tokenizer.encode(short));
    peft.dispose();
    expect(Math.abs((await scored('--model', rounded)) - predicted)).toBeLessThan(1e-4);
  });
});

function expectNear(got: unknown[], want: unknown[]): void {
  const flat = (x: unknown[]) => (x as number[]).flat(3) as number[];
  const [a, b] = [flat(got), flat(want)];
  expect(a.length).toBe(b.length);
  expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeLessThan(1e-6);
}
