// What a page loads imports nothing from Node: the browser-facing modules bundle for
// platform 'browser' (esbuild refuses node: builtins there) and the bundle names no `process`,
// `require` or Dawn. Both checks are shown to fail on modules that do use Node.
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/** The modules a page imports: the engine, the model loader, latent inference, tokenizer, sampling. */
const BROWSER_ENTRIES = ['engine/index.ts', 'colar/model_files.ts', 'colar/inference.ts', 'colar/llama/tokenizer.ts', 'colar/llama/sampling.ts'];

async function bundle(entryPoints: string[]): Promise<string[]> {
  const result = await build({ entryPoints, bundle: true, write: false, platform: 'browser', format: 'esm', outdir: 'out', external: ['webgpu'], logLevel: 'silent' });
  return result.outputFiles.map((f) => f.text);
}

/** Node's globals and Dawn, as a bundle would name them. */
function nodeReferences(code: string): string[] {
  return code.match(/\bprocess\.|\brequire\(|\bBuffer\.|["']node:[a-z/]+["']|\bfrom ["']webgpu["']|\bimport\(["']webgpu["']\)/g) ?? [];
}

describe('the browser import graph', () => {
  it('bundles for the browser without Node builtins, globals or Dawn', async () => {
    const outputs = await bundle(BROWSER_ENTRIES);
    expect(outputs).toHaveLength(BROWSER_ENTRIES.length);
    for (const code of outputs) expect(nodeReferences(code)).toEqual([]);
  });

  it('would catch a Node import or a use of process', async () => {
    await expect(bundle(['io/files.ts'])).rejects.toThrow(/Could not resolve "node:/);
    const [failpoint] = await bundle(['io/failpoint.ts']); // process.env and process.kill, no import
    expect(nodeReferences(failpoint)).toContain('process.');
  });
});
