// The process environment where there is one (Node); a page has none, and every variable reads
// as unset there.

interface NodeLike {
  env?: Record<string, string | undefined>;
  versions?: { node?: string };
}

const host = (globalThis as { process?: NodeLike }).process;

/** An environment variable, or undefined (always, outside Node). */
export function envVar(name: string): string | undefined {
  return host?.env?.[name];
}

/** Whether this is Node (Dawn, files and the autotune cache file are there). */
export const isNode = typeof host?.versions?.node === 'string';
