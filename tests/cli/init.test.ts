// `colar-wgpu init --dtype`: the tiny preset writes f32 unless asked, and bf16 when asked, with
// a matching torch_dtype; a bad --dtype is refused naming the flag.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { initCommand } from '../../cli/init.js';
import { openModelDir } from '../../colar/llama/node_files.js';
import { buildRunModel } from '../../colar/run.js';
import { resolveConfig } from '../../colar/train_config.js';
import { webgpu } from '../helpers/engines.js';

const dir = mkdtempSync(join(tmpdir(), 'colar-init-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function init(...args: string[]): Promise<void> {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await initCommand().exitOverride().parseAsync(args, { from: 'user' });
  } finally {
    log.mockRestore();
  }
}

async function dtypes(out: string): Promise<{ torch: string | undefined; floats: string[] }> {
  const d = await openModelDir(out);
  try {
    return { torch: d.config.torchDtype, floats: [...new Set(d.tensors.map((t) => t.dtype))] };
  } finally {
    await d.close();
  }
}

describe('colar-wgpu init --dtype', () => {
  it('tiny writes f32 by default and bf16 when asked', async () => {
    await init('--out', join(dir, 'f32'));
    expect(await dtypes(join(dir, 'f32'))).toEqual({ torch: 'float32', floats: ['F32'] });
    await init('--out', join(dir, 'bf16'), '--dtype', 'bf16');
    expect(await dtypes(join(dir, 'bf16'))).toEqual({ torch: 'bfloat16', floats: ['BF16'] });
  });

  it('refuses another dtype, naming the flag', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await expect(init('--out', join(dir, 'x'), '--dtype', 'f16')).rejects.toThrow(/--dtype/);
    } finally {
      err.mockRestore();
    }
  });

  it.each(['tiny', 'small'])('--preset %s writes the model that train builds from that preset, weight for weight', async (preset) => {
    const out = join(dir, `preset-${preset}`);
    await init('--preset', preset, '--out', out);
    const d = await openModelDir(out);
    const written = new Map(await Promise.all(d.tensors.map(async (t) => [t.name, { shape: t.shape, bytes: Buffer.from(Float32Array.from(await d.read(t.name)).buffer) }] as const)));
    await d.close();
    // the same weights, bit for bit on the same backend: init writes them one at a time from the same draws
    const run = await buildRunModel(await webgpu(), resolveConfig(preset, 'cot', []), false);
    const built = new Map(await Promise.all([...run.model.namedParameters()].map(async ([n, t]) => [n, { shape: [...t.shape], bytes: Buffer.from(Float32Array.from(await t.float32()).buffer) }] as const)));
    expect([...written.keys()].sort()).toEqual([...built.keys()].sort());
    for (const [name, w] of written) {
      expect(w.shape, name).toEqual(built.get(name)!.shape);
      expect(w.bytes.equals(built.get(name)!.bytes), name).toBe(true);
    }
    run.model.dispose();
  });
});
