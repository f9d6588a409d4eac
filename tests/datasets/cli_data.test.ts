import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { dataCommand } from '../../cli/data.js';
import { readTokenizerFile } from '../../colar/llama/node_files.js';
import { Tokenizer } from '../../colar/llama/tokenizer.js';
import { loadRecords } from '../../datasets/load.js';
import { arithmeticDataset } from '../../datasets/synthetic.js';
import { fixture } from './data_dir.js';

const dir = mkdtempSync(join(tmpdir(), 'colar-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `colar-wgpu data ...args` and returns what it printed. */
async function data(...args: string[]): Promise<string> {
  const printed: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void printed.push(parts.join(' ')));
  try {
    await dataCommand().exitOverride().parseAsync(args, { from: 'user' });
  } finally {
    log.mockRestore();
  }
  return printed.join('\n');
}

describe('colar-wgpu data', () => {
  it('synth writes the same split the library generates', async () => {
    const out = join(dir, 'val.json');
    expect(await data('synth', '--split', 'val', '-n', '25', '--seed', '4', '--out', out)).toContain('25 arithmetic val problems');
    const { records } = await loadRecords(out);
    expect(records.map(({ question, steps, answer }) => ({ question, steps, answer }))).toEqual(
      arithmeticDataset('val', 25, 4).map(({ question, steps, answer }) => ({ question, steps, answer })),
    );
  });

  it('synth rejects an empty range, naming the flags', async () => {
    await expect(data('synth', '--min-steps', '4', '--max-steps', '3', '--out', join(dir, 'x.json'))).rejects.toThrow(
      'data synth --min-steps/--max-steps/--min-value/--max-start/--max-value: need 1 ≤ fewest steps ≤ most steps, got 4, 3',
    );
  });
  it('synth writes multiplication in the iCoT format', async () => {
    const out = join(dir, 'mult.txt');
    await data('synth', '--task', 'multiplication', '--digits', '3x2', '-n', '4', '--to', 'icot', '--out', out);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^\d \d \d \* \d \d\|\|\d \d \d \d \+ \d \d \d \d \d #### \d \d \d \d \d$/);
  });

  it('convert skips and counts malformed records, and inspect describes the result', async () => {
    const out = join(dir, 'icot.json');
    expect(await data('convert', fixture('icot_mixed.txt'), '--skip-bad', '--out', out)).toContain('3 records written, 3 malformed skipped');
    const summary = await data('inspect', out, '--tokenizer', 'synthetic');
    expect(summary).toContain('3 records, 0 malformed skipped');
    expect(summary).toContain('histogram: 0:1  1:1  4:1');
    expect(summary).toMatch(/chain tokens \("###" \+ steps\): min 1 /);
  });

  it('vocab writes a tokenizer.json the Llama tokenizer reads', async () => {
    const out = join(dir, 'tokenizer');
    expect(await data('vocab', '--out', out)).toContain('447 tokens');
    const tokenizer = await readTokenizerFile(join(out, 'tokenizer.json'));
    expect(tokenizer.tokenToId('###')).toBeDefined();
    expect(JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8'))).toMatchObject({ eos_token: '<|eot_id|>', pad_token: '[PAD]' });
  });
});
