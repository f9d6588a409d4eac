// Builds the project's small tokenizer for the synthetic tasks, in the same file format as
// Llama-3's tokenizer.json: byte-level BPE (all 256 byte symbols, so any text encodes), the
// Llama-3 pre-tokenizer regex, and merges that build each word and template piece of the tasks
// as one token. Numbers stay digit by digit (default: merges never join digits; docs/EXPERIMENTS.md:
// tiny models learn arithmetic far better that way) or, as an option, every 1–3 digit chunk the
// Llama-3 pre-tokenizer can cut is one token. Specials are added tokens after the vocabulary.

import { LLAMA3_PRETOKENIZER_PATTERN } from '../colar/llama/tokenizer.js';
import { answerText, questionPromptText, THINKING_SEPARATOR, withSpecialTokens, type PromptTokenizer } from './prompt.js';
import { arithmeticTemplateQuestions } from './synthetic.js';

export const NUMBER_TOKENS = ['digits', 'chunks'] as const;
export type NumberTokens = (typeof NUMBER_TOKENS)[number];

export const SPECIAL_TOKENS = {
  bos: '<|begin_of_text|>',
  endOfText: '<|end_of_text|>',
  eos: '<|eot_id|>',
  pad: '[PAD]',
} as const;

/** A tokenizer as prompts use it: the EOS and PAD its tokenizer_config.json names, else the project's. */
export function promptTokenizer(tokenizer: Pick<PromptTokenizer, 'encode' | 'tokenToId'>, config: Record<string, unknown>): PromptTokenizer {
  const name = (key: string, fallback: string) => (typeof config[key] === 'string' ? (config[key] as string) : fallback);
  return withSpecialTokens(tokenizer, { eos_token: name('eos_token', SPECIAL_TOKENS.eos), pad_token: name('pad_token', name('eos_token', SPECIAL_TOKENS.pad)) });
}

// The same pattern for JavaScript (no inline (?i:) groups); enough for the ASCII template texts.
const PRETOKENIZER = /'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

/** Punctuation runs of the tasks that should be one token; the pre-tokenizer glues them to their neighbours ("###<<", ">>\n", " )\n"). */
const PUNCTUATION_PIECES = [THINKING_SEPARATOR, '<<', '>>', ' *', ' +', ' (', ' )'];

/** GPT-2's byte-level alphabet: the printable character that stands for each byte, in GPT-2's vocabulary order. */
function byteLevelAlphabet(): { byteToChar: string[]; order: number[] } {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const byteToChar: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) byteToChar.push(String.fromCharCode(printable(b) ? b : next++));
  const bytes = Array.from({ length: 256 }, (_, b) => b);
  return { byteToChar, order: [...bytes.filter(printable), ...bytes.filter((b) => !printable(b))] };
}

const { byteToChar: BYTE_TO_CHAR, order: BYTE_ORDER } = byteLevelAlphabet();

/** A text piece as the byte-level symbols it starts from. */
export function byteLevelSymbols(text: string): string[] {
  return [...new TextEncoder().encode(text)].map((b) => BYTE_TO_CHAR[b]);
}

export function preTokenize(text: string): string[] {
  return text.match(PRETOKENIZER) ?? [];
}

/** BPE on one piece as HF applies it: merge the lowest-ranked adjacent pair, leftmost first, until none applies. */
function applyMerges(symbols: string[], ranks: Map<string, number>): string[] {
  const parts = [...symbols];
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < parts.length; i++) {
      const rank = ranks.get(`${parts[i]} ${parts[i + 1]}`);
      if (rank !== undefined && rank < bestRank) [best, bestRank] = [i, rank];
    }
    if (best < 0) return parts;
    parts.splice(best, 2, parts[best] + parts[best + 1]);
  }
}

/**
 * Merges that make each piece one token. A new merge ranks below every earlier one, so it
 * cannot change how an earlier piece encodes; each piece gets merges (first, second) of its
 * current encoding until it is whole.
 */
function mergesForPieces(pieces: string[]): string[] {
  const ranks = new Map<string, number>();
  const merges: string[] = [];
  for (const piece of pieces) {
    for (let parts = applyMerges(byteLevelSymbols(piece), ranks); parts.length > 1; parts = applyMerges(parts, ranks)) {
      const merge = `${parts[0]} ${parts[1]}`;
      ranks.set(merge, merges.length);
      merges.push(merge);
    }
  }
  return merges;
}

function numberChunks(): string[] {
  const chunks: string[] = [];
  for (const width of [2, 3]) for (let value = 0; value < 10 ** width; value++) chunks.push(String(value).padStart(width, '0'));
  return chunks;
}

/** Every pre-token chunk with a letter in it, once, in order of first appearance. */
function wordPieces(texts: string[]): string[] {
  const words = new Set<string>();
  for (const text of texts) for (const chunk of preTokenize(text)) if (/\p{L}/u.test(chunk)) words.add(chunk);
  return [...words];
}

export interface TokenizerFiles {
  /** The content of tokenizer.json. */
  tokenizer: Record<string, unknown>;
  /** The content of tokenizer_config.json: which added tokens are BOS, EOS and PAD. */
  config: Record<string, unknown>;
  /** Ids in use: byte symbols, merged tokens, added tokens. */
  vocabSize: number;
}

/** A byte-level BPE tokenizer.json whose single tokens include every word of `texts` and every extra piece. */
export function buildTokenizerFiles(texts: string[], extraPieces: string[], numbers: NumberTokens): TokenizerFiles {
  const pieces = [...extraPieces, ...wordPieces(texts), ...(numbers === 'chunks' ? numberChunks() : [])];
  const merges = mergesForPieces(pieces);
  const vocab: Record<string, number> = {};
  let nextId = 0;
  for (const b of BYTE_ORDER) vocab[BYTE_TO_CHAR[b]] = nextId++;
  for (const merge of merges) vocab[merge.replace(' ', '')] = nextId++;
  const addedTokens = [SPECIAL_TOKENS.bos, SPECIAL_TOKENS.endOfText, SPECIAL_TOKENS.eos, SPECIAL_TOKENS.pad].map((content) => ({
    id: nextId++,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: LLAMA3_PRETOKENIZER_PATTERN }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: true,
      vocab,
      merges,
    },
  };
  const config = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: SPECIAL_TOKENS.bos,
    eos_token: SPECIAL_TOKENS.eos,
    pad_token: SPECIAL_TOKENS.pad,
    add_bos_token: false,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
  };
  return { tokenizer, config, vocabSize: nextId };
}

/** Prompts and answers using every word the synthetic tasks can write, in context (a word after a space is another token). */
export function syntheticTaskTexts(): string[] {
  return [...arithmeticTemplateQuestions().map((question) => questionPromptText(question, 'auto')), answerText('1')];
}

/** The tokenizer for the built-in tasks (arithmetic word problems and multiplication). */
export function syntheticTokenizerFiles(numbers: NumberTokens = 'digits'): TokenizerFiles {
  return buildTokenizerFiles(syntheticTaskTexts(), PUNCTUATION_PIECES, numbers);
}
