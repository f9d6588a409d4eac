// Where the tests find the published data files (never copied into the repository; only the
// published_*.test.ts suite, `npm run test:published`, reads them) and the committed fixtures.
// COLAR_DATA_DIR overrides; the default is ../shared/data beside the clone.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export const DATA_DIR = resolve(repoRoot, process.env.COLAR_DATA_DIR ?? '../shared/data');

/** Fails (never skips) when the published data is missing: CI has it beside the clone. */
export function requireData(): void {
  if (!existsSync(resolve(DATA_DIR, 'gsm8k-aug/test.txt'))) throw new Error(`${DATA_DIR} has no published data files (set COLAR_DATA_DIR to the shared/data folder)`);
}

export const dataFile = (path: string) => resolve(DATA_DIR, path);
export const fixture = (name: string) => fileURLToPath(new URL(`fixtures/${name}`, import.meta.url));
