// Where the page reads an exported model directory from: a URL (`?model=/model/` under
// `colar-wgpu serve`) or files the user drops or picks. Both open a file for random access, so
// a large weights file is read a tensor at a time (HTTP byte ranges, File.slice), never whole.

import { bytesSource, type ByteSource, type ModelFiles } from '../colar/model_files.js';

/** The files under a directory URL; a 404 is a file the directory does not have. */
export function urlModelFiles(base: string): ModelFiles {
  const dir = new URL(base.endsWith('/') ? base : `${base}/`, location.href);
  const fetchOk = async (url: URL, init?: RequestInit): Promise<Response | null> => {
    const res = await fetch(url, init);
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(`cannot read ${url.href}: HTTP ${res.status} ${res.statusText}`);
    return res;
  };
  const read = async (name: string) => {
    const res = await fetchOk(new URL(name, dir));
    return res && new Uint8Array(await res.arrayBuffer());
  };
  return {
    label: dir.href,
    read,
    async open(name) {
      const url = new URL(name, dir);
      const head = await fetchOk(url, { method: 'HEAD' });
      if (!head) return null;
      const size = Number(head.headers.get('Content-Length'));
      if (head.headers.get('Accept-Ranges') !== 'bytes' || !Number.isSafeInteger(size)) {
        const bytes = await read(name); // a server without ranges: the whole file
        return bytes && bytesSource(bytes);
      }
      return rangeSource(size, async (start, end) => {
        const res = await fetch(url, { headers: { Range: `bytes=${start}-${end - 1}` } });
        if (res.status !== 206) throw new Error(`cannot read bytes ${start}-${end - 1} of ${url.href}: HTTP ${res.status} ${res.statusText}`);
        return new Uint8Array(await res.arrayBuffer());
      });
    },
  };
}

/** Files picked or dropped together, by name (a directory's files, selected all at once). */
export function pickedModelFiles(files: File[]): ModelFiles {
  const byName = new Map(files.map((f) => [f.name, f]));
  return {
    label: 'picked files',
    async read(name) {
      const file = byName.get(name);
      return file ? new Uint8Array(await file.arrayBuffer()) : null;
    },
    async open(name) {
      const file = byName.get(name);
      return file ? rangeSource(file.size, async (start, end) => new Uint8Array(await file.slice(start, end).arrayBuffer())) : null;
    },
  };
}

/** A ByteSource over a reader of [start, end) byte ranges. */
function rangeSource(size: number, readRange: (start: number, end: number) => Promise<Uint8Array>): ByteSource {
  return {
    size,
    async read(into, position) {
      if (into.length === 0) return;
      const bytes = await readRange(position, position + into.length);
      if (bytes.length !== into.length) throw new Error('file ended early');
      into.set(bytes);
    },
    async close() {},
  };
}
