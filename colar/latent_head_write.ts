// Writes the latent head beside an exported model, in the format latent_head_file.ts reads.

import { join } from 'node:path';
import { writeFileAtomic } from '../io/files.js';
import type { LatentHead } from './latent_head.js';
import { LATENT_HEAD_CONFIG, LATENT_HEAD_WEIGHTS, type LatentHeadConfig } from './latent_head_file.js';
import { writeSafetensors } from './llama/safetensors.js';
import type { Pooling } from './sequence.js';

export async function saveLatentHead(dir: string, head: LatentHead, pooling: Pooling): Promise<void> {
  const params = head.namedParameters();
  await writeSafetensors(join(dir, LATENT_HEAD_WEIGHTS), [...params].map(([name, t]) => ({ name, shape: [...t.shape], data: () => t.float32() })), { format: 'pt' });
  const config: LatentHeadConfig = {
    hidden_size: head.params.wMean.shape[0],
    intermediate_size: head.params.w1.shape[0],
    embed_std: head.embedStd,
    pooling,
    layer_norm_eps: 1e-5,
    activation: 'gelu',
  };
  await writeFileAtomic(join(dir, LATENT_HEAD_CONFIG), JSON.stringify(config, null, 2) + '\n');
}
