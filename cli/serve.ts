// `colar-wgpu serve`: the page (dist/web/) and an exported model directory (under /model/) over
// HTTP on 127.0.0.1 only, so a browser answers questions with the model on its own GPU.
// Both directories are flat: a request names one file, so no path can leave them. Byte ranges
// are served, so the page reads a large weights file a tensor at a time.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { Command } from 'commander';
import { CLI_NAMES, isFile, resolveModelSource } from '../colar/model_source.js';
import { packageRoot } from '../colar/train_config.js';
import { integerAtLeast } from './flags.js';

/** Where the build (scripts/build_web.mjs) puts the page. */
export const WEB_DIR = join(packageRoot(), 'dist', 'web');
export const MODEL_PATH = '/model/';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
};

/** One plain file name: no separators, no leading dot (so neither ".." nor hidden files). */
const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

export interface WebServer {
  url: string;
  close(): Promise<void>;
}

/** Serves webDir at / and modelDir at /model/ on 127.0.0.1:port (0: any free port). */
export async function startWebServer(o: { webDir: string; modelDir: string; port: number }): Promise<WebServer> {
  const server = createServer((req, res) => {
    respond(req, res, o.webDir, o.modelDir).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'EADDRINUSE' ? `serve --port ${o.port}: the port is in use; pick another or 0 for any free one` : `serve: cannot listen on 127.0.0.1:${o.port}: ${err.message}`)),
    );
    server.listen(o.port, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

async function respond(req: IncomingMessage, res: ServerResponse, webDir: string, modelDir: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { Allow: 'GET, HEAD' }).end();
  const file = requestedFile(new URL(req.url ?? '/', 'http://localhost').pathname, webDir, modelDir);
  const info = file ? await stat(file).catch(() => null) : null;
  if (!file || !info?.isFile()) return void res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
  const range = byteRange(req.headers.range, info.size);
  if (range === 'unsatisfiable') return void res.writeHead(416, { 'Content-Range': `bytes */${info.size}` }).end();
  const [start, end] = range ?? [0, info.size - 1];
  res.writeHead(range ? 206 : 200, {
    'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    'Content-Length': end - start + 1,
    'Accept-Ranges': 'bytes',
    ...(range && { 'Content-Range': `bytes ${start}-${end}/${info.size}` }),
    'Cache-Control': 'no-store',
  });
  if (req.method === 'HEAD' || end < start) return void res.end();
  createReadStream(file, { start, end }).on('error', () => res.destroy()).pipe(res);
}

/**
 * The one byte range a Range header asks for, [first, last] clamped to the file; null without
 * one (or with a form this server does not do, e.g. several ranges: the whole file then).
 * The page reads a large weights file a tensor at a time this way.
 */
function byteRange(header: string | undefined, size: number): [number, number] | 'unsatisfiable' | null {
  const m = header?.match(/^bytes=(\d*)-(\d*)$/);
  if (!m || (m[1] === '' && m[2] === '')) return null;
  const [start, end] = m[1] === '' ? [Math.max(0, size - Number(m[2])), size - 1] : [Number(m[1]), Math.min(size - 1, m[2] === '' ? size - 1 : Number(m[2]))];
  return start >= size || end < start ? 'unsatisfiable' : [start, end];
}

/** The file a request path names, or null: "/" is the page, "/model/NAME" the model's files. */
function requestedFile(pathname: string, webDir: string, modelDir: string): string | null {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (path === '/') return join(webDir, 'index.html');
  const [dir, name] = path.startsWith(MODEL_PATH) ? [modelDir, path.slice(MODEL_PATH.length)] : [webDir, path.slice(1)];
  return FILE_NAME.test(name) ? join(dir, name) : null;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the page that answers questions with a model on your own GPU (WebGPU in Chrome or Edge), on 127.0.0.1 only')
    .requiredOption('--model <dir>', 'an exported model directory (colar-wgpu export --ckpt RUN --out DIR)')
    .option('--port <n>', 'port on 127.0.0.1 (0: any free port)', integerAtLeast(0), 8000)
    .action(async (o: { model: string; port: number }) => {
      const source = await resolveModelSource(o.model, null, CLI_NAMES);
      if (source.kind === 'run') throw new Error(`--model ${o.model}: a run directory; the page reads an exported model, so export it first: colar-wgpu export --ckpt ${o.model} --out DIR`);
      if (!(await isFile(join(WEB_DIR, 'index.html')))) throw new Error(`serve: the page is not built (no ${join(WEB_DIR, 'index.html')}); run npm run build`);
      const server = await startWebServer({ webDir: WEB_DIR, modelDir: o.model, port: o.port });
      console.log(`serving ${o.model}: open ${server.url}?model=${MODEL_PATH} in a browser with WebGPU (Chrome or Edge); Ctrl-C stops`);
    });
}
