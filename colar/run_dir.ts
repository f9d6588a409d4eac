// A run directory has one owner and holds one run. Training claims it before writing anything:
// a lock file names the owning process (a lock left by a process that no longer runs is taken
// over, with a line saying so); a fresh run refuses a directory that holds anything, --overwrite
// clears an old run first (and only a run), --resume needs a checkpoint to resume. Half-written
// files and checkpoint directories left by a kill are cleaned up once the lock is held.

import { readFileSync, unlinkSync } from 'node:fs';
import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileError, isTemporaryName, makeDir, withFileError } from '../io/files.js';
import { latestCheckpoint, recoverCheckpoints } from './checkpoint.js';

export const LOCK_FILE = '.lock';

/** How a command treats what is already in its run directory. */
export type ClaimMode =
  /** the directory must be new or empty */
  | 'fresh'
  /** continue from the latest checkpoint, which must exist */
  | 'resume'
  /** remove the old run's files, then start fresh */
  | 'overwrite'
  /** resume when there is a checkpoint, else start fresh (a plan's stages rerun this way) */
  | 'continue';

export interface RunDirClaim {
  dir: string;
  /** whether training continues from a checkpoint */
  resume: boolean;
  release(): void;
}

interface LockOwner {
  pid: number;
  /** the owner's parent: the command line's own process, when the owner is its worker */
  parent?: number;
  host: string;
  started: string;
}

/** How long a lock's owner whose parent is gone may take to die with it (cli/dawn_warnings.ts). */
const ORPHAN_GRACE_MS = 10_000;

/** Claims `dir` for this process, in the given mode; release() (or the process's exit) frees it. */
export async function claimRunDir(dir: string, mode: ClaimMode, log: (line: string) => void = console.error): Promise<RunDirClaim> {
  await makeDir(dir);
  const lock = join(dir, LOCK_FILE);
  await takeLock(lock, log);
  const release = () => {
    process.off('exit', release);
    try {
      const owner = JSON.parse(readFileSync(lock, 'utf8')) as LockOwner;
      if (owner.pid === process.pid) unlinkSync(lock);
    } catch {
      // already gone
    }
  };
  process.on('exit', release);
  try {
    const listed = (await withFileError('read directory', dir, () => readdir(dir))).filter((n) => n !== LOCK_FILE);
    // the lock is ours, so no writer of a temporary file is alive: a kill stopped it before its rename
    for (const name of listed.filter(isTemporaryName)) {
      await withFileError('remove', join(dir, name), () => rm(join(dir, name), { force: true }));
      log(`removed ${join(dir, name)}, a file a killed run did not finish writing`);
    }
    const entries = listed.filter((n) => !isTemporaryName(n));
    const isRun = entries.includes('run_config.json') || entries.includes('checkpoints');
    if (entries.length > 0) await recoverCheckpoints(dir);
    const latest = entries.length > 0 ? await latestCheckpoint(dir) : null;
    switch (mode) {
      case 'fresh':
        if (entries.length > 0) {
          throw new Error(`${dir} already holds ${isRun ? 'a run' : `files (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''})`}: pass --resume to continue it, --overwrite to start again (removes its files), or choose another --out`);
        }
        return { dir, resume: false, release };
      case 'resume':
        if (!latest) throw new Error(`--resume: ${dir} has no checkpoint to resume (${isRun ? 'the run stopped before its first checkpoint' : 'it holds no run'}); run without --resume to start fresh`);
        return { dir, resume: true, release };
      case 'overwrite':
        if (entries.length > 0 && !isRun) throw new Error(`--overwrite: ${dir} does not hold a run (no run_config.json or checkpoints/), so nothing is removed; choose another --out`);
        for (const name of entries) await withFileError('remove', join(dir, name), () => rm(join(dir, name), { recursive: true, force: true }));
        if (entries.length > 0) log(`--overwrite: removed the old run in ${dir}`);
        return { dir, resume: false, release };
      case 'continue':
        if (entries.length > 0 && !isRun) throw new Error(`${dir} holds files that are not a run (${entries.slice(0, 3).join(', ')}); choose another directory`);
        return { dir, resume: latest !== null, release };
    }
  } catch (err) {
    release();
    throw err;
  }
}

/** Creates the lock file, or takes over one whose process is gone; fails when its owner runs. */
async function takeLock(lock: string, log: (line: string) => void): Promise<void> {
  const me: LockOwner = { pid: process.pid, parent: process.ppid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(JSON.stringify(me));
      await handle.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(err, 'create lock file', lock);
    }
    const owner = await readOwner(lock);
    // an owner whose parent was killed is on its way out: give it the time to go
    if (owner && owner.host === me.host && owner.parent && !processRuns(owner.parent)) await exited(owner.pid, ORPHAN_GRACE_MS);
    if (owner && owner.host === me.host && processRuns(owner.pid)) {
      throw new Error(`${lock}: the run directory is in use by process ${owner.pid} (since ${owner.started}); wait for it to finish or stop it`);
    }
    if (owner && owner.host !== me.host) {
      throw new Error(`${lock}: the run directory is in use by process ${owner.pid} on ${owner.host}; if that process is gone, remove the lock file`);
    }
    // stale: move it aside (an atomic claim among several takers), then try again
    const aside = `${lock}.stale-${process.pid}`;
    try {
      await rename(lock, aside);
      await rm(aside, { force: true });
      log(`taking over ${lock}: its process ${owner ? owner.pid : '(unreadable lock)'} is no longer running`);
    } catch {
      // another process took it over first; the next attempt sees its lock
    }
  }
  throw new Error(`${lock}: could not take the run directory's lock (another process keeps claiming it)`);
}

async function readOwner(lock: string): Promise<LockOwner | null> {
  try {
    const owner = JSON.parse(await readFile(lock, 'utf8')) as LockOwner;
    return Number.isInteger(owner.pid) ? owner : null;
  } catch {
    return null;
  }
}

async function exited(pid: number, withinMs: number): Promise<void> {
  for (const deadline = Date.now() + withinMs; processRuns(pid) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
