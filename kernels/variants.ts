// Kernel families written twice: once shaped for lavapipe (few invocations per workgroup, data
// moved by shuffles) and once for a hardware GPU (wide workgroups, tiles in workgroup memory).
// Each family's rule, beside its kernels, picks one from the adapter; COLAR_KERNELS overrides
// the rule for the whole process, so that tests and benchmarks can run every variant anywhere:
//   COLAR_KERNELS=cross-entropy=split,attention=tile

import { envVar } from '../engine/env.js';

/** family → its variants, the lavapipe-shaped one first */
export const KERNEL_VARIANTS = {
  'cross-entropy': ['row', 'split'],
  attention: ['subgroup', 'tile'],
} as const;

export type KernelFamily = keyof typeof KERNEL_VARIANTS;
export type VariantOf<F extends KernelFamily> = (typeof KERNEL_VARIANTS)[F][number];

export const KERNELS_ENV = 'COLAR_KERNELS';

// Launches read the setting often; it is parsed again only when it changes.
let parsed: { spec: string; forced: Map<string, string> } | null = null;

/** The variant COLAR_KERNELS forces for `family`, or null; a malformed setting throws one line naming it. */
export function forcedVariant<F extends KernelFamily>(family: F): VariantOf<F> | null {
  const spec = envVar(KERNELS_ENV) ?? '';
  if (parsed?.spec !== spec) parsed = { spec, forced: parseKernels(spec) };
  return (parsed.forced.get(family) as VariantOf<F> | undefined) ?? null;
}

/** Throws (one line naming COLAR_KERNELS) when the setting is malformed: a runtime checks it before any work. */
export function checkKernelsEnv(): void {
  forcedVariant('attention');
}

function parseKernels(spec: string): Map<string, string> {
  const forced = new Map<string, string>();
  for (const entry of spec.split(',').map((e) => e.trim()).filter(Boolean)) {
    const [family, variant, ...rest] = entry.split('=').map((s) => s.trim());
    const known = Object.keys(KERNEL_VARIANTS);
    if (!known.includes(family) || rest.length > 0) {
      throw new Error(`${KERNELS_ENV}: "${entry}" is not family=variant with a family among ${known.join(', ')}`);
    }
    const variants: readonly string[] = KERNEL_VARIANTS[family as KernelFamily];
    if (!variants.includes(variant)) {
      throw new Error(`${KERNELS_ENV}: ${family} has no variant "${variant ?? ''}" (${variants.join(', ')})`);
    }
    forced.set(family, variant);
  }
  return forced;
}
