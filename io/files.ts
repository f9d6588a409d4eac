// Every file the project writes goes through here: written to a temporary file beside its
// target and renamed over it, so a crash, a full disk or a bad input never leaves a partial or
// truncated output; and every file-system failure becomes one line naming the path and the
// operation (`cannot write runs/x/state.json: no space left on device`), never a raw errno.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { realpathSync } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

/** What each errno means to a user; anything else keeps the system's own words. */
const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a parent of the path is not a directory',
  EISDIR: 'it is a directory',
  EEXIST: 'it already exists',
  ENOTEMPTY: 'the directory is not empty',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
  ENAMETOOLONG: 'the name is too long',
};

/** An error whose message is already the one line a user should see. */
export class FileError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'FileError';
  }
}

/** `cannot <op> <path>: <reason>` for a Node file-system error; other errors pass unchanged. */
export function fileError(err: unknown, op: string, file: string): Error {
  if (err instanceof FileError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (!code) return err instanceof Error ? err : new Error(String(err));
  const reason = REASONS[code] ?? (err as Error).message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
  return new FileError(`cannot ${op} ${file}: ${reason}`, code);
}

/** Runs `fn`, reporting a file-system failure as `cannot <op> <file>: <reason>`. */
export async function withFileError<T>(op: string, file: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw fileError(err, op, file);
  }
}

/** A fresh name beside `file` for its temporary copy (hidden, unique to this process). */
export function temporaryPath(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Whether a file name is one temporaryPath makes: a write that a kill stopped before its rename. */
export function isTemporaryName(name: string): boolean {
  return /^\..+\.tmp-\d+-[0-9a-f]{8}$/.test(name);
}

/**
 * Creates `dir` and its parents, naming it when that fails. Node's recursive mkdir reports a
 * read-only or full file system as ENOENT; the real reason comes from creating the first
 * missing directory on its own.
 */
export async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    // A recursive mkdir says ENOENT whatever stopped it (a read-only file system, say): one level at a time tells the real reason.
    throw fileError((err as NodeJS.ErrnoException).code === 'ENOENT' ? ((await firstMkdirFailure(dir)) ?? err) : err, 'create directory', dir);
  }
}

async function firstMkdirFailure(dir: string): Promise<unknown> {
  const levels = path.resolve(dir).split(path.sep).filter(Boolean);
  for (let i = 1; i <= levels.length; i++) {
    const failure = await mkdir(path.sep + levels.slice(0, i).join(path.sep)).then(
      () => undefined,
      (err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? undefined : err),
    );
    if (failure) return failure;
  }
  return undefined;
}

/**
 * Writes `data` to `file` atomically: into a temporary file in the same directory, synced,
 * then renamed over `file`. On any failure the temporary file is removed and `file` is as it was.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await writeStreamAtomic(file, async (write) => write(data));
}

/**
 * Like writeFileAtomic for output produced in pieces: `produce` calls `write` as often as it
 * likes; nothing appears at `file` unless it returns without throwing.
 */
export async function writeStreamAtomic(file: string, produce: (write: (chunk: string | Uint8Array) => Promise<void>) => Promise<void>): Promise<void> {
  await makeDir(path.dirname(file) || '.');
  const temporary = temporaryPath(file);
  const handle = await withFileError('write', file, () => open(temporary, 'w'));
  try {
    // Only the writing is reported against `file`: an error of `produce` (reading an input, say) passes as it is.
    await produce((chunk) =>
      withFileError('write', file, async () => {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
        for (let done = 0; done < bytes.length; ) done += (await handle.write(bytes, done, bytes.length - done)).bytesWritten;
      }),
    );
    await withFileError('write', file, () => handle.sync());
    await handle.close();
    await withFileError('write', file, () => rename(temporary, file));
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    throw err;
  }
}

/** Streams an iterable of text chunks into `file` atomically. */
export async function writeChunksAtomic(file: string, chunks: AsyncIterable<string> | Iterable<string>): Promise<void> {
  await writeStreamAtomic(file, async (write) => {
    for await (const chunk of chunks) await write(chunk);
  });
}

/** Refuses to write into `dir` when it already holds files: `flag` names where it came from. */
export async function refuseNonEmptyDir(dir: string, flag = '--out'): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR' && (await stat(dir).then((s) => s.isFile(), () => false))) throw new FileError(`${flag} ${dir}: is a file, not a directory`);
    throw fileError(err, 'read directory', dir);
  }
  if (names.length > 0) throw new FileError(`${flag} ${dir}: the directory is not empty; pass --overwrite to replace what it holds`);
}

/** The output name that means standard output, as in most command-line tools. */
export const STDOUT = '-';

/** Streams text chunks to standard output when `file` is `-`, else into `file` atomically. */
export async function writeChunksOrStdout(file: string, chunks: AsyncIterable<string> | Iterable<string>): Promise<void> {
  if (file !== STDOUT) return writeChunksAtomic(file, chunks);
  for await (const chunk of chunks) if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
}

/** The canonical path of `file` (symlinks resolved), or its absolute path when it does not exist yet. */
export function canonicalPath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    const parent = path.dirname(path.resolve(file));
    try {
      return path.join(realpathSync(parent), path.basename(file));
    } catch {
      return path.resolve(file);
    }
  }
}

/** Refuses an output that is one of the inputs (also through a symlink): writing it would destroy the input. */
export function refuseOutputOverInput(output: string, inputs: string[], flag = '--out'): void {
  const out = canonicalPath(output);
  for (const input of inputs) {
    if (canonicalPath(input) === out) throw new FileError(`${flag} ${output}: is the input ${input}; write to another file`);
  }
}

/**
 * Runs `body`, then every closer, each even when something before it failed. The body's error
 * wins: a closer failing on the way out (a full disk again) must not hide why the run stopped.
 */
export async function runThenClose<T>(body: () => Promise<T>, closers: Array<() => Promise<void> | void>): Promise<T> {
  let result: T;
  try {
    result = await body();
  } catch (err) {
    for (const close of closers) await Promise.resolve().then(close).catch(() => undefined);
    throw err;
  }
  const failures: unknown[] = [];
  for (const close of closers) await Promise.resolve().then(close).catch((err: unknown) => failures.push(err));
  if (failures.length > 0) throw failures[0];
  return result;
}
