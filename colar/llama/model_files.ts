// Where the files of a model directory come from, without assuming a file system: a directory in
// Node (node_files.ts), a fetched URL or files dropped on a page. Each source gives a file's bytes
// by name; a source that can read ranges (a file handle) also opens files for random access, so a
// large safetensors file is read a tensor at a time rather than whole.

import { oneLine } from '../../io/one_line.js';

/** Random access to one file's bytes. */
export interface ByteSource {
  readonly size: number;
  /** fills `into` with the bytes from `position`; fails when the file ends first (the caller names the file) */
  read(into: Uint8Array, position: number): Promise<void>;
  close(): Promise<void>;
}

export interface ModelFiles {
  /** names the source in errors: a directory, a URL, "dropped files" */
  readonly label: string;
  /** a file's whole contents, or null when the source has no such file */
  read(name: string): Promise<Uint8Array | null>;
  /** optional: the file for random access (null when absent); sources without it are read whole */
  open?(name: string): Promise<ByteSource | null>;
}

/** How errors name a file of a source (or of a source's label): "<label>/<name>". */
export function filePath(source: ModelFiles | string, name: string): string {
  const label = typeof source === 'string' ? source : source.label;
  return `${label.replace(/\/+$/, '')}/${name}`;
}

/** Bytes held in memory as a ByteSource. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    async read(into, position) {
      if (position + into.length > bytes.length) throw new Error('file ended early');
      into.set(bytes.subarray(position, position + into.length));
    },
    async close() {},
  };
}

/** A file of the source for random access, or null when it has none. */
export async function openFile(files: ModelFiles, name: string): Promise<ByteSource | null> {
  if (files.open) return files.open(name);
  const bytes = await files.read(name);
  return bytes && bytesSource(bytes);
}

/** A JSON file of the source parsed, or undefined when absent; errors name the file. */
export async function readJson(files: ModelFiles, name: string): Promise<unknown> {
  const bytes = await files.read(name);
  if (bytes === null) return undefined;
  return parseJson(new TextDecoder().decode(bytes), filePath(files, name));
}

/** JSON.parse with the error naming the source on one line. */
export function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not valid JSON: ${oneLine((e as Error).message)}`);
  }
}

/** Files held in memory by name: files dropped on a page, or fetched ones. */
export function memoryFiles(label: string, files: Map<string, Uint8Array> | Record<string, Uint8Array>): ModelFiles {
  const byName = files instanceof Map ? files : new Map(Object.entries(files));
  return { label, read: async (name) => byName.get(name) ?? null };
}
