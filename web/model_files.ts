// Where the page reads an exported model directory from: a URL (`?model=/model/` under
// `colar-wgpu serve`) or files the user drops or picks.

import type { ModelFiles } from '../colar/model_files.js';

/** The files under a directory URL; a 404 is a file the directory does not have. */
export function urlModelFiles(base: string): ModelFiles {
  const dir = new URL(base.endsWith('/') ? base : `${base}/`, location.href);
  return {
    label: dir.href,
    async read(name) {
      const url = new URL(name, dir);
      const res = await fetch(url);
      if (res.status === 404) return null;
      if (!res.ok) throw new Error(`cannot read ${url.href}: HTTP ${res.status} ${res.statusText}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}

/** Files picked or dropped together, by name (a directory's files, selected all at once). */
export function pickedModelFiles(files: File[]): ModelFiles {
  const byName = new Map(files.map((f) => [f.name, f]));
  return {
    label: `${files.length} files (${files.map((f) => f.name).join(', ')})`,
    async read(name) {
      const file = byName.get(name);
      return file ? new Uint8Array(await file.arrayBuffer()) : null;
    },
  };
}
