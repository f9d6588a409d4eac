// `serve`: the page and the model's files over HTTP on 127.0.0.1 with their content types; any
// path that is not one plain file name of those two directories is a 404, and a run directory
// or a taken port is one line saying what to do.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveCommand, startWebServer, type WebServer } from '../../cli/serve.js';

let root: string;
let server: WebServer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'colar-serve-'));
  await mkdir(join(root, 'web'));
  await mkdir(join(root, 'model', 'nested'), { recursive: true });
  await writeFile(join(root, 'web', 'index.html'), '<!doctype html><title>page</title>');
  await writeFile(join(root, 'web', 'app.js'), 'console.log(1)');
  await writeFile(join(root, 'web', 'style.css'), 'body{}');
  await writeFile(join(root, 'model', 'config.json'), '{"vocab_size": 3}');
  await writeFile(join(root, 'model', 'model.safetensors'), Uint8Array.from({ length: 1000 }, (_, i) => i % 251));
  await writeFile(join(root, 'model', '.hidden'), 'no');
  await writeFile(join(root, 'model', 'nested', 'x.json'), '{}');
  await writeFile(join(root, 'secret.txt'), 'outside both directories');
  server = await startWebServer({ webDir: join(root, 'web'), modelDir: join(root, 'model'), port: 0 });
});

afterAll(() => server.close());

/** A raw request: the path goes out exactly as written (fetch would normalise "..") */
function get(path: string, method = 'GET', headers: Record<string, string> = {}): Promise<{ status: number; type?: string; range?: string; body: Buffer }> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], range: res.headers['content-range'], body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serve', () => {
  it('listens on 127.0.0.1 only', () => {
    expect(new URL(server.url).hostname).toBe('127.0.0.1');
  });

  it('serves the page at / and its files, and the model under /model/, with their content types', async () => {
    expect(await get('/')).toMatchObject({ status: 200, type: 'text/html; charset=utf-8', body: Buffer.from('<!doctype html><title>page</title>') });
    expect(await get('/app.js')).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' });
    expect(await get('/style.css')).toMatchObject({ status: 200, type: 'text/css; charset=utf-8' });
    expect(await get('/model/config.json')).toMatchObject({ status: 200, type: 'application/json; charset=utf-8', body: Buffer.from('{"vocab_size": 3}') });
    const weights = await get('/model/model.safetensors?x=1');
    expect(weights).toMatchObject({ status: 200, type: 'application/octet-stream' });
    expect(weights.body).toEqual(Buffer.from(Uint8Array.from({ length: 1000 }, (_, i) => i % 251)));
    expect(await get('/model/config.json', 'HEAD')).toMatchObject({ status: 200, body: Buffer.alloc(0) });
  });

  it('serves one byte range of a file, so the page reads weights a tensor at a time', async () => {
    const bytes = (from: number, to: number) => Buffer.from(Uint8Array.from({ length: to - from }, (_, i) => (from + i) % 251));
    expect(await get('/model/model.safetensors', 'GET', { Range: 'bytes=300-309' })).toMatchObject({ status: 206, range: 'bytes 300-309/1000', body: bytes(300, 310) });
    expect(await get('/model/model.safetensors', 'GET', { Range: 'bytes=990-' })).toMatchObject({ status: 206, range: 'bytes 990-999/1000', body: bytes(990, 1000) });
    expect(await get('/model/model.safetensors', 'GET', { Range: 'bytes=995-2000' })).toMatchObject({ status: 206, range: 'bytes 995-999/1000', body: bytes(995, 1000) });
    expect(await get('/model/model.safetensors', 'GET', { Range: 'bytes=-4' })).toMatchObject({ status: 206, range: 'bytes 996-999/1000', body: bytes(996, 1000) });
    expect(await get('/model/model.safetensors', 'GET', { Range: 'bytes=1000-1001' })).toMatchObject({ status: 416, range: 'bytes */1000' });
    expect(await get('/model/model.safetensors', 'GET', { Range: 'bytes=0-1,5-6' })).toMatchObject({ status: 200, body: bytes(0, 1000) });
  });

  it('answers 404 to anything but one plain file of the two directories, and 405 to writes', async () => {
    for (const path of ['/missing.js', '/model/missing.json', '/model/', '/model', '/model/nested', '/model/nested/x.json', '/model/.hidden', '/../secret.txt', '/model/../../secret.txt', '/model/..%2f..%2fsecret.txt', '/%2e%2e/secret.txt', '/model/%2e%2e%2fsecret.txt', '/model/%zz']) {
      expect((await get(path)).status, path).toBe(404);
    }
    expect((await get('/model/config.json', 'POST')).status).toBe(405);
  });

  it('refuses a run directory (export it first) and a port in use, in one line each', async () => {
    const run = join(root, 'run');
    await mkdir(run);
    await writeFile(join(run, 'run_config.json'), '{}');
    await expect(serveCommand().parseAsync(['--model', run], { from: 'user' })).rejects.toThrow(`--model ${run}: a run directory; the page reads an exported model, so export it first: colar-wgpu export --ckpt ${run} --out DIR`);
    const port = Number(new URL(server.url).port);
    await expect(startWebServer({ webDir: root, modelDir: root, port })).rejects.toThrow(`serve --port ${port}: the port is in use; pick another or 0 for any free one`);
  });
});
