// A complete small byte-level tokenizer.json, as a from-scratch model would ship: all 256 byte
// symbols, a few merges (both merge spellings), a special and a non-special added token.

import { GPT2_PRETOKENIZER_PATTERN } from '../../colar/llama/tokenizer.js';

export function smallTokenizerJSON(): Record<string, any> {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const vocab: Record<string, number> = {};
  let extra = 256;
  for (let b = 0; b < 256; b++) vocab[String.fromCharCode(printable(b) ? b : extra++)] = b;
  const merges = [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['a', 'b'], ['ab', 'c']];
  for (const [l, r] of merges) vocab[l + r] = Object.keys(vocab).length;
  return {
    version: '1.0',
    added_tokens: [
      { id: 300, content: '<|bos|>', special: true, lstrip: false, rstrip: false, normalized: false, single_word: false },
      { id: 301, content: '<sep>', special: false, lstrip: true, rstrip: true, normalized: true, single_word: false },
    ],
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: GPT2_PRETOKENIZER_PATTERN }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', vocab, merges: merges.map((m, i) => (i % 2 ? m : m.join(' '))), ignore_merges: false },
  };
}
