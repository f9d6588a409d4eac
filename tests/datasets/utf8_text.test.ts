// Dataset files must be UTF-8: every format refuses the first invalid byte by line and byte
// offset (never U+FFFD), and valid text is read intact across chunk boundaries.

import { isUtf8 } from 'node:buffer';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../../datasets/dataset_error.js';
import { loadRecords, type InputFormat } from '../../datasets/load.js';
import { readUtf8Chunks } from '../../datasets/utf8_text.js';
import { FileError } from '../../io/files.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'utf8-test-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
async function file(name: string, bytes: Uint8Array | string): Promise<string> {
  const at = path.join(root, `${counter++}-${name}`);
  await writeFile(at, bytes);
  return at;
}

async function readAll(at: string): Promise<string> {
  let text = '';
  for await (const chunk of readUtf8Chunks(at)) text += chunk;
  return text;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (e: unknown) => e,
  );
}

const latin1 = (text: string) => Buffer.from(text, 'latin1');

describe('dataset files must be UTF-8', () => {
  // Second record of each format, with "café" written in Latin-1 (0xe9).
  const cases: [InputFormat, string, string, string][] = [
    ['icot', 'x.txt', 'Q1||<<1+1=2>> #### 2\n', 'Q2 café||<<1+1=2>> #### 2\n'],
    ['gsm8k', 'x.jsonl', '{"question":"a","answer":"#### 1"}\n', '{"question":"café","answer":"#### 1"}\n'],
    ['pal', 'x.jsonl', '{"input":"a","target":1}\n', '{"input":"café","target":1}\n'],
    ['qsa-json', 'x.json', '[\n{"question":"a","steps":[],"answer":"1"},\n', '{"question":"café","steps":[],"answer":"1"}\n]\n'],
    ['csv', 'x.csv', 'question,answer\nq,1\n', 'café,2\n'],
  ];
  it.each(cases)('%s: names the file, the line and the byte offset, even when skipping bad records', async (format, name, first, second) => {
    const at = await file(name, latin1(first + second));
    const offset = Buffer.byteLength(first) + second.indexOf('é');
    const line = first.split('\n').length;
    for (const options of [{}, { format }, { format, onBadRecord: 'skip' as const }]) {
      const error = await failure(loadRecords(at, options));
      expect(error).toBeInstanceOf(DatasetError);
      expect((error as Error).message).toBe(`${at}:${line}: invalid UTF-8 at byte ${offset} (0xe9); the file must be UTF-8 text`);
    }
    // The same file in UTF-8 loads.
    const good = await file(name, first + second);
    expect((await loadRecords(good)).records.map((r) => r.question).at(-1)).toBe(second.includes('Q2') ? 'Q2 café' : 'café');
  });

  it('refuses a character cut off by the end of the file, UTF-16 and surrogates', async () => {
    const cut = await file('cut.txt', Buffer.concat([Buffer.from('a||b #### 1\n€'), Buffer.from('😀').subarray(0, 3)]));
    expect(((await failure(readAll(cut))) as Error).message).toBe(`${cut}:2: invalid UTF-8 at byte 15 (0xf0); the file must be UTF-8 text`);
    const utf16 = await file('utf16.txt', Buffer.from('\ufeffa||b #### 1\n', 'utf16le'));
    expect(((await failure(readAll(utf16))) as Error).message).toMatch(/:1: invalid UTF-8 at byte 0 \(0xff\)/);
    const surrogate = await file('surrogate.txt', Uint8Array.of(0x61, 0xed, 0xa0, 0x80));
    expect(((await failure(readAll(surrogate))) as Error).message).toMatch(/:1: invalid UTF-8 at byte 1 \(0xed\)/);
  });

  it('reads characters split across chunk boundaries intact, and finds a bad byte far into the file', async () => {
    // The stream reads 64 KiB chunks: every alignment of 2-, 3- and 4-byte characters meets a boundary.
    for (let pad = 65530; pad <= 65536; pad++) {
      const text = 'a'.repeat(pad) + 'é€😀'.repeat(3) + '\nend';
      expect(await readAll(await file('split.txt', text))).toBe(text);
    }
    const lines = Array.from({ length: 30_000 }, (_, i) => `line ${i} ünïcode`);
    const before = Buffer.from(lines.join('\n') + '\n');
    const at = await file('far.txt', Buffer.concat([before, Uint8Array.of(0x41, 0xc0, 0xaf)]));
    expect(((await failure(readAll(at))) as Error).message).toBe(`${at}:30001: invalid UTF-8 at byte ${before.length + 1} (0xc0); the file must be UTF-8 text`);
  });

  it('names a missing file as a FileError', async () => {
    const missing = path.join(root, 'missing.jsonl');
    const error = await failure(loadRecords(missing));
    expect(error).toBeInstanceOf(FileError);
    expect((error as Error).message).toBe(`cannot read ${missing}: no such file or directory`);
  });

  it('random bytes: the text when valid, else the offset where the longest valid prefix ends', async () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 24 }),
      fc.string({ unit: 'binary', maxLength: 12 }).map((s) => new Uint8Array(Buffer.from(s))),
      fc.tuple(fc.string({ unit: 'binary', maxLength: 8 }), fc.uint8Array({ minLength: 1, maxLength: 3 }), fc.string({ maxLength: 4 })).map(([a, b, c]) => new Uint8Array(Buffer.concat([Buffer.from(a), b, Buffer.from(c)]))),
    );
    await fc.assert(
      fc.asyncProperty(bytes, async (data) => {
        const at = await file('random.txt', data);
        const outcome = await readAll(at).catch((e: unknown) => e);
        if (isUtf8(data)) {
          expect(outcome).toBe(Buffer.from(data).toString('utf8'));
        } else {
          let valid = data.length;
          while (!isUtf8(data.subarray(0, valid))) valid--;
          const line = 1 + data.subarray(0, valid).filter((b) => b === 0x0a).length;
          expect(outcome).toBeInstanceOf(DatasetError);
          expect((outcome as DatasetError).message.startsWith(`${at}:${line}: invalid UTF-8 at byte ${valid} `)).toBe(true);
        }
        await rm(at);
      }),
      { numRuns: 200 },
    );
  });
});
