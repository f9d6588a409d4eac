// The page in a real browser: headless Chromium (WebGPU on its software adapter) loads an
// exported CoLaR model from an in-process `serve`, answers fixed questions greedily (the latent
// Gaussian's mean, argmax tokens), and must give the Node engine's answers, chain lengths,
// generated tokens and latent readings exactly, and its first log-probs within LOGPROB_TOLERANCE.
// A model over WebGPU's default buffer limit gets the one-line error on the page.
// Prints the adapter Chromium used and one JSON line with each question's time in the page and
// in Node (warm after the first, which compiles the kernels); saves a screenshot to a temporary
// directory, and to $COLAR_SCREENSHOT when set.
// COLAR_WEB_MODEL=DIR answers with an exported model of yours instead of the random one.
import { copyFile, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { saveCheckpoint } from '../../colar/checkpoint.js';
import { exportRun } from '../../colar/export.js';
import { writeModelDir } from '../../colar/llama/model_dir_write.js';
import { loadModel } from '../../colar/model_source.js';
import { buildRunModel, checkpointTensors, runTokenizer, writeRunFiles, type RunModel } from '../../colar/run.js';
import { resolveConfig } from '../../colar/train_config.js';
import { startWebServer, WEB_DIR, type WebServer } from '../../cli/serve.js';
import { answerExplicit, answerLatent, firstLogprobs, type AskOptions, type WayResult } from '../../web/answer.js';
import type { Answers, ColarHook } from '../../web/main.js';
import { cpu, seeded } from '../helpers/engines.js';

const CHROMIUM = '/usr/bin/chromium';
/**
 * |page − Node| for a log-prob, in nats. Two f32 software GPUs (SwiftShader, lavapipe) that sum
 * in different orders and whose exp and inverseSqrt differ within Vulkan's ULP allowances:
 * measured 1e-6 on the random test model, 2.7e-4 on a trained tiny CoLaR model.
 */
const LOGPROB_TOLERANCE = 1e-3;
const SCORED_TOKENS = 8;
const QUESTIONS: Array<{ question: string; options: AskOptions }> = [
  { question: 'Zoe has 89 apples. Now she has 8 times as many. She gives away 86. How many apples does Zoe have now?', options: { compression: 1, sample: false, seed: 0 } },
  { question: 'Tom has 58 coins. He gives away half of them. He buys 3 more. How many coins does Tom have now?', options: { compression: 3, sample: false, seed: 1 } },
  { question: 'Ann has 12 pens. Now she has 4 times as many. She loses 7. How many pens does Ann have now?', options: { compression: 5, sample: false, seed: 2 } },
];
const small = ['model.hidden_size=32', 'model.layers=2', 'model.heads=2', 'model.kv_heads=1', 'model.intermediate_size=48', 'colar.head_intermediate=16'];

declare const window: { colar: ColarHook };

let root: string;
let modelDir: string;
let browser: Browser;
let node: E.Engine;
let nodeRun: RunModel;
const servers: WebServer[] = [];

/** An exported CoLaR model with random weights large enough that no two logits nearly tie. */
async function randomColarModel(dir: string): Promise<void> {
  const runDir = join(root, 'run');
  const cfg = resolveConfig('tiny', 'colar', [...small, `out_dir=${JSON.stringify(runDir)}`]);
  const run = await buildRunModel(cpu, cfg, true);
  const random = seeded(11);
  for (const t of checkpointTensors(run, cfg).values()) t.assign(Array.from({ length: t.size }, () => 0.6 * (random() - 0.5)));
  await writeRunFiles(runDir, cfg);
  await saveCheckpoint(runDir, 'best', checkpointTensors(run, cfg), null, [], { step: 1, epoch: 1, batchInEpoch: 0, rng: new E.Rng(0).state(), bestMetric: null });
  run.model.dispose();
  await exportRun(cpu, runDir, dir, { merge: false, overwrite: false });
}

/**
 * A one-layer model whose embedding table (131072 × 520 f32, 260 MiB) exceeds WebGPU's default
 * 256 MiB buffer. Its weights are zeros: the page must refuse it from the file's header.
 */
async function oversizedModel(dir: string): Promise<void> {
  const { json, config: tokenizerConfig, tokenizer } = await runTokenizer(resolveConfig('tiny', 'cot', []));
  const [V, d, f] = [131072, 520, 16];
  const config = { vocabSize: V, hiddenSize: d, intermediateSize: f, numHiddenLayers: 1, numAttentionHeads: 2, numKeyValueHeads: 1, headDim: d / 2, rmsNormEps: 1e-5, ropeTheta: 10000, maxPositionEmbeddings: 256, tieWordEmbeddings: true, eosTokenId: tokenizer.vocabSize - 1, padTokenId: 0 };
  const shapes: Record<string, number[]> = {
    'model.embed_tokens.weight': [V, d], 'model.norm.weight': [d],
    'model.layers.0.input_layernorm.weight': [d], 'model.layers.0.post_attention_layernorm.weight': [d],
    'model.layers.0.self_attn.q_proj.weight': [d, d], 'model.layers.0.self_attn.k_proj.weight': [d / 2, d], 'model.layers.0.self_attn.v_proj.weight': [d / 2, d], 'model.layers.0.self_attn.o_proj.weight': [d, d],
    'model.layers.0.mlp.gate_proj.weight': [f, d], 'model.layers.0.mlp.up_proj.weight': [f, d], 'model.layers.0.mlp.down_proj.weight': [d, f],
  };
  const tensors = Object.entries(shapes).map(([name, shape]) => ({ name, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }));
  await writeModelDir(dir, { config, tensors, tokenizer: json, tokenizerConfig });
}

async function openPage(server: WebServer, query: string): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on('pageerror', (err) => console.error(`page error: ${err instanceof Error ? err.message : String(err)}`));
  await page.goto(`${server.url}${query}`);
  return page;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'colar-browser-'));
  modelDir = process.env.COLAR_WEB_MODEL ?? join(root, 'model');
  if (!process.env.COLAR_WEB_MODEL) await randomColarModel(modelDir);
  await oversizedModel(join(root, 'oversized'));
  node = await E.Engine.create({ backend: 'webgpu' });
  nodeRun = (await loadModel(node, { kind: 'hf', dir: modelDir, adapter: null })).run;
  servers.push(await startWebServer({ webDir: WEB_DIR, modelDir, port: 0 }), await startWebServer({ webDir: WEB_DIR, modelDir: join(root, 'oversized'), port: 0 }));
  browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu'] });
});

afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
  nodeRun?.model.dispose();
  await node?.close();
});

/** What both engines must agree on exactly: everything but the times. */
const decisions = (r: WayResult | { error: string }) => ('error' in r ? r : { answer: r.answer, chainLength: r.chainLength, generated: r.generated, latents: r.latents?.map((l) => l.nearest) });

describe('the page in headless Chromium', () => {
  it('answers as the Node engine does, on the GPU Chromium offers', async () => {
    const page = await openPage(servers[0], '?model=/model/');
    const adapter = await page.evaluate(() => window.colar.ready);
    console.log(`Chromium's WebGPU adapter: ${adapter}; Node's: ${node.backend.deviceName}`);
    await page.evaluate(() => window.colar.model);
    const timings: unknown[] = [];
    let worst = 0;
    for (const { question, options } of QUESTIONS) {
      const inPage: Answers = await page.evaluate((q, o) => window.colar.ask(q, o), question, options);
      const cot = await answerExplicit(nodeRun, question, 'cot', options);
      const colar = await answerLatent(nodeRun, question, options);
      const nocot = await answerExplicit(nodeRun, question, 'nocot', options);
      expect(decisions(inPage.cot), `CoT: ${question}`).toEqual(decisions(cot));
      expect(decisions(inPage.colar), `CoLaR c=${options.compression}: ${question}`).toEqual(decisions(colar));
      expect(decisions(inPage.nocot), `No-CoT: ${question}`).toEqual(decisions(nocot));
      for (const r of [cot, nocot]) {
        const pageLogprobs = await page.evaluate((q, g, n) => window.colar.firstLogprobs(q, g, n), question, r.generated!, SCORED_TOKENS);
        const nodeLogprobs = await firstLogprobs(nodeRun, question, r.generated!, SCORED_TOKENS);
        expect(pageLogprobs).toHaveLength(Math.min(SCORED_TOKENS, r.generated!.length));
        pageLogprobs.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - nodeLogprobs[i]))));
      }
      const ms = (a: { ms?: number }) => Math.round(a.ms ?? NaN);
      // the first question's times include compiling every kernel, in both engines
      timings.push({ question, warm: timings.length > 0, compression: options.compression, chain: { cot: cot.chainLength, colar: colar.chainLength }, page_ms: { cot: ms(inPage.cot), colar: ms(inPage.colar), nocot: ms(inPage.nocot) }, node_ms: { cot: ms(cot), colar: ms(colar), nocot: ms(nocot) } });
    }
    expect(worst).toBeLessThan(LOGPROB_TOLERANCE);
    const shots = await mkdtemp(join(tmpdir(), 'colar-page-'));
    const shot = join(shots, 'web-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.COLAR_SCREENSHOT) await copyFile(shot, process.env.COLAR_SCREENSHOT);
    console.log(JSON.stringify({ browser_adapter: adapter, node_device: node.backend.deviceName, max_logprob_diff: worst, logprob_tolerance: LOGPROB_TOLERANCE, screenshot: shot, questions: timings }));
    await page.close();
  });

  it('loads a model from files picked in the page, as from its URL', async () => {
    const page = await openPage(servers[0], '');
    const picker = (await page.$('#pick'))!;
    await picker.uploadFile(...(await readdir(modelDir)).map((name) => join(modelDir, name)));
    await page.waitForFunction(() => !(document.getElementById('go') as HTMLButtonElement).disabled || !document.getElementById('error')!.hidden);
    expect(await page.$eval('#error', (el) => ((el as HTMLElement).hidden ? null : el.textContent))).toBeNull();
    const { question, options } = QUESTIONS[1];
    const inPage: Answers = await page.evaluate((q, o) => window.colar.ask(q, o), question, options);
    expect(decisions(inPage.colar)).toEqual(decisions(await answerLatent(nodeRun, question, options)));
    await page.close();
  });

  it('says in one line on the page when a model exceeds the device limits', async () => {
    const page = await openPage(servers[1], '?model=/model/&limits=default');
    const message = await page.evaluate(() => window.colar.model.then(() => 'loaded', (err: Error) => err.message));
    expect(message).toMatch(/"model\.embed_tokens\.weight" is 260 MiB; this device holds at most 256 MiB per buffer \(maxBufferSize\)$/);
    expect(message).not.toContain('\n');
    expect(await page.$eval('#error', (el) => (el as HTMLElement).hidden ? null : el.textContent)).toBe(message);
    await page.close();
  });
});
