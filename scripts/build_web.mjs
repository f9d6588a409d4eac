// The page (web/): type-checked as browser code (no Node types), its TypeScript bundled by
// esbuild into dist/web/app.js beside index.html and style.css. `colar-wgpu serve` serves it.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');

try {
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'web', 'tsconfig.json')], { stdio: 'inherit' });
} catch {
  process.exit(1); // tsc printed the errors
}
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(root, 'web', 'main.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  // Node's Dawn binding: the engine loads it only when given no device, which a page never is
  external: ['webgpu'],
  logLevel: 'warning',
});
for (const file of ['index.html', 'style.css']) copyFileSync(join(root, 'web', file), join(out, file));
