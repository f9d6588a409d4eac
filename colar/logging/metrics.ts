// The run's metrics as JSON Lines: one object per line, appended as each is written, so a crash
// loses nothing already logged. A resumed run first cuts the log back to its checkpoint's step,
// so the steps it redoes appear once.

import { open, readFile, type FileHandle } from 'node:fs/promises';
import { writeSync } from 'node:fs';
import path from 'node:path';
import { fileError, makeDir, withFileError, writeFileAtomic } from '../../io/files.js';

export type MetricsRecord = Record<string, number | string | null>;

/** The field that names the keys whose values were NaN or ±Infinity (JSON has no such numbers). */
export const NONFINITE_FIELD = 'nonfinite';

export class MetricsLog {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  /**
   * Opens `file` for appending. With resumeFromStep, lines whose `step` is greater are dropped
   * first; lines without a step are kept, and a line torn by a crash is dropped.
   */
  static async open(file: string, opts: { resumeFromStep?: number } = {}): Promise<MetricsLog> {
    await makeDir(path.dirname(file));
    if (opts.resumeFromStep !== undefined) await truncateAfterStep(file, opts.resumeFromStep);
    return new MetricsLog(file, await withFileError('write', file, () => open(file, 'a')));
  }

  /** Appends one line at once (synchronously), so the log is complete up to any crash. */
  write(record: MetricsRecord): void {
    if (NONFINITE_FIELD in record) throw new Error(`MetricsLog: '${NONFINITE_FIELD}' is a reserved field name`);
    const nonfinite: string[] = [];
    const line: Record<string, number | string | null | string[]> = {};
    for (const [key, value] of Object.entries(record)) {
      const finite = typeof value !== 'number' || Number.isFinite(value);
      if (!finite) nonfinite.push(key);
      line[key] = finite ? value : null;
    }
    if (nonfinite.length > 0) line[NONFINITE_FIELD] = nonfinite;
    try {
      writeSync(this.handle.fd, JSON.stringify(line) + '\n');
    } catch (err) {
      throw fileError(err, 'write', this.path);
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Rewrites the log without the steps after `step`, atomically. */
async function truncateAfterStep(file: string, step: number): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw fileError(error, 'read', file);
  }
  const kept = text.split('\n').filter((line) => {
    if (line.trim() === '') return false;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      return false; // a line torn by a crash mid-write
    }
    const lineStep = typeof record === 'object' && record !== null ? (record as { step?: unknown }).step : undefined;
    return typeof lineStep !== 'number' || lineStep <= step;
  });
  await writeFileAtomic(file, kept.map((line) => line + '\n').join(''));
}
