// `data convert` and `data synth` outputs: never over their input, never left half-written,
// `-` for standard output, `-n/--questions` for the count, and --json for what is printed.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { dataCommand } from '../../cli/data.js';
import { arithmeticDataset } from '../../datasets/synthetic.js';
import { fixture } from '../datasets/data_dir.js';

const dir = mkdtempSync(join(tmpdir(), 'colar-data-outputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `colar-wgpu data ...args`; returns what went to stdout (console.log and process.stdout) and to stderr. */
async function data(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void (stdout += `${parts.join(' ')}\n`));
  const error = vi.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => void (stderr += `${parts.join(' ')}\n`));
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  try {
    await dataCommand().exitOverride().configureOutput({ writeErr: () => undefined }).parseAsync(args, { from: 'user' });
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
  return { stdout, stderr };
}

describe('data convert outputs', () => {
  it('refuses to write over its input, directly or through a symlink, and leaves it intact', async () => {
    const input = join(dir, 'same.txt');
    copyFileSync(fixture('icot_mixed.txt'), input);
    const before = readFileSync(input, 'utf8');
    await expect(data('convert', input, '--to', 'icot', '--skip-bad', '--out', input)).rejects.toThrow(`--out ${input}: is the input ${input}`);
    const link = join(dir, 'link.txt');
    symlinkSync(input, link);
    await expect(data('convert', link, '--skip-bad', '--out', input)).rejects.toThrow('is the input');
    expect(readFileSync(input, 'utf8')).toBe(before);
  });

  it('a failed conversion keeps the existing output and leaves no temporary file', async () => {
    const out = join(dir, 'kept.json');
    writeFileSync(out, '{"kept": true}\n');
    await expect(data('convert', fixture('icot_mixed.txt'), '--out', out)).rejects.toThrow('icot_mixed.txt');
    expect(readFileSync(out, 'utf8')).toBe('{"kept": true}\n');
    expect(readdirSync(dir).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });

  it("'-' writes the records to standard output and the summary to stderr", async () => {
    const { stdout, stderr } = await data('convert', fixture('icot_mixed.txt'), '--skip-bad', '--to', 'icot', '--out', '-');
    expect(stdout.trim().split('\n')).toHaveLength(3);
    expect(stderr).toContain('-: 3 records written, 3 malformed skipped');
  });
});

describe('data synth outputs', () => {
  it("'-' prints the QSA JSON that a file would hold", async () => {
    const file = join(dir, 'synth.json');
    await data('synth', '-n', '4', '--seed', '2', '--out', file);
    const { stdout } = await data('synth', '--questions', '4', '--seed', '2', '--out', '-');
    expect(stdout).toBe(readFileSync(file, 'utf8'));
    expect((JSON.parse(stdout) as unknown[]).length).toBe(4);
  });

  it('shows the --digits default as NxM in its help', () => {
    const synth = dataCommand().commands.find((c) => c.name() === 'synth')!;
    expect(synth.helpInformation()).toContain('(default: 4x4)');
  });
});

describe('data preview and inspect --json', () => {
  it('preview -n prints exactly one JSON document with the first n records', async () => {
    const file = join(dir, 'preview.json');
    await data('synth', '-n', '5', '--out', file);
    const { stdout } = await data('preview', file, '-n', '2', '--json');
    const records = JSON.parse(stdout) as Array<{ question: string }>;
    expect(records.map((r) => r.question)).toEqual(arithmeticDataset('train', 5, 0).slice(0, 2).map((r) => r.question));
  });

  it('inspect --json prints one JSON document with the counts', async () => {
    const { stdout } = await data('inspect', fixture('icot_mixed.txt'), '--skip-bad', '--json');
    const summary = JSON.parse(stdout) as { records: number; skipped: string[]; steps: { count: number } };
    expect(summary.records).toBe(3);
    expect(summary.skipped).toHaveLength(3);
    expect(summary.steps.count).toBe(3);
  });
});
