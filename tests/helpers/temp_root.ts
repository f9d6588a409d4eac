// Every temporary file of a test run — the tests' own and the CLI children's, which inherit the
// environment — goes under one directory, removed when the run ends: a test that fails, or forgets
// to clean up, leaves nothing behind in the system's temporary folder.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function setup(): Promise<() => Promise<void>> {
  const root = await mkdtemp(join(tmpdir(), 'colar-wgpu-tests-'));
  process.env.TMPDIR = root;
  return () => rm(root, { recursive: true, force: true });
}
