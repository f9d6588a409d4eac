// The page: an exported model loaded onto the browser's GPU answers a question three ways side
// by side: CoT (its tokens as they are generated), CoLaR at the chosen compression (each latent
// as the tokens nearest it, its drift off the embedding table and p(stop)), and No-CoT, each
// with its time. `?model=URL` loads a model directory by URL; `?limits=default` asks for WebGPU's
// default limits (what every WebGPU device offers: will the model run anywhere?) instead of the
// adapter's largest.
// window.colar is the hook the browser test drives.

import { Engine, requestComputeDevice } from '../engine/index.js';
import { WANTED_FEATURES } from '../kernels/gpu.js';
import { loadModelFiles, type InferenceModel, type ModelFiles } from '../colar/model_files.js';
import { answerExplicit, answerLatent, firstLogprobs, type AskOptions, type LatentStep, type WayResult } from './answer.js';
import { pickedModelFiles, urlModelFiles } from './model_files.js';

export interface Answers {
  cot: WayResult;
  colar: WayResult | { error: string };
  nocot: WayResult;
}

export interface ColarHook {
  /** the adapter's name, once the device is open (rejects with the page's error line) */
  ready: Promise<string>;
  /** the model named by ?model=, loaded (rejects with the page's error line) */
  model: Promise<string>;
  /** types the question, sets the form, presses Answer, and returns what each way produced */
  ask(question: string, o: AskOptions): Promise<Answers>;
  firstLogprobs(question: string, generated: number[], n: number): Promise<number[]>;
}

declare global {
  interface Window {
    colar: ColarHook;
  }
}

const params = new URLSearchParams(location.search);
const byId = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const part = (way: string, cls: string) => byId(way).querySelector<HTMLElement>(`.${cls}`)!;
const els = {
  device: byId('device'),
  modelStatus: byId('model-status'),
  drop: byId('drop'),
  pick: byId<HTMLInputElement>('pick'),
  form: byId<HTMLFormElement>('ask'),
  question: byId<HTMLTextAreaElement>('question'),
  compression: byId<HTMLInputElement>('compression'),
  compressionValue: byId<HTMLOutputElement>('compression-value'),
  sample: byId<HTMLInputElement>('sample'),
  seed: byId<HTMLInputElement>('seed'),
  go: byId<HTMLButtonElement>('go'),
  error: byId('error'),
};

let run: InferenceModel | null = null;

function showError(err: unknown): string {
  const line = err instanceof Error ? err.message : String(err);
  els.error.textContent = line;
  els.error.hidden = false;
  return line;
}

/** Rejects with the line the page shows. */
async function shown<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw new Error(showError(err));
  }
}

async function openEngine(): Promise<{ engine: Engine; adapter: string }> {
  if (!navigator.gpu) throw new Error('this browser has no WebGPU (navigator.gpu): open the page in a recent Chrome or Edge, from 127.0.0.1 or https');
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('WebGPU found no adapter to run on');
  const device =
    params.get('limits') === 'default'
      ? await adapter.requestDevice({ requiredFeatures: WANTED_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[] })
      : await requestComputeDevice(adapter);
  device.lost.then((lost) => lost.reason !== 'destroyed' && showError(`the GPU device was lost: ${lost.message}`));
  const info = adapter.info;
  const name = info.description || [info.vendor, info.architecture].filter(Boolean).join(' ') || 'an unnamed adapter';
  const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
  els.device.textContent = `GPU: ${name} (largest buffer binding ${mib(device.limits.maxStorageBufferBindingSize)}, buffer ${mib(device.limits.maxBufferSize)})`;
  return { engine: await Engine.create({ device, adapterInfo: info }), adapter: name };
}

async function loadModel(engine: Engine, files: ModelFiles): Promise<string> {
  els.go.disabled = true;
  els.error.hidden = true;
  els.modelStatus.textContent = `Loading ${files.label}…`;
  run?.model.dispose();
  run = null;
  const loaded = await loadModelFiles(engine, files).then(
    (m) => m.run,
    (err: unknown) => {
      els.modelStatus.textContent = 'No model loaded.';
      throw err;
    },
  );
  run = loaded;
  const c = loaded.model.config;
  const status = `Model: ${files.label}: ${c.numHiddenLayers} layers, d = ${c.hiddenSize}, vocabulary ${c.vocabSize}, ${loaded.head ? 'with' : 'without'} a latent head`;
  els.modelStatus.textContent = status;
  els.go.disabled = false;
  return status;
}

function formOptions(): AskOptions {
  return { compression: Number(els.compression.value), sample: els.sample.checked, seed: Number(els.seed.value) || 0 };
}

function clearWays(compression: number): void {
  for (const way of ['cot', 'colar', 'nocot']) {
    part(way, 'answer').textContent = '…';
    part(way, 'meta').textContent = '';
  }
  part('cot', 'chain').replaceChildren();
  part('colar', 'chain').replaceChildren();
  part('colar', 'c').textContent = String(compression);
}

function showResult(r: WayResult): void {
  part(r.way, 'answer').textContent = r.answer.trim() || '(no answer)';
  const chain = r.way === 'nocot' ? '' : `#L ${r.chainLength} · `;
  part(r.way, 'meta').textContent = `${chain}${r.ms.toFixed(0)} ms`;
}

function latentItem(step: LatentStep): HTMLLIElement {
  const li = document.createElement('li');
  for (const text of step.nearest) li.append(Object.assign(document.createElement('code'), { textContent: JSON.stringify(text).slice(1, -1) }));
  li.append(Object.assign(document.createElement('span'), { className: 'stat', textContent: ` drift ${step.drift.toFixed(2)} · p(stop) ${step.pStop.toFixed(2)}` }));
  return li;
}

async function ask(question: string, o: AskOptions): Promise<Answers> {
  if (!run) throw new Error('load a model first');
  const model = run;
  els.go.disabled = true;
  els.error.hidden = true;
  clearWays(o.compression);
  try {
    const tokens = part('cot', 'chain');
    const cot = await answerExplicit(model, question, 'cot', o, (text) => tokens.append(Object.assign(document.createElement('span'), { textContent: text })));
    showResult(cot);
    let colar: WayResult | { error: string };
    try {
      colar = await answerLatent(model, question, o);
      part('colar', 'chain').replaceChildren(...colar.latents!.map(latentItem));
      showResult(colar);
    } catch (err) {
      if (model.head) throw err;
      colar = { error: err instanceof Error ? err.message : String(err) };
      part('colar', 'answer').textContent = colar.error;
    }
    const nocot = await answerExplicit(model, question, 'nocot', o);
    showResult(nocot);
    return { cot, colar, nocot };
  } finally {
    els.go.disabled = false;
  }
}

function wireForm(engine: Engine): void {
  els.compression.addEventListener('input', () => (els.compressionValue.value = els.compression.value));
  els.form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    ask(els.question.value, formOptions()).catch(showError);
  });
  const loadPicked = (files: FileList | null) => files?.length && loadModel(engine, pickedModelFiles([...files])).catch(showError);
  els.pick.addEventListener('change', () => loadPicked(els.pick.files));
  els.drop.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    els.drop.classList.add('over');
  });
  els.drop.addEventListener('dragleave', () => els.drop.classList.remove('over'));
  els.drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    els.drop.classList.remove('over');
    loadPicked(ev.dataTransfer?.files ?? null);
  });
}

const engine = shown(openEngine());
const modelUrl = params.get('model');
window.colar = {
  ready: engine.then((e) => e.adapter),
  model: engine.then((e) => (modelUrl ? shown(loadModel(e.engine, urlModelFiles(modelUrl))) : Promise.reject(new Error('no ?model= in the URL')))),
  ask: (question, o) => {
    els.question.value = question;
    els.compression.value = String(o.compression);
    els.compressionValue.value = String(o.compression);
    els.sample.checked = o.sample;
    els.seed.value = String(o.seed);
    return shown(ask(question, o));
  },
  firstLogprobs: (question, generated, n) => (run ? firstLogprobs(run, question, generated, n) : Promise.reject(new Error('load a model first'))),
};
engine.then((e) => wireForm(e.engine), () => {});
window.colar.model.catch(() => {});
