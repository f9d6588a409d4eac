// LoRA adapters on named linear layers, PEFT-compatible: the same target names, A
// Kaiming-uniform and B zero at init, scale alpha/r, and the PEFT tensor names on disk.

import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { makeDir, writeFileAtomic } from '../../io/files.js';
import { readJsonFile } from './node_files.js';
import { openSafetensors, writeSafetensors } from './safetensors.js';
import type { Linear } from './linear.js';
import type { Llama } from './model.js';

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  /** module names as PEFT spells them: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj */
  targetModules: string[];
  /** PEFT's use_rslora: scale alpha/√r instead of alpha/r */
  rslora?: boolean;
}

/** How much of B·A the layer adds, as PEFT scales it. */
export function loraScale(cfg: LoraConfig): number {
  return cfg.rslora ? cfg.alpha / Math.sqrt(cfg.r) : cfg.alpha / cfg.r;
}

/** PEFT's default for Llama. */
export const DEFAULT_LORA: LoraConfig = { r: 128, alpha: 32, dropout: 0, targetModules: ['q_proj', 'v_proj'] };

const MODULE_PATHS: Record<string, string> = {
  q_proj: 'self_attn.q_proj',
  k_proj: 'self_attn.k_proj',
  v_proj: 'self_attn.v_proj',
  o_proj: 'self_attn.o_proj',
  gate_proj: 'mlp.gate_proj',
  up_proj: 'mlp.up_proj',
  down_proj: 'mlp.down_proj',
};

/** Every targeted linear layer with its HF module path (model.layers.{i}.self_attn.q_proj). */
export function targetedLinears(model: Llama, modules: string[]): Array<[string, Linear]> {
  for (const m of modules) {
    if (!(m in MODULE_PATHS)) throw new Error(`lora: unknown target module ${m} (expected one of ${Object.keys(MODULE_PATHS).join(', ')})`);
  }
  const out: Array<[string, Linear]> = [];
  model.layers.forEach((l, i) => {
    const byName: Record<string, Linear> = { q_proj: l.q, k_proj: l.k, v_proj: l.v, o_proj: l.o, gate_proj: l.gate, up_proj: l.up, down_proj: l.down };
    for (const m of modules) out.push([`model.layers.${i}.${MODULE_PATHS[m]}`, byName[m]]);
  });
  return out;
}

/** Adds fresh adapters (B = 0, so the model's function is unchanged) and freezes the base. */
export function applyLora(model: Llama, cfg: LoraConfig, rng: E.Rng): void {
  if (!Number.isInteger(cfg.r) || cfg.r < 1) throw new Error(`lora: r must be a positive integer, got ${cfg.r}`);
  if (!(cfg.dropout >= 0 && cfg.dropout < 1)) throw new Error(`lora: dropout must be in [0, 1), got ${cfg.dropout}`);
  for (const t of model.namedParameters().values()) t.requiresGrad = false;
  const e = model.engine;
  for (const [, lin] of targetedLinears(model, cfg.targetModules)) {
    // torch's kaiming_uniform_(a=√5), PEFT's choice, is U(±1/√fan_in)
    const bound = 1 / Math.sqrt(lin.inFeatures);
    const A = e.parameter(E.noGrad(() => E.addScalar(E.scale(rng.uniform(e, [cfg.r, lin.inFeatures]), 2 * bound), -bound)));
    const B = e.parameter(e.zeros([lin.outFeatures, cfg.r]));
    lin.lora = { A, B, scale: loraScale(cfg), dropout: cfg.dropout };
  }
}

/** Adapter tensors under their PEFT names (base_model.model.<module>.lora_A.weight). */
export function loraParameters(model: Llama, modules: string[]): Map<string, E.Tensor> {
  const m = new Map<string, E.Tensor>();
  for (const [path, lin] of targetedLinears(model, modules)) {
    if (!lin.lora) continue;
    m.set(`base_model.model.${path}.lora_A.weight`, lin.lora.A);
    m.set(`base_model.model.${path}.lora_B.weight`, lin.lora.B);
  }
  return m;
}

/** adapter_config.json as PEFT (0.10 and later) writes it for a plain LoRA adapter. */
export function peftAdapterConfig(cfg: LoraConfig, baseModel: string): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: cfg.alpha,
    lora_dropout: cfg.dropout,
    modules_to_save: null,
    peft_type: 'LORA',
    r: cfg.r,
    rank_pattern: {},
    revision: null,
    target_modules: cfg.targetModules,
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: cfg.rslora ?? false,
  };
}

/** Reads a PEFT LoRA config, refusing the variants this model does not implement rather than ignoring them. */
export function parsePeftAdapterConfig(json: Record<string, unknown>, source: string): LoraConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${source}: expected a JSON object at the top level`);
  const num = (key: string, fallback?: number): number => {
    const v = json[key] ?? fallback;
    if (typeof v !== 'number') throw new Error(`${source}: field ${key} must be a number`);
    return v;
  };
  const unsupported = (key: string, why: string) => new Error(`${source}: field ${key} ${why}; only plain LoRA adapters are supported`);
  if ((json.peft_type ?? 'LORA') !== 'LORA') throw unsupported('peft_type', `is ${JSON.stringify(json.peft_type)}`);
  if ((json.bias ?? 'none') !== 'none') throw unsupported('bias', `is ${JSON.stringify(json.bias)}`);
  for (const key of ['use_dora', 'fan_in_fan_out']) if (json[key]) throw unsupported(key, 'is true');
  for (const key of ['rank_pattern', 'alpha_pattern']) if (json[key] && Object.keys(json[key] as object).length > 0) throw unsupported(key, 'sets per-layer values');
  for (const key of ['layers_to_transform', 'modules_to_save']) if (json[key] !== undefined && json[key] !== null) throw unsupported(key, 'is set');
  const targets = json.target_modules;
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === 'string')) throw new Error(`${source}: field target_modules must be a list of module names`);
  const cfg: LoraConfig = { r: num('r'), alpha: num('lora_alpha'), dropout: num('lora_dropout', 0), targetModules: targets as string[] };
  if (json.use_rslora) cfg.rslora = true;
  return cfg;
}

/** Folds every adapter into its base weight (for export as a plain model). */
export function mergeLora(model: Llama): void {
  for (const l of model.layers) for (const lin of [l.q, l.k, l.v, l.o, l.gate, l.up, l.down]) lin.mergeLora();
}

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

/** Writes adapter_config.json and adapter_model.safetensors as PEFT does. */
export async function saveLora(model: Llama, cfg: LoraConfig, dir: string, baseModel: string): Promise<void> {
  await makeDir(dir);
  const tensors = [...loraParameters(model, cfg.targetModules)].map(([name, t]) => ({
    name,
    shape: [...t.shape],
    data: () => t.float32(),
  }));
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), tensors, { format: 'pt' });
  await writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), JSON.stringify(peftAdapterConfig(cfg, baseModel), null, 2) + '\n');
}

/** Adds the adapter saved in a PEFT directory to the model (base frozen). */
export async function loadLora(model: Llama, dir: string): Promise<LoraConfig> {
  const configFile = join(dir, ADAPTER_CONFIG_FILE);
  const cfg = parsePeftAdapterConfig((await readJsonFile(configFile)) as Record<string, unknown>, configFile);
  applyLora(model, cfg, new E.Rng(0));
  const file = await openSafetensors(join(dir, ADAPTER_WEIGHTS_FILE));
  try {
    for (const [name, t] of loraParameters(model, cfg.targetModules)) {
      const info = file.info(name);
      if (!info) throw new Error(`${join(dir, ADAPTER_WEIGHTS_FILE)}: tensor ${name} is missing`);
      if (info.shape.join() !== t.shape.join()) throw new Error(`${join(dir, ADAPTER_WEIGHTS_FILE)}: tensor ${name} has shape [${info.shape}], expected [${t.shape}]`);
      t.assign(await file.read(name));
    }
  } finally {
    await file.close();
  }
  return cfg;
}
