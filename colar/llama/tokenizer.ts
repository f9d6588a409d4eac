// Byte-level BPE tokenizer read from a Hugging Face tokenizer.json (the Llama-3 kind: a Split
// pre-tokenizer with a regex, then ByteLevel; a BPE model with vocab and merges; added tokens).
//
// encode: split out added tokens (leftmost-longest, as HF does) → split the rest with the
// pre-tokenizer regex → map each piece's UTF-8 bytes to GPT-2's printable characters → BPE merges
// (lowest rank first, leftmost on ties, as HF does) → ids. Pieces are cached, so text that repeats
// words costs one Map lookup per word. decode: ids → token strings → bytes → UTF-8.

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
}

// Words longer than this are merged every time rather than cached, so a huge unbroken run of
// letters cannot pin memory.
const MAX_CACHED_WORD_LENGTH = 256;
const MAX_CACHE_ENTRIES = 200_000;
// Ids index dense tables, so they must be modest; real vocabularies stay far below this.
const MAX_TOKEN_ID = (1 << 24) - 1;

/**
 * GPT-2's reversible map from the 256 byte values to printable characters: printable Latin-1
 * bytes stand for themselves, the others (controls, space, soft hyphen…) take code points 256+.
 */
function byteLevelAlphabet(): string[] {
  const chars = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars[b] = String.fromCharCode(printable ? b : next++);
  }
  return chars;
}

/** Llama-3's pre-tokenizer pattern, as its tokenizer.json writes it (the project's synthetic tokenizer uses it too). */
export const LLAMA3_PRETOKENIZER_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** GPT-2's pattern (what ByteLevel splits with by default), written as a Split. */
export const GPT2_PRETOKENIZER_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// Only these run: a pattern read from a file could backtrack for ever on crafted text ("(a+)+$").
const KNOWN_PRETOKENIZER_PATTERNS = new Map([
  [LLAMA3_PRETOKENIZER_PATTERN, "Llama-3's"],
  [GPT2_PRETOKENIZER_PATTERN, "GPT-2's"],
]);

const BYTE_TO_CHAR = byteLevelAlphabet();
const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));
const UTF8 = new TextEncoder();

/**
 * Translates a pre-tokenizer regex written for Oniguruma/Rust (what HF tokenizers and tiktoken
 * run) into an equivalent JavaScript `u` regex: `(?i:…)` groups become explicit case classes
 * (JS in Node 20 has no inline flags), and `\s`/`\S` become White_Space property classes because
 * JS's `\s` differs from theirs (JS adds U+FEFF and omits U+0085).
 */
export function translatePreTokenizerRegex(pattern: string): string {
  // Simple case folding for ASCII letters: only s and k have a third, non-ASCII member.
  const caseClass = (c: string): string => {
    const lower = c.toLowerCase();
    const extra = lower === 's' ? '\u017f' : lower === 'k' ? '\u212a' : '';
    return `[${lower}${c.toUpperCase()}${extra}]`;
  };
  const groups: boolean[] = []; // per open group: is it case-insensitive
  let insideClass = false;
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    const caseInsensitive = groups.includes(true);
    if (c === '\\') {
      const e = pattern[i + 1];
      if (e === undefined) throw new Error('pattern ends with a lone backslash');
      i++;
      if (e === 's') out += '\\p{White_Space}';
      else if (e === 'S') out += '\\P{White_Space}';
      else if (e === 'd') out += '\\p{Nd}';
      else if (e === 'p' || e === 'P') {
        const close = pattern.indexOf('}', i);
        if (pattern[i + 1] !== '{' || close < 0) throw new Error(`malformed \\${e} at offset ${i - 1}`);
        out += pattern.slice(i - 1, close + 1);
        i = close;
      } else if ('rntfv0'.includes(e)) out += '\\' + e;
      else if (/[A-Za-z0-9]/.test(e)) throw new Error(`unsupported escape \\${e}`);
      // JS `u` regexes reject identity escapes of characters that are not regex syntax.
      else out += '^$\\.*+?()[]{}|/'.includes(e) || (insideClass && e === '-') ? '\\' + e : e;
    } else if (insideClass) {
      if (c === ']') insideClass = false;
      out += c;
    } else if (c === '[') {
      if (caseInsensitive) throw new Error('character classes inside (?i:…) are not supported');
      insideClass = true;
      out += c;
    } else if (c === '(') {
      if (pattern.startsWith('(?i:', i)) {
        groups.push(true);
        out += '(?:';
        i += 3;
      } else if (pattern.startsWith('(?', i) && !/^\(\?(?::|=|!|<=|<!)/.test(pattern.slice(i, i + 4))) {
        throw new Error(`unsupported group ${pattern.slice(i, i + 4)}…`);
      } else {
        groups.push(false);
        out += c;
      }
    } else if (c === ')') {
      if (groups.pop() === undefined) throw new Error('unbalanced )');
      out += c;
    } else if (caseInsensitive && /[A-Za-z]/.test(c)) {
      out += caseClass(c);
    } else {
      out += c;
    }
  }
  if (groups.length > 0) throw new Error('unbalanced (');
  return out;
}

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** Small checker for the parsed JSON: every failure names the file and the field. */
class JsonReader {
  constructor(private readonly source: string) {}
  fail(field: string, problem: string): never {
    throw new Error(`${this.source}: ${field}: ${problem}`);
  }
  object(value: unknown, field: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(field, `expected an object, got ${describe(value)}`);
    return value as Record<string, unknown>;
  }
  array(value: unknown, field: string): unknown[] {
    if (!Array.isArray(value)) this.fail(field, `expected an array, got ${describe(value)}`);
    return value;
  }
  string(value: unknown, field: string): string {
    if (typeof value !== 'string') this.fail(field, `expected a string, got ${describe(value)}`);
    return value;
  }
  id(value: unknown, field: string): number {
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > MAX_TOKEN_ID) this.fail(field, `expected an integer id in [0, ${MAX_TOKEN_ID}], got ${describe(value)}`);
    return value as number;
  }
  flag(value: unknown, field: string, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') this.fail(field, `expected true or false, got ${describe(value)}`);
    return value;
  }
  /** Fields we do not implement must be absent or hold their neutral value. */
  neutral(obj: Record<string, unknown>, key: string, field: string, allowed: unknown[]): void {
    if (key in obj && !allowed.includes(obj[key])) this.fail(`${field}.${key}`, `unsupported value ${describe(obj[key])} (supported: ${allowed.map(describe).join(', ')})`);
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? text.slice(0, 57) + '...' : text;
}

export class Tokenizer {
  readonly vocabSize: number;
  private readonly vocab: Map<string, number>; // the BPE model's own tokens
  private readonly addedByContent: Map<string, AddedToken>;
  private readonly idToTokenTable: (string | undefined)[];
  private readonly specialIds: Uint8Array;
  private readonly byteIds: Int32Array; // id of each single-byte symbol
  private readonly merges: MergeTable;
  private readonly ignoreMerges: boolean;
  private readonly preTokenizer: RegExp;
  /** Added-token splitting passes, in HF order: tokens matched on raw text, then on normalized text. */
  private readonly addedTokenPasses: AddedTokenPass[];
  private readonly wordCache = new Map<string, number[]>();
  private tokenBytes: (Uint8Array | undefined)[] | undefined;

  private constructor(fields: {
    vocab: Map<string, number>;
    added: AddedToken[];
    merges: MergeTable;
    ignoreMerges: boolean;
    preTokenizer: RegExp;
    vocabSize: number;
    byteIds: Int32Array;
  }) {
    this.vocab = fields.vocab;
    this.merges = fields.merges;
    this.ignoreMerges = fields.ignoreMerges;
    this.preTokenizer = fields.preTokenizer;
    this.vocabSize = fields.vocabSize;
    this.byteIds = fields.byteIds;
    this.idToTokenTable = new Array(this.vocabSize);
    for (const [token, id] of this.vocab) this.idToTokenTable[id] = token;
    this.specialIds = new Uint8Array(this.vocabSize);
    this.addedByContent = new Map();
    for (const t of fields.added) {
      this.idToTokenTable[t.id] = t.content;
      this.specialIds[t.id] = t.special ? 1 : 0;
      this.addedByContent.set(t.content, t);
    }
    this.addedTokenPasses = [false, true]
      .map((normalized) => fields.added.filter((t) => t.normalized === normalized))
      .filter((tokens) => tokens.length > 0)
      // Longest first, so that the leftmost match of the alternation is also the longest.
      .map((tokens) => tokens.sort((a, b) => b.content.length - a.content.length))
      .map(addedTokenPass);
  }

  /** Builds a tokenizer from a parsed tokenizer.json; `source` names the file in errors. */
  static fromJSON(json: unknown, source = 'tokenizer.json'): Tokenizer {
    const r: JsonReader = new JsonReader(source);
    const root = r.object(json, '(top level)');
    if (root.normalizer !== null && root.normalizer !== undefined) r.fail('normalizer', `unsupported ${describe(root.normalizer)} (only null)`);
    const preTokenizer = parsePreTokenizer(r, root.pre_tokenizer);
    const decoder = r.object(root.decoder, 'decoder');
    if (decoder.type !== 'ByteLevel') r.fail('decoder.type', `unsupported ${describe(decoder.type)} (only "ByteLevel")`);

    const model = r.object(root.model, 'model');
    if (model.type !== 'BPE') r.fail('model.type', `unsupported ${describe(model.type)} (only "BPE")`);
    r.neutral(model, 'dropout', 'model', [null, 0]);
    r.neutral(model, 'continuing_subword_prefix', 'model', [null, '']);
    r.neutral(model, 'end_of_word_suffix', 'model', [null, '']);
    r.neutral(model, 'byte_fallback', 'model', [false]);
    const ignoreMerges = r.flag(model.ignore_merges, 'model.ignore_merges', false);

    // Field names are built only on failure: these loops run over ~10^5 entries.
    const vocab = new Map<string, number>();
    const seenIds = new Map<number, string>();
    const vocabObject = r.object(model.vocab, 'model.vocab');
    for (const token in vocabObject) {
      const id = vocabObject[token];
      const field = () => `model.vocab[${JSON.stringify(token)}]`;
      if (!Number.isInteger(id) || (id as number) < 0 || (id as number) > MAX_TOKEN_ID) r.fail(field(), `expected an integer id in [0, ${MAX_TOKEN_ID}], got ${describe(id)}`);
      const clash = seenIds.get(id as number);
      if (clash !== undefined) r.fail(field(), `id ${id} is also used by ${JSON.stringify(clash)}`);
      seenIds.set(id as number, token);
      vocab.set(token, id as number);
    }
    const byteIds = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      const id = vocab.get(BYTE_TO_CHAR[b]);
      if (id === undefined) r.fail('model.vocab', `byte 0x${b.toString(16).padStart(2, '0')} (symbol ${JSON.stringify(BYTE_TO_CHAR[b])}) is missing; a byte-level vocab needs all 256`);
      byteIds[b] = id;
    }

    const added: AddedToken[] = [];
    const addedTokens = root.added_tokens === undefined ? [] : r.array(root.added_tokens, 'added_tokens');
    addedTokens.forEach((value, i) => {
      const field = `added_tokens[${i}]`;
      const t = r.object(value, field);
      const content = r.string(t.content, `${field}.content`);
      if (content === '') r.fail(`${field}.content`, 'must not be empty');
      if (r.flag(t.single_word, `${field}.single_word`, false)) r.fail(`${field}.single_word`, 'unsupported value true');
      added.push({
        id: r.id(t.id, `${field}.id`),
        content,
        special: r.flag(t.special, `${field}.special`, false),
        lstrip: r.flag(t.lstrip, `${field}.lstrip`, false),
        rstrip: r.flag(t.rstrip, `${field}.rstrip`, false),
        normalized: r.flag(t.normalized, `${field}.normalized`, true),
      });
    });
    let vocabSize = 0;
    for (const id of seenIds.keys()) vocabSize = Math.max(vocabSize, id + 1);
    for (const t of added) vocabSize = Math.max(vocabSize, t.id + 1);

    const mergeList = r.array(model.merges, 'model.merges');
    const merges = new MergeTable(mergeList.length);
    for (let rank = 0; rank < mergeList.length; rank++) {
      const entry = mergeList[rank];
      const field = () => `model.merges[${rank}]`;
      let left: unknown, right: unknown;
      if (typeof entry === 'string') {
        const space = entry.indexOf(' ');
        if (space < 0 || entry.indexOf(' ', space + 1) >= 0) r.fail(field(), `expected "left right" with one space, got ${describe(entry)}`);
        left = entry.slice(0, space);
        right = entry.slice(space + 1);
      } else {
        if (!Array.isArray(entry) || entry.length !== 2) r.fail(field(), `expected "left right" or [left, right], got ${describe(entry)}`);
        [left, right] = entry;
        if (typeof left !== 'string' || typeof right !== 'string') r.fail(field(), `expected two strings, got ${describe(entry)}`);
      }
      const leftId = vocab.get(left as string);
      const rightId = vocab.get(right as string);
      const mergedId = vocab.get((left as string) + (right as string));
      if (leftId === undefined || rightId === undefined || mergedId === undefined) {
        const missing = leftId === undefined ? left : rightId === undefined ? right : (left as string) + (right as string);
        r.fail(field(), `token ${JSON.stringify(missing)} is not in model.vocab`);
      }
      // A repeated pair keeps its last rank, as HF's map construction does.
      merges.set(leftId, rightId, rank, mergedId);
    }

    return new Tokenizer({ vocab, added, merges, ignoreMerges, preTokenizer, vocabSize, byteIds });
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token)?.id ?? this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.idToTokenTable[id];
  }

  isSpecial(id: number): boolean {
    return this.specialIds[id] === 1;
  }

  /**
   * Token ids of `text`, without BOS; added and special tokens written in the text are recognised.
   * A lone UTF-16 surrogate (not valid Unicode text) is encoded as U+FFFD.
   */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const segment of this.splitAddedTokens(text)) {
      if (typeof segment === 'number') ids.push(segment);
      else this.encodeOrdinaryText(segment, ids);
    }
    return ids;
  }

  decode(ids: number[], opts: DecodeOptions = {}): string {
    const table = (this.tokenBytes ??= this.buildTokenBytes());
    const parts: Uint8Array[] = [];
    let length = 0;
    for (const id of ids) {
      const bytes = table[id];
      if (bytes === undefined) throw new RangeError(`decode: token id ${id} is not in the vocabulary (size ${this.vocabSize})`);
      if (opts.skipSpecialTokens && this.specialIds[id] === 1) continue;
      parts.push(bytes);
      length += bytes.length;
    }
    const all = new Uint8Array(length);
    let offset = 0;
    for (const p of parts) {
      all.set(p, offset);
      offset += p.length;
    }
    // Invalid UTF-8 (a multi-byte character cut between tokens) becomes U+FFFD, as in HF; a
    // leading U+FEFF is text, not a byte-order mark.
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(all);
  }

  /** Text and added-token ids, in order; HF matches raw-text added tokens first, then normalized ones. */
  private splitAddedTokens(text: string): (string | number)[] {
    let segments: (string | number)[] = [text];
    for (const pass of this.addedTokenPasses) {
      const next: (string | number)[] = [];
      for (const segment of segments) {
        if (typeof segment === 'number') {
          next.push(segment);
          continue;
        }
        let last = 0;
        // Try the full alternation only where a token can start: far cheaper than scanning with it.
        pass.starts.lastIndex = 0;
        for (let start = pass.starts.exec(segment); start !== null; start = pass.starts.exec(segment)) {
          pass.tokenAt.lastIndex = start.index;
          const m = pass.tokenAt.exec(segment);
          if (m === null) continue;
          if (m.index > last) next.push(segment.slice(last, m.index));
          // Group k+1 holds the content of pass.tokens[k]; whitespace around it was stripped.
          const k = m.findIndex((g, i) => i > 0 && g !== undefined) - 1;
          next.push(pass.tokens[k].id);
          last = pass.starts.lastIndex = m.index + m[0].length;
        }
        if (last < segment.length) next.push(segment.slice(last));
      }
      segments = next;
    }
    return segments;
  }

  private encodeOrdinaryText(text: string, ids: number[]): void {
    // Split with behavior "Isolated": both the matches and any text between them are pieces.
    let last = 0;
    for (const m of text.matchAll(this.preTokenizer)) {
      if (m.index > last) this.encodeWord(text.slice(last, m.index), ids);
      if (m[0].length > 0) this.encodeWord(m[0], ids);
      last = m.index + m[0].length;
    }
    if (last < text.length) this.encodeWord(text.slice(last), ids);
  }

  private encodeWord(word: string, ids: number[]): void {
    const cached = this.wordCache.get(word);
    if (cached !== undefined) {
      for (const id of cached) ids.push(id);
      return;
    }
    const bytes = UTF8.encode(word);
    let result: number[] | undefined;
    if (this.ignoreMerges) {
      // Llama-3 sets ignore_merges: a piece that is itself a token is taken whole.
      let symbols = '';
      for (const b of bytes) symbols += BYTE_TO_CHAR[b];
      const id = this.vocab.get(symbols);
      if (id !== undefined) result = [id];
    }
    result ??= this.mergeBytes(bytes);
    if (word.length <= MAX_CACHED_WORD_LENGTH) {
      if (this.wordCache.size >= MAX_CACHE_ENTRIES) this.wordCache.clear();
      this.wordCache.set(word, result);
    }
    for (const id of result) ids.push(id);
  }

  /**
   * BPE on one piece: repeatedly merge the adjacent pair with the lowest merge rank, the leftmost
   * one on ties. A min-heap of (rank, position) candidates and a linked list of symbols keep this
   * O(n log n); stale candidates are skipped when popped.
   */
  private mergeBytes(bytes: Uint8Array): number[] {
    const n = bytes.length;
    const symbol = new Int32Array(n);
    for (let i = 0; i < n; i++) symbol[i] = this.byteIds[bytes[i]];
    if (n < 2) return Array.from(symbol);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const merges = this.merges;
    const heap = new MinHeap();
    const consider = (pos: number): void => {
      const right = next[pos];
      if (right < 0) return;
      const slot = merges.find(symbol[pos], symbol[right]);
      if (slot >= 0) heap.push(merges.rank[slot] * n + pos);
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    while (heap.size > 0) {
      const key = heap.pop();
      const rank = Math.floor(key / n);
      const pos = key - rank * n;
      const right = next[pos];
      if (symbol[pos] < 0 || right < 0) continue;
      const slot = merges.find(symbol[pos], symbol[right]);
      if (slot < 0 || merges.rank[slot] !== rank) continue; // the pair changed since
      symbol[pos] = merges.merged[slot];
      symbol[right] = -1;
      next[pos] = next[right];
      if (next[pos] >= 0) prev[next[pos]] = pos;
      if (prev[pos] >= 0) consider(prev[pos]);
      consider(pos);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(symbol[i]);
    return out;
  }

  /** Bytes each id decodes to, as HF's ByteLevel decoder: a token made only of byte symbols is those bytes, anything else its own UTF-8. */
  private buildTokenBytes(): (Uint8Array | undefined)[] {
    return this.idToTokenTable.map((token) => {
      if (token === undefined) return undefined;
      const bytes = new Uint8Array(token.length);
      for (let i = 0; i < token.length; i++) {
        const b = CHAR_TO_BYTE.get(token[i]);
        if (b === undefined) return UTF8.encode(token);
        bytes[i] = b;
      }
      return bytes;
    });
  }
}

function parsePreTokenizer(r: JsonReader, value: unknown): RegExp {
  const pre = r.object(value, 'pre_tokenizer');
  if (pre.type !== 'Sequence') r.fail('pre_tokenizer.type', `unsupported ${describe(pre.type)} (only "Sequence" of Split and ByteLevel)`);
  const steps = r.array(pre.pretokenizers, 'pre_tokenizer.pretokenizers');
  if (steps.length !== 2) r.fail('pre_tokenizer.pretokenizers', `expected [Split, ByteLevel], got ${steps.length} steps`);
  const split = r.object(steps[0], 'pre_tokenizer.pretokenizers[0]');
  const byteLevel = r.object(steps[1], 'pre_tokenizer.pretokenizers[1]');
  if (split.type !== 'Split') r.fail('pre_tokenizer.pretokenizers[0].type', `unsupported ${describe(split.type)} (only "Split")`);
  r.neutral(split, 'behavior', 'pre_tokenizer.pretokenizers[0]', ['Isolated']);
  r.neutral(split, 'invert', 'pre_tokenizer.pretokenizers[0]', [false]);
  if (byteLevel.type !== 'ByteLevel') r.fail('pre_tokenizer.pretokenizers[1].type', `unsupported ${describe(byteLevel.type)} (only "ByteLevel")`);
  r.neutral(byteLevel, 'use_regex', 'pre_tokenizer.pretokenizers[1]', [false]);
  r.neutral(byteLevel, 'add_prefix_space', 'pre_tokenizer.pretokenizers[1]', [false]);
  const patternField = 'pre_tokenizer.pretokenizers[0].pattern.Regex';
  const pattern = r.string(r.object(split.pattern, 'pre_tokenizer.pretokenizers[0].pattern').Regex, patternField);
  if (!KNOWN_PRETOKENIZER_PATTERNS.has(pattern)) r.fail(patternField, `unknown pattern ${describe(pattern)} (supported: ${[...KNOWN_PRETOKENIZER_PATTERNS.values()].join(', ')})`);
  try {
    return new RegExp(translatePreTokenizerRegex(pattern), 'gu');
  } catch (e) {
    return r.fail(patternField, `cannot use regex: ${(e as Error).message}`);
  }
}

interface AddedTokenPass {
  tokens: AddedToken[];
  /** finds the places where some token could begin */
  starts: RegExp;
  /** sticky alternation over `tokens`, in order; capture group k+1 is tokens[k]'s content */
  tokenAt: RegExp;
}

function addedTokenPass(tokens: AddedToken[]): AddedTokenPass {
  const alternatives = tokens.map((t) => {
    const body = `(${escapeRegex(t.content)})`;
    // lstrip/rstrip: the token swallows the whitespace beside it.
    return `${t.lstrip ? '\\p{White_Space}*' : ''}${body}${t.rstrip ? '\\p{White_Space}*' : ''}`;
  });
  const firstChars = new Set(tokens.map((t) => String.fromCodePoint(t.content.codePointAt(0)!)));
  const whitespace = tokens.some((t) => t.lstrip) ? '\\p{White_Space}' : '';
  return {
    tokens,
    starts: new RegExp(`[${whitespace}${[...firstChars].map(escapeClassChar).join('')}]`, 'gu'),
    tokenAt: new RegExp(alternatives.join('|'), 'uy'),
  };
}

function escapeClassChar(c: string): string {
  return /[\\\]\[^-]/.test(c) ? '\\' + c : c;
}

/**
 * Merge rules keyed by the (left, right) id pair: open addressing over typed arrays, because a
 * Map keyed by a combined number needs a heap-allocated double per entry (~10^5 of them).
 */
class MergeTable {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  readonly rank: Int32Array;
  readonly merged: Int32Array;
  private readonly mask: number;

  constructor(expectedEntries: number) {
    let capacity = 16;
    while (capacity < expectedEntries * 2) capacity *= 2;
    this.mask = capacity - 1;
    this.left = new Int32Array(capacity).fill(-1);
    this.right = new Int32Array(capacity);
    this.rank = new Int32Array(capacity);
    this.merged = new Int32Array(capacity);
  }

  private slotOf(left: number, right: number): number {
    let slot = (Math.imul(left, 0x9e3779b1) ^ Math.imul(right, 0x85ebca77)) & this.mask;
    while (this.left[slot] !== -1 && (this.left[slot] !== left || this.right[slot] !== right)) slot = (slot + 1) & this.mask;
    return slot;
  }

  set(left: number, right: number, rank: number, merged: number): void {
    const slot = this.slotOf(left, right);
    this.left[slot] = left;
    this.right[slot] = right;
    this.rank[slot] = rank;
    this.merged[slot] = merged;
  }

  /** The slot holding the pair's rule, or -1. */
  find(left: number, right: number): number {
    const slot = this.slotOf(left, right);
    return this.left[slot] === -1 ? -1 : slot;
  }
}

/** Binary min-heap of numbers. */
class MinHeap {
  private readonly items: number[] = [];
  get size(): number {
    return this.items.length;
  }
  push(value: number): void {
    const a = this.items;
    let i = a.length;
    a.push(value);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent] <= value) break;
      a[i] = a[parent];
      i = parent;
    }
    a[i] = value;
  }
  pop(): number {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const child = l + 1 < a.length && a[l + 1] < a[l] ? l + 1 : l;
        if (a[child] >= last) break;
        a[i] = a[child];
        i = child;
      }
      a[i] = last;
    }
    return top;
  }
}
