import { configDefaults, defineConfig } from 'vitest/config';

/** Tests that read the published datasets, outside the repository: `npm run test:published`. */
export const PUBLISHED_TESTS = 'tests/**/published_*.test.ts';
/** Tests that drive the page in headless Chromium: `npm run test:browser`. */
export const BROWSER_TESTS = 'tests/browser/**/*.test.ts';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    exclude: [...configDefaults.exclude, PUBLISHED_TESTS, BROWSER_TESTS],
    setupFiles: ['tests/helpers/fast_check_seed.ts'],
    globalSetup: ['tests/helpers/temp_root.ts'],
    // Dawn runs one device per process; forks keep them apart. Two cores: two workers.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
