import { describe, expect, it } from 'vitest';
import { LLAMA3_PRETOKENIZER_PATTERN, Tokenizer } from '../../colar/llama/tokenizer.js';
import { encodeExample, questionPromptText, withSpecialTokens } from '../../datasets/prompt.js';
import { multiplicationDataset } from '../../datasets/multiplication.js';
import { summarize, tokenLengths } from '../../datasets/stats.js';
import { arithmeticDataset } from '../../datasets/synthetic.js';
import { preTokenize, SPECIAL_TOKENS, syntheticTaskTexts, syntheticTokenizerFiles } from '../../datasets/vocab.js';

interface BpeModel {
  vocab: Record<string, number>;
  merges: string[];
  ignore_merges: boolean;
}
interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

const digitFiles = syntheticTokenizerFiles('digits');
const model = digitFiles.tokenizer.model as BpeModel;
const tokenizer = Tokenizer.fromJSON(digitFiles.tokenizer, 'synthetic');
const prompts = withSpecialTokens(tokenizer, { eos_token: SPECIAL_TOKENS.eos, pad_token: SPECIAL_TOKENS.pad });
const arithmetic = arithmeticDataset('train', 2000, 11);
const multiplication = multiplicationDataset('train', 200, 11, { aDigits: 4, bDigits: 4 });
const exampleTexts = [...arithmetic, ...multiplication].flatMap((r) => [questionPromptText(r.question, 2), `###${r.steps.join('\n')}`, `###Answer:${r.answer}`]);

describe('synthetic tokenizer.json: well-formed', () => {
  it('has all 256 byte symbols first, merged tokens next, then the special tokens, with ids 0..n-1', () => {
    const ids = Object.values(model.vocab).sort((a, b) => a - b);
    expect(ids).toEqual(ids.map((_, i) => i));
    expect(Object.keys(model.vocab).slice(0, 256).every((symbol) => [...symbol].length === 1)).toBe(true);
    const added = digitFiles.tokenizer.added_tokens as AddedToken[];
    expect(added.map((t) => [t.content, t.id, t.special])).toEqual([
      ['<|begin_of_text|>', ids.length, true],
      ['<|end_of_text|>', ids.length + 1, true],
      ['<|eot_id|>', ids.length + 2, true],
      ['[PAD]', ids.length + 3, true],
    ]);
    expect(digitFiles.vocabSize).toBe(ids.length + 4);
    expect(tokenizer.vocabSize).toBe(digitFiles.vocabSize);
  });

  it('has merges whose parts and results are all tokens, one per merged token', () => {
    expect(model.merges).toHaveLength(Object.keys(model.vocab).length - 256);
    for (const merge of model.merges) {
      const [left, right] = merge.split(' ') as [string, string];
      expect(model.vocab[left]).toBeDefined();
      expect(model.vocab[right]).toBeDefined();
      expect(model.vocab[left + right]).toBeDefined();
    }
  });

  it("uses Llama-3's pre-tokenizer and byte-level decoder", () => {
    expect(JSON.stringify(digitFiles.tokenizer.pre_tokenizer)).toContain(JSON.stringify(LLAMA3_PRETOKENIZER_PATTERN));
    expect(digitFiles.tokenizer.decoder).toMatchObject({ type: 'ByteLevel' });
    expect(model.ignore_merges).toBe(true);
  });

  it('is built the same way every time', () => {
    expect(JSON.stringify(syntheticTokenizerFiles('digits'))).toBe(JSON.stringify(digitFiles));
  });

  it('contains every word and template piece of the tasks as one token', () => {
    const byteLevel = (piece: string) => piece.replaceAll(' ', 'Ġ').replaceAll('\n', 'Ċ');
    const words = new Set(syntheticTaskTexts().flatMap(preTokenize).filter((chunk) => /\p{L}/u.test(chunk)));
    expect(words).toContain(' Let');
    expect(words).toContain("'s");
    expect(words).toContain('Thinking');
    for (const piece of [...words, '###', '<<', '>>', ' (', ' )', ' *']) expect(model.vocab[byteLevel(piece)], piece).toBeDefined();
  });
});

describe('synthetic tokenizer with colar/llama/tokenizer.ts', () => {
  it('round-trips every synthetic text and any other text (byte-level)', () => {
    const texts = [...exampleTexts, 'Janet’s ducks lay 16 eggs 🦆\r\n\ttabs', '<|eot_id|>[PAD]'];
    expect(texts.filter((text) => tokenizer.decode(tokenizer.encode(text)) !== text)).toEqual([]);
  });

  it('encodes every word chunk as one token and every digit alone', () => {
    const wrong = new Set<string>();
    for (const chunk of new Set(exampleTexts.flatMap(preTokenize))) {
      const count = tokenizer.encode(chunk).length;
      if (/\p{L}/u.test(chunk) && count !== 1) wrong.add(chunk);
      if (/^\d+$/.test(chunk) && count !== chunk.length) wrong.add(chunk);
    }
    expect([...wrong]).toEqual([]);
    expect(tokenizer.encode('###<<150*3=450>>\n').map((id) => tokenizer.idToToken(id))).toEqual(['###', '<<', '1', '5', '0', '*', '3', '=', '4', '5', '0', '>>', 'Ċ']);
    expect(tokenizer.encode('x<|eot_id|>').at(-1)).toBe(prompts.eosId);
  });

  it('chunks mode: every 1-3 digit chunk is one token, as Llama-3 cuts numbers', () => {
    const chunked = Tokenizer.fromJSON(syntheticTokenizerFiles('chunks').tokenizer, 'synthetic-chunks');
    expect(chunked.encode('12345 007 5').map((id) => chunked.idToToken(id))).toEqual(['123', '45', 'Ġ', '007', 'Ġ', '5']);
    expect(chunked.encode('###Answer:450').map((id) => chunked.idToToken(id))).toEqual(['###', 'Answer', ':', '450']);
  });

  it('reports tokens per example and chain lengths in tokens', () => {
    const report = (name: string, records: typeof arithmetic) => {
      const lengths = tokenLengths(records, prompts);
      const chain = summarize(lengths.chain);
      const example = summarize(lengths.example);
      console.log(`[vocab] ${name}: CoT example ${example.mean.toFixed(1)} tokens (min ${example.min}, max ${example.max}); chain ("###"+steps) mean ${chain.mean.toFixed(1)}, median ${chain.median}, p90 ${chain.p90}, max ${chain.max}`);
      return lengths;
    };
    report(`arithmetic, vocab ${digitFiles.vocabSize}`, arithmetic);
    report('multiplication 4x4', multiplication);
    const byStepCount = new Map<number, number[]>();
    for (const record of arithmetic) {
      const chain = encodeExample(prompts, record, 1).steps.length;
      byStepCount.set(record.steps.length, [...(byStepCount.get(record.steps.length) ?? []), chain]);
    }
    const perSteps = [...byStepCount].sort(([a], [b]) => a - b).map(([steps, chains]) => `${steps} steps: ${summarize(chains).mean.toFixed(1)}`);
    console.log(`[vocab] arithmetic chain tokens by step count: ${perSteps.join(', ')}`);
    expect(summarize(tokenLengths(arithmetic, prompts).example).mean).toBeLessThan(130);
  });
});
