// io/files: a failed write names its path and the reason, and leaves the old file and no temporary one.
import * as fsPromises from 'node:fs/promises';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeDir, refuseNonEmptyDir, writeChunksAtomic, writeFileAtomic } from '../../io/files.js';

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof fsPromises>();
  return { ...actual, open: vi.fn(actual.open), mkdir: vi.fn(actual.mkdir) };
});
const actual = await vi.importActual<typeof fsPromises>('node:fs/promises');
afterEach(() => vi.mocked(fsPromises.open).mockImplementation(actual.open));

const errno = (code: string, syscall: string) => Object.assign(new Error(`${code}: ${syscall} failed`), { code, syscall });

describe('io/files errors', () => {
  it('a full disk: "cannot write PATH: no space left on device", the old file kept, no temporary left', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'files-enospc-'));
    const file = join(dir, 'out.json');
    await writeFile(file, 'old');
    vi.mocked(fsPromises.open).mockImplementationOnce(async (...args: Parameters<typeof actual.open>) => {
      const handle = await actual.open(...args);
      handle.write = (() => Promise.reject(errno('ENOSPC', 'write'))) as typeof handle.write;
      return handle;
    });
    await expect(writeChunksAtomic(file, ['a', 'b'])).rejects.toThrow(`cannot write ${file}: no space left on device`);
    expect(await readFile(file, 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['out.json']);
  });

  it('a read-only file system: "cannot create directory PATH: read-only file system", not ENOENT', async () => {
    // what Node's recursive mkdir does there: ENOENT, while one level at a time says EROFS
    vi.mocked(fsPromises.mkdir).mockImplementation(async (_path, options) => {
      throw errno(typeof options === 'object' && options?.recursive ? 'ENOENT' : 'EROFS', 'mkdir');
    });
    try {
      await expect(makeDir('/ro/runs/x')).rejects.toThrow('cannot create directory /ro/runs/x: read-only file system');
      await expect(writeFileAtomic('/ro/runs/x/a.json', '{}')).rejects.toThrow('cannot create directory /ro/runs/x: read-only file system');
    } finally {
      vi.mocked(fsPromises.mkdir).mockImplementation(actual.mkdir);
    }
  });

  it("an input's failure is not reported against the output", async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'files-input-')), 'out.txt');
    async function* failingInput() {
      yield 'a';
      throw errno('EISDIR', 'read');
    }
    await expect(writeChunksAtomic(file, failingInput())).rejects.toThrow(/^EISDIR: read failed$/);
  });

  it('refuses a non-empty directory, naming the flag; accepts a missing or empty one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'files-nonempty-'));
    await refuseNonEmptyDir(join(dir, 'missing'), 'init --out');
    await refuseNonEmptyDir(dir, 'init --out');
    await writeFile(join(dir, 'config.json'), '{}');
    await expect(refuseNonEmptyDir(dir, 'init --out')).rejects.toThrow(`init --out ${dir}: the directory is not empty; pass --overwrite to replace what it holds`);
    await expect(refuseNonEmptyDir(join(dir, 'config.json'), 'init --out')).rejects.toThrow(`init --out ${join(dir, 'config.json')}: is a file, not a directory`);
  });
});
