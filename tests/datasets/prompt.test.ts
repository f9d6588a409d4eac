import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../colar/llama/tokenizer.js';
import { encodeExample, encodeInferencePrompt, type PromptTokenizer, questionPromptText, withSpecialTokens } from '../../datasets/prompt.js';
import { arithmeticDataset } from '../../datasets/synthetic.js';
import { multiplicationDataset } from '../../datasets/multiplication.js';
import { SPECIAL_TOKENS, syntheticTokenizerFiles } from '../../datasets/vocab.js';

/** One id per character (its code), "###" as one token: shows exactly which text each segment holds. */
const SEPARATOR_ID = 100_000;
const EOS_ID = 100_001;
const characters: PromptTokenizer = {
  encode: (text) => [...text].map((c) => c.codePointAt(0)!),
  tokenToId: (token) => (token === '###' ? SEPARATOR_ID : undefined),
  eosId: EOS_ID,
  padId: 100_002,
};
const text = (ids: number[]) => ids.map((id) => (id === SEPARATOR_ID ? '###' : id === EOS_ID ? '<EOS>' : String.fromCodePoint(id))).join('');

describe('prompt templates', () => {
  const example = { question: 'Ben has 5 apples. He doubles them. How many apples does Ben have now?', steps: ['<<5*2=10>>', '<<10+3=13>>'], answer: '13' };

  it('writes the reference templates character for character', () => {
    expect(questionPromptText('Q?', 3)).toBe("Question: Q? Let's think step by step:(Thinking speed: 3)");
    expect(questionPromptText('Q?', 'auto')).toBe("Question: Q? Let's think step by step:(Thinking speed: auto)");
    const encoded = encodeExample(characters, example, 2);
    expect(text(encoded.question)).toBe(`Question: ${example.question} Let's think step by step:(Thinking speed: 2)`);
    expect(text(encoded.steps)).toBe('###<<5*2=10>>\n<<10+3=13>>');
    expect(text(encoded.answer)).toBe('###Answer:13<EOS>');
    expect(encoded.steps[0]).toBe(SEPARATOR_ID);
    expect(encoded.answer[0]).toBe(SEPARATOR_ID);
    expect(encoded.question).not.toContain(SEPARATOR_ID);
  });

  it('gives an empty chain just the separator', () => {
    expect(encodeExample(characters, { ...example, steps: [] }, 1).steps).toEqual([SEPARATOR_ID]);
  });

  it('builds the inference prompt as question tokens + id("###"), the same boundary as training', () => {
    const prompt = encodeInferencePrompt(characters, example.question, 5);
    const training = encodeExample(characters, example, 5);
    expect(prompt).toEqual([...training.question, training.steps[0]]);
  });

  it('refuses a tokenizer without a single "###" token', () => {
    expect(() => encodeExample({ ...characters, tokenToId: () => undefined }, example, 1)).toThrow(/no single token for '###'/);
  });
});

describe('prompts with the synthetic tokenizer', () => {
  const files = syntheticTokenizerFiles();
  const tokenizer = Tokenizer.fromJSON(files.tokenizer, 'synthetic');
  const prompts = withSpecialTokens(tokenizer, { eos_token: SPECIAL_TOKENS.eos, pad_token: SPECIAL_TOKENS.pad });
  const records = [...arithmeticDataset('val', 300, 0), ...multiplicationDataset('val', 100, 0, { aDigits: 4, bDigits: 4 })];

  it('resolves EOS and PAD from the config names', () => {
    expect(prompts.eosId).toBe(tokenizer.tokenToId('<|eot_id|>'));
    expect(prompts.padId).toBe(tokenizer.tokenToId('[PAD]'));
    expect(files.config).toMatchObject({ eos_token: '<|eot_id|>', pad_token: '[PAD]', add_bos_token: false });
  });

  it('gives exactly the ids of encoding the joined strings, as the reference does (no ")###" or "###<<" pitfall)', () => {
    for (const record of records) {
      const encoded = encodeExample(prompts, record, 3);
      expect(encoded.steps).toEqual(tokenizer.encode(`###${record.steps.join('\n')}`));
      expect(encoded.answer).toEqual(tokenizer.encode(`###Answer:${record.answer}<|eot_id|>`));
      expect(encodeInferencePrompt(prompts, record.question, 3)).toEqual(tokenizer.encode(`${questionPromptText(record.question, 3)}###`));
    }
  });
});
