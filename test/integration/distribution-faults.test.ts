/**
 * Pulls through a small HTTP proxy in front of a real registry that misbehaves on purpose: it
 * corrupts one byte of a layer (the pull fails with a digest error and the store holds nothing),
 * drops the connection halfway through a layer (berth resumes with a Range request and
 * succeeds), and redirects blob downloads to another origin, as registries do for blob storage
 * (followed, without our Authorization header).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, tempDir } from './image-helpers.ts';
import { berthAsync, buildImage, busyboxLayers, hasRegistryTools, must, pushLayout, startRegistry, writeOciLayout, type BuiltImage, type Registry } from '../helpers/registry.ts';

const skip = process.getuid?.() !== 0 || !hasRegistryTools() ? 'needs root, docker-registry and skopeo' : false;
let dir = '';
let reg: Registry | undefined;
let img: BuiltImage;
let proxy: Server | undefined;
let storage: Server | undefined;
let proxyHost = '';
let storageHost = '';
type Mode = 'corrupt' | 'drop' | 'redirect' | 'pass';
let mode: Mode = 'pass';
const seen: { path: string; range?: string; auth?: string }[] = [];

/** The big random layer: the one the proxy tampers with. */
const target = () => img.layers[2]!;

function forward(req: IncomingMessage, res: ServerResponse, path = req.url!, tamper?: (body: IncomingMessage, res: ServerResponse) => void): void {
  const headers = { ...req.headers, host: reg!.host };
  const up = request({ host: '127.0.0.1', port: reg!.port, method: req.method, path, headers }, (upRes) => {
    res.writeHead(upRes.statusCode!, upRes.headers);
    if (tamper) tamper(upRes, res);
    else upRes.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
}

function onProxy(req: IncomingMessage, res: ServerResponse): void {
  seen.push({ path: req.url!, ...(req.headers.range ? { range: req.headers.range } : {}) });
  const isTarget = req.method === 'GET' && req.url!.endsWith(`/blobs/${target().digest}`);
  if (!isTarget || mode === 'pass') return forward(req, res);
  if (mode === 'redirect') {
    res.writeHead(307, { location: `http://${storageHost}/storage${req.url}?signature=abc` });
    res.end();
    return;
  }
  if (mode === 'corrupt')
    return forward(req, res, req.url, (body, out) => {
      let offset = 0;
      const flipAt = Math.floor(target().blob.length / 2);
      body.on('data', (c: Buffer) => {
        if (offset <= flipAt && flipAt < offset + c.length) c[flipAt - offset]! ^= 0xff;
        offset += c.length;
        out.write(c);
      });
      body.on('end', () => out.end());
    });
  // drop: the first full download stops halfway and the connection dies
  if (req.headers.range) return forward(req, res);
  forward(req, res, req.url, (body, out) => {
    let sent = 0;
    const half = Math.floor(target().blob.length / 2);
    body.on('data', (c: Buffer) => {
      if (sent >= half) return;
      const part = c.subarray(0, Math.min(c.length, half - sent));
      sent += part.length;
      out.write(part);
      if (sent >= half) {
        body.destroy();
        setTimeout(() => out.socket?.destroy(), 50);
      }
    });
  });
}

function listen(s: Server): Promise<string> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(s.address() as { port: number }).port}`)));
}

before(async () => {
  if (skip) return;
  dir = tempDir('dist-faults');
  reg = await startRegistry(join(dir, 'registry'));
  img = buildImage(await busyboxLayers(4 << 20));
  writeOciLayout(join(dir, 'layout'), [img], 'v1');
  pushLayout(join(dir, 'layout'), 'v1', `${reg.host}/faulty/bb:v1`);
  proxy = createServer(onProxy);
  proxyHost = await listen(proxy);
  storage = createServer((req, res) => {
    seen.push({ path: req.url!, ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
    forward(req, res, req.url!.replace(/^\/storage/, '').replace(/\?.*$/, ''));
  });
  storageHost = await listen(storage);
});

after(async () => {
  proxy?.closeAllConnections();
  proxy?.close();
  storage?.closeAllConnections();
  storage?.close();
  await reg?.stop();
  if (dir) cleanup(dir);
});

function assertEmptyStore(root: string): void {
  assert.deepEqual(readdirSync(join(root, 'images')), [], 'no image record');
  assert.deepEqual(readdirSync(join(root, 'blobs', 'sha256')), [], 'no blobs');
  assert.deepEqual(readdirSync(join(root, 'ingest')), [], 'no partial ingests');
  assert.deepEqual(readdirSync(join(root, 'snapshots')), [], 'no snapshots');
}

test('a corrupted blob: digest error, exit 1, nothing stored', { skip }, async () => {
  mode = 'corrupt';
  const root = join(dir, 'corrupt');
  const r = await berthAsync(root, ['pull', '--tls-verify=false', `${proxyHost}/faulty/bb:v1`]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`^berth: blob ${target().digest} digest does not match: expected ${target().digest}, got sha256:[0-9a-f]{64}\\n$`));
  assertEmptyStore(root);
});

test('a connection dropped halfway: the download resumes with Range and succeeds', { skip }, async () => {
  mode = 'drop';
  seen.length = 0;
  const root = join(dir, 'drop');
  const r = must(await berthAsync(root, ['pull', '--tls-verify=false', `${proxyHost}/faulty/bb:v1`]), 'pull through a dropping proxy');
  assert.match(r.stdout, /Status: Downloaded newer image/);
  const resumed = seen.filter((s) => s.path.endsWith(target().digest) && s.range);
  assert.equal(resumed.length, 1, JSON.stringify(seen));
  const from = Number(/^bytes=(\d+)-$/.exec(resumed[0]!.range!)?.[1]);
  assert.ok(from > 0 && from <= target().blob.length / 2, `resumed from ${from}`);
  const info = JSON.parse(must(await berthAsync(root, ['image', 'inspect', `${proxyHost}/faulty/bb:v1`]), 'inspect').stdout)[0];
  assert.equal(info.Id, img.configDigest);
});

test('a redirect to blob storage on another origin is followed without credentials', { skip }, async () => {
  mode = 'redirect';
  seen.length = 0;
  const root = join(dir, 'redirect');
  must(await berthAsync(root, ['pull', '-q', '--tls-verify=false', `${proxyHost}/faulty/bb:v1`]), 'pull through a redirect');
  const hits = seen.filter((s) => s.path.startsWith('/storage/'));
  assert.equal(hits.length, 1);
  assert.equal(hits[0]!.auth, undefined);
});
