// The second suite: the checks that need the published datasets (GSM8K, GSM8k-Aug, SVAMP,
// MultiArith, multiplication) from COLAR_DATA_DIR, or ../shared/data beside the clone. Each fails,
// naming the folder, where they are absent (tests/datasets/data_dir.ts).
import { configDefaults, defineConfig } from 'vitest/config';
import base, { PUBLISHED_TESTS } from './vitest.config.js';

export default defineConfig({ test: { ...base.test, include: [PUBLISHED_TESTS], exclude: configDefaults.exclude } });
