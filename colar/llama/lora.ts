// LoRA adapters on named linear layers, PEFT-compatible: the same target names, A
// Kaiming-uniform and B zero at init, scale alpha/r, and the PEFT tensor names on disk.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as E from '../../engine/index.js';
import { writeFileAtomic } from '../../io/files.js';
import { SafetensorsFile, writeSafetensors } from './safetensors.js';
import type { Linear } from './linear.js';
import type { Llama } from './model.js';

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  /** module names as PEFT spells them: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj */
  targetModules: string[];
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
    lin.lora = { A, B, scale: cfg.alpha / cfg.r, dropout: cfg.dropout };
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

/** adapter_config.json as PEFT writes it (the fields PEFT needs to load the adapter). */
export function peftAdapterConfig(cfg: LoraConfig, baseModel: string): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: cfg.r,
    lora_alpha: cfg.alpha,
    lora_dropout: cfg.dropout,
    target_modules: cfg.targetModules,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    modules_to_save: null,
  };
}

export function parsePeftAdapterConfig(json: Record<string, unknown>, source: string): LoraConfig {
  const num = (key: string, fallback?: number): number => {
    const v = json[key] ?? fallback;
    if (typeof v !== 'number') throw new Error(`${source}: field ${key} must be a number`);
    return v;
  };
  const targets = json.target_modules;
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === 'string')) throw new Error(`${source}: field target_modules must be a list of module names`);
  return { r: num('r'), alpha: num('lora_alpha'), dropout: num('lora_dropout', 0), targetModules: targets as string[] };
}

/** Folds every adapter into its base weight (for export as a plain model). */
export function mergeLora(model: Llama): void {
  for (const l of model.layers) for (const lin of [l.q, l.k, l.v, l.o, l.gate, l.up, l.down]) lin.mergeLora();
}

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

/** Writes adapter_config.json and adapter_model.safetensors as PEFT does. */
export async function saveLora(model: Llama, cfg: LoraConfig, dir: string, baseModel: string): Promise<void> {
  const tensors = [...loraParameters(model, cfg.targetModules)].map(([name, t]) => ({
    name,
    shape: [...t.shape],
    data: () => t.float32(),
  }));
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), tensors, { format: 'pt' });
  await writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), JSON.stringify(peftAdapterConfig(cfg, baseModel), null, 2));
}

/** Adds the adapter saved in a PEFT directory to the model (base frozen). */
export async function loadLora(model: Llama, dir: string): Promise<LoraConfig> {
  const configFile = join(dir, ADAPTER_CONFIG_FILE);
  const cfg = parsePeftAdapterConfig(JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>, configFile);
  applyLora(model, cfg, new E.Rng(0));
  const file = await SafetensorsFile.open(join(dir, ADAPTER_WEIGHTS_FILE));
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
