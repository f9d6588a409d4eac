// The third suite: the page driven in headless Chromium (/usr/bin/chromium, which
// scripts/setup.sh installs): `npm run test:browser`. One worker: Chromium takes the cores.
import { configDefaults, defineConfig } from 'vitest/config';
import base, { BROWSER_TESTS } from './vitest.config.js';

export default defineConfig({ test: { ...base.test, include: [BROWSER_TESTS], exclude: configDefaults.exclude, maxWorkers: 1, hookTimeout: 120_000 } });
