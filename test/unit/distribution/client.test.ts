/**
 * The registry client against an in-process fake registry (node:http on 127.0.0.1): Docker's
 * token flow with token reuse, Basic auth, retries, Range resumption, redirects across origins,
 * digest checks and chunked uploads.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { RegistryClient } from '../../../src/distribution/client.ts';
import { RegistryConfig } from '../../../src/distribution/registries.ts';
import { UnauthorizedError, UnreachableError } from '../../../src/distribution/errors.ts';
import { DigestMismatchError } from '../../../src/store/content.ts';
import { storeCredentials } from '../../../src/distribution/authfile.ts';
import { forEachLimit } from '../../../src/distribution/pool.ts';
import { createProgress, renderRow } from '../../../src/distribution/progress.ts';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}` as `sha256:${string}`;
const blob = Buffer.alloc(300_000);
for (let i = 0; i < blob.length; i++) blob[i] = (i * 7 + (i >> 8)) & 0xff;
const blobDigest = sha(blob);
const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] }));

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;
let server: Server;
let other: Server;
let host = '';
let otherHost = '';
let handler: Handler;
let log: { method: string; url: string; auth?: string; range?: string }[] = [];
let dir = '';
const fast = { retries: 3, baseDelayMs: 1 };

function listen(s: Server): Promise<string> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(`127.0.0.1:${(s.address() as { port: number }).port}`)));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-unit-client-'));
  const serve = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      log.push({ method: req.method!, url: req.url!, ...(req.headers.authorization ? { auth: req.headers.authorization } : {}), ...(req.headers.range ? { range: req.headers.range } : {}) });
      handler(req, res, Buffer.concat(chunks));
    });
  };
  server = createServer(serve);
  other = createServer((req, res) => {
    log.push({ method: req.method!, url: `other:${req.url}`, ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
    res.writeHead(200, { 'content-length': blob.length });
    res.end(blob);
  });
  host = await listen(server);
  otherHost = await listen(other);
});

after(() => {
  server.closeAllConnections();
  server.close();
  other.closeAllConnections();
  other.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  log = [];
});

function client(opts: { push?: boolean; authFile?: string } = {}): RegistryClient {
  return new RegistryClient(host, 'ns/img', { config: new RegistryConfig(), authFile: opts.authFile ?? join(dir, 'none.json'), tlsVerify: false, retry: fast, ...opts });
}

async function drain(c: RegistryClient): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of c.blobStream({ digest: blobDigest, size: blob.length })) parts.push(p);
  return Buffer.concat(parts);
}

function serveBlob(req: IncomingMessage, res: ServerResponse): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (m) {
    const start = Number(m[1]);
    res.writeHead(206, { 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}`, 'content-length': blob.length - start });
    res.end(blob.subarray(start));
  } else {
    res.writeHead(200, { 'content-length': blob.length });
    res.end(blob);
  }
}

test('Bearer token flow: one token fetch, reused for later requests; scope and service sent', async () => {
  let tokens = 0;
  handler = (req, res) => {
    const url = new URL(req.url!, `http://${host}`);
    if (url.pathname === '/token') {
      tokens++;
      assert.equal(url.searchParams.get('service'), 'fake');
      assert.deepEqual(url.searchParams.getAll('scope'), ['repository:ns/img:pull']);
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ token: 'T1', expires_in: 300 }));
    }
    if (req.headers.authorization !== 'Bearer T1') {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="fake",scope="repository:ns/img:pull"` });
      return res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    }
    if (url.pathname.includes('/manifests/')) {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': sha(manifest) });
      return res.end(manifest);
    }
    serveBlob(req, res);
  };
  const c = client();
  const m = await c.getManifest('v1');
  assert.equal(m.digest, sha(manifest));
  assert.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.deepEqual(await drain(c), blob);
  assert.deepEqual(await drain(c), blob);
  assert.equal(tokens, 1);
  assert.equal(log.filter((l) => l.url.startsWith('/v2/') && !l.auth).length, 1, 'only the first request went without a token');
  await c.close();
});

test('token server refusing credentials: UnauthorizedError naming the cause', async () => {
  handler = (req, res) => {
    if (req.url!.startsWith('/token')) {
      res.writeHead(401);
      return res.end('{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}');
    }
    res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="fake"` });
    res.end();
  };
  const c = client();
  await assert.rejects(c.getManifest('v1'), (e) => e instanceof UnauthorizedError && /incorrect username or password/.test(e.message));
  await c.close();
});

test('Basic auth: credentials from the auth file; none → UnauthorizedError with a login hint', async () => {
  const auth = join(dir, 'basic.json');
  storeCredentials(auth, host, { username: 'u', password: 'p' });
  const expected = `Basic ${Buffer.from('u:p').toString('base64')}`;
  handler = (req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' });
      return res.end();
    }
    serveBlob(req, res);
  };
  const c = client({ authFile: auth });
  assert.deepEqual(await drain(c), blob);
  assert.deepEqual(await drain(c), blob);
  assert.equal(log.filter((l) => !l.auth).length, 1, 'Basic is sent up front once the registry asked for it');
  await c.close();
  const anon = client();
  await assert.rejects(drain(anon), (e) => e instanceof UnauthorizedError && /berth login/.test(e.message));
  await anon.close();
});

test('a connection dropped mid-blob resumes with Range; a server ignoring Range is handled too', async () => {
  let first = true;
  handler = (req, res) => {
    if (first) {
      first = false;
      res.writeHead(200, { 'content-length': blob.length });
      res.write(blob.subarray(0, 100_000), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    serveBlob(req, res);
  };
  const c = client();
  assert.deepEqual(await drain(c), blob);
  assert.equal(log.length, 2);
  assert.match(log[1]!.range ?? '', /^bytes=\d+-$/);
  first = true;
  log = [];
  handler = (_req, res) => {
    if (first) {
      first = false;
      res.writeHead(200, { 'content-length': blob.length });
      res.write(blob.subarray(0, 150_000), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.writeHead(200, { 'content-length': blob.length }); // ignores Range
    res.end(blob);
  };
  assert.deepEqual(await drain(c), blob);
  await c.close();
});

test('transient 503s are retried; a closed port is UnreachableError', async () => {
  let n = 0;
  handler = (req, res) => {
    if (n++ < 2) {
      res.writeHead(503);
      return res.end();
    }
    serveBlob(req, res);
  };
  const c = client();
  assert.deepEqual(await drain(c), blob);
  assert.equal(n, 3);
  await c.close();
  const probe = createServer();
  const closed = await listen(probe);
  await new Promise((r) => probe.close(r));
  const dead = new RegistryClient(closed, 'x', { config: new RegistryConfig(), authFile: join(dir, 'none.json'), tlsVerify: false, retry: fast });
  await assert.rejects(dead.getManifest('v1'), (e) => e instanceof UnreachableError && /unreachable: connection refused/.test(e.message));
  await dead.close();
});

test('redirects to another origin are followed without the Authorization header', async () => {
  handler = (req, res) => {
    if (!req.headers.authorization) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' });
      return res.end();
    }
    res.writeHead(307, { location: `http://${otherHost}/storage/blob?sig=1` });
    res.end();
  };
  const auth = join(dir, 'redirect.json');
  storeCredentials(auth, host, { username: 'u', password: 'p' });
  const c = client({ authFile: auth });
  assert.deepEqual(await drain(c), blob);
  const hop = log.find((l) => l.url.startsWith('other:'));
  assert.ok(hop);
  assert.equal(hop.auth, undefined);
  await c.close();
});

test('manifests are verified: by digest against the digest, by tag against Docker-Content-Digest', async () => {
  handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': sha('something else') });
    res.end(manifest);
  };
  const c = client();
  await assert.rejects(c.getManifest('v1'), DigestMismatchError);
  await assert.rejects(c.getManifest(sha('other')), DigestMismatchError);
  handler = (_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
  };
  await assert.rejects(c.getManifest('nope'), /manifest for 127\.0\.0\.1:\d+\/ns\/img:nope not found: manifest unknown/);
  await c.close();
});

test('uploads: monolithic PUT and PATCH chunks with Content-Range, then the closing PUT', async () => {
  const received: Buffer[] = [];
  const ranges: string[] = [];
  let uploads = 0;
  handler = (req, res, body) => {
    const url = new URL(req.url!, `http://${host}`);
    if (req.method === 'POST') {
      res.writeHead(202, { location: `/v2/ns/img/blobs/uploads/u${++uploads}` });
      return res.end();
    }
    if (req.method === 'PATCH') {
      ranges.push(String(req.headers['content-range']));
      received.push(body);
      res.writeHead(202, { location: url.pathname });
      return res.end();
    }
    if (req.method === 'PUT') {
      if (body.length) received.push(body);
      assert.equal(url.searchParams.get('digest'), blobDigest);
      assert.deepEqual(Buffer.concat(received), blob);
      received.length = 0;
      res.writeHead(201, { 'docker-content-digest': blobDigest });
      return res.end();
    }
    res.writeHead(404);
    res.end();
  };
  const c = client({ push: true });
  const b = { digest: blobDigest, size: blob.length };
  await c.putBlob(await c.startUpload(), b, () => Readable.from([blob]));
  await c.putBlobChunked(await c.startUpload(), b, (s, e) => Readable.from([blob.subarray(s, e + 1)]), 128 * 1024);
  assert.deepEqual(ranges, ['0-131071', '131072-262143', '262144-299999']);
  await c.close();
});

test('forEachLimit: at most N in flight, the first failure wins and stops new work', async () => {
  let active = 0;
  let peak = 0;
  const started: number[] = [];
  await assert.rejects(
    forEachLimit([1, 2, 3, 4, 5, 6, 7, 8], 3, async (n) => {
      started.push(n);
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      if (n === 2) throw new Error('two');
    }),
    /two/,
  );
  assert.equal(peak, 3);
  assert.ok(started.length < 8, 'work stopped after the failure');
});

test('progress: plain lines on state changes only; quiet prints only the result; bars', () => {
  let s = '';
  const sink = { write: (x: string) => ((s += x), true) } as unknown as NodeJS.WritableStream;
  const p = createProgress('plain', sink);
  p.note('v1: Pulling from ns/img');
  p.status('abc', 'Pulling fs layer');
  p.bytes('abc', 'Downloading', 10, 100);
  p.status('abc', 'Pull complete');
  p.status('abc', 'Pull complete');
  p.result('ref');
  assert.equal(s, 'v1: Pulling from ns/img\nabc: Pulling fs layer\nabc: Pull complete\nref\n');
  s = '';
  const q = createProgress('quiet', sink);
  q.note('x');
  q.status('a', 'b');
  q.summary('Digest: x');
  q.result('ref');
  assert.equal(s, 'ref\n');
  const row = renderRow({ id: 'abc', status: 'Downloading', done: 50_000_000, total: 100_000_000, started: 0 }, 10_000);
  assert.match(row, /^abc: Downloading \[={19}> {20}\] 50MB\/100MB 5MB\/s$/);
});
