// The Node edge of model files: a directory as a ModelFiles source (tensors stream through file
// handles), and reading single JSON, config and tokenizer files by path.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as E from '../../engine/index.js';
import { withFileError } from '../../io/files.js';
import { oneLine } from '../../io/one_line.js';
import { type GenerationConfig, type LlamaConfig, parseGenerationConfig, parseLlamaConfig } from './config.js';
import { loadLlama, type LoadModelOptions } from './load.js';
import type { Llama } from './model.js';
import { ModelDir } from './model_dir.js';
import { type ModelFiles, parseJson } from './model_files.js';
import { fileSource } from './safetensors.js';
import { Tokenizer } from './tokenizer.js';

const isMissing = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';

/** A directory's files; a missing file reads as null, any other failure names the file. */
export function dirFiles(dir: string): ModelFiles {
  const file = (name: string) => path.join(dir, name);
  return {
    label: dir,
    read: (name) => withFileError('read', file(name), () => readFile(file(name)).catch((e) => (isMissing(e) ? null : Promise.reject(e)))),
    open: (name) => withFileError('read', file(name), () => fileSource(file(name)).catch((e) => (isMissing(e) ? null : Promise.reject(e)))),
  };
}

/** A model directory on disk (see model_dir.ts). */
export function openModelDir(dir: string): Promise<ModelDir> {
  return ModelDir.open(dirFiles(dir));
}

/** The model of a directory on disk, on the engine's device. */
export async function loadModelDir(engine: E.Engine, dir: string, options: LoadModelOptions = {}): Promise<Llama> {
  return loadLlama(engine, await openModelDir(dir), options);
}

/** Reads and parses a JSON file; errors name the file. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read: ${(e as Error).message}`);
  }
  return parseJson(text, file);
}

export async function readLlamaConfig(file: string): Promise<LlamaConfig> {
  return parseLlamaConfig(await readJsonFile(file), file);
}

export async function readGenerationConfig(file: string): Promise<GenerationConfig> {
  return parseGenerationConfig(await readJsonFile(file), file);
}

/** A tokenizer.json on disk. */
export async function readTokenizerFile(file: string): Promise<Tokenizer> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: cannot read tokenizer JSON: ${oneLine((e as Error).message)}`);
  }
  return Tokenizer.fromJSON(json, file);
}
