/**
 * download.ts against real node:http and node:https servers on 127.0.0.1: bodies by length, by
 * chunked encoding and by connection close; lent chunks that are views of recycled slabs and stay
 * intact while retained; a cut-short body, a refused connection, TLS trust and abort as errors
 * with the codes the retry logic reads; a slow consumer bounding the memory in use.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isLent, release, retain, SlabPool } from '../../../src/common/lent.ts';
import { download, SLAB_SIZE, type DownloadRequest } from '../../../src/distribution/download.ts';
import { isNetworkError, isTlsTrustError } from '../../../src/distribution/http.ts';
import { makeTls } from '../../helpers/registry.ts';

const big = randomBytes(6 << 20);
const bigDigest = createHash('sha256').update(big).digest('hex');
let server: Server;
let base = '';
let handler: (req: IncomingMessage, res: ServerResponse) => void = () => {};
const tlsDir = join(tmpdir(), `berth-unit-download-${process.pid}`);

function listen(s: Server | ReturnType<typeof createNetServer>): Promise<number> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as { port: number }).port)));
}

/** The whole of `big`, with its length. */
function serveBig(_q: IncomingMessage, s: ServerResponse): void {
  s.writeHead(200, { 'content-length': big.length });
  s.end(big);
}

function req(url: string, extra: Partial<DownloadRequest> = {}): DownloadRequest {
  return { url: new URL(url), headers: {}, tls: { ca: [], verify: true }, timeoutMs: 10_000, pool: new SlabPool(SLAB_SIZE), ...extra };
}

async function readAll(url: string, extra: Partial<DownloadRequest> = {}): Promise<{ status: number; bytes: Buffer; headers: Record<string, string | string[]> }> {
  const head = await download(req(url, extra));
  const parts: Buffer[] = [];
  for await (const c of head.body.chunks()) parts.push(c);
  return { status: head.status, bytes: Buffer.concat(parts), headers: head.headers };
}

before(async () => {
  server = createServer((q, s) => handler(q, s));
  base = `http://127.0.0.1:${await listen(server)}`;
});

after(() => {
  server.close();
  server.closeAllConnections();
  rmSync(tlsDir, { recursive: true, force: true });
});

test('a body with a length arrives whole; the request carries the headers given', async () => {
  let seen: IncomingMessage | undefined;
  handler = (q, s) => {
    seen = q;
    s.writeHead(200, { 'content-length': big.length, 'x-one': 'a' });
    s.end(big);
  };
  const r = await readAll(`${base}/v2/x/blobs/sha256:1?q=1`, { headers: { range: 'bytes=0-', authorization: 'Bearer t' } });
  assert.equal(r.status, 200);
  assert.equal(createHash('sha256').update(r.bytes).digest('hex'), bigDigest);
  assert.equal(r.headers['x-one'], 'a');
  assert.equal(seen?.url, '/v2/x/blobs/sha256:1?q=1');
  assert.equal(seen?.headers.range, 'bytes=0-');
  assert.equal(seen?.headers.authorization, 'Bearer t');
});

test('chunked and close-delimited bodies arrive whole; repeated headers become a list', async () => {
  handler = (_q, s) => {
    s.setHeader('www-authenticate', ['Bearer realm="a"', 'Basic realm="b"']);
    s.writeHead(200); // no length: chunked
    for (let o = 0; o < big.length; o += 100_000) s.write(big.subarray(o, o + 100_000));
    s.end();
  };
  const chunked = await readAll(`${base}/chunked`);
  assert.equal(createHash('sha256').update(chunked.bytes).digest('hex'), bigDigest);
  assert.deepEqual(chunked.headers['www-authenticate'], ['Bearer realm="a"', 'Basic realm="b"']);

  // HTTP/1.0 style: no length, no chunking, the end of the connection ends the body
  const raw = createNetServer((sock) => {
    sock.once('data', () => {
      sock.write('HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n');
      sock.end(big);
    });
  });
  const port = await listen(raw);
  try {
    const closed = await readAll(`http://127.0.0.1:${port}/raw`);
    assert.equal(createHash('sha256').update(closed.bytes).digest('hex'), bigDigest);
  } finally {
    raw.close();
  }
});

test('lent chunks are views of a few recycled slabs; a retained one stays intact until released', async () => {
  handler = serveBig;
  const pool = new SlabPool(SLAB_SIZE);
  const head = await download(req(`${base}/lent`, { pool }));
  const kept: { chunk: Buffer; copy: Buffer }[] = [];
  const hash = createHash('sha256');
  let n = 0;
  for await (const c of head.body.chunks({ lent: true })) {
    assert.ok(isLent(c), 'a lent chunk lives in a slab');
    hash.update(c);
    if (n++ % 5 === 0) {
      retain(c);
      kept.push({ chunk: c, copy: Buffer.from(c) });
    }
    await new Promise((r) => setImmediate(r)); // let more reads land while chunks are held
  }
  assert.equal(hash.digest('hex'), bigDigest);
  for (const k of kept) assert.ok(k.chunk.equals(k.copy), 'a retained chunk was not overwritten by later reads');
  for (const k of kept) release(k.chunk);
  assert.ok(pool.allocated < n, `reads were recycled (${pool.allocated} slabs for ${n} chunks)`);
  assert.equal(pool.available, pool.allocated, 'every slab is back in the pool');

  // without `lent`, the consumer gets copies it may keep
  const copies = await download(req(`${base}/lent`));
  for await (const c of copies.body.chunks()) {
    assert.ok(!isLent(c));
    break;
  }
});

test('a slow consumer stops the socket: the slabs in use stay bounded', async () => {
  handler = serveBig;
  const pool = new SlabPool(SLAB_SIZE);
  const head = await download(req(`${base}/slow`, { pool }));
  let n = 0;
  for await (const c of head.body.chunks({ lent: true })) {
    n += c.length;
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.equal(n, big.length);
  assert.ok(pool.allocated <= 8, `at most a few slabs were ever in use (${pool.allocated})`);

  // A consumer slower than the timeout is not a silent server: the download still completes.
  const patient = await download(req(`${base}/slow`, { timeoutMs: 150 }));
  let m = 0;
  for await (const c of patient.body.chunks({ lent: true })) {
    if (m === 0) await new Promise((r) => setTimeout(r, 500));
    m += c.length;
  }
  assert.equal(m, big.length);
});

test('a server silent for longer than the timeout fails the download', async () => {
  handler = (_q, s) => {
    s.writeHead(200, { 'content-length': big.length });
    s.write(big.subarray(0, 1000)); // then nothing
  };
  const head = await download(req(`${base}/silent`, { timeoutMs: 200 }));
  await assert.rejects(async () => {
    for await (const c of head.body.chunks()) void c;
  }, (e: unknown) => (e as { code?: string }).code === 'ETIMEDOUT' && isNetworkError(e));
});

test('a body cut short, a refused connection and an abort are errors the retry logic reads', async () => {
  handler = (_q, s) => {
    s.writeHead(200, { 'content-length': big.length });
    s.write(big.subarray(0, 1 << 20), () => s.socket?.destroy());
  };
  const head = await download(req(`${base}/cut`));
  let got = 0;
  const err = await (async () => {
    try {
      for await (const c of head.body.chunks({ lent: true })) got += c.length;
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(err, 'a short body is an error, not an end');
  assert.ok(isNetworkError(err), 'worth a retry (resumed with Range)');
  assert.ok(got > 0 && got < big.length);

  const closed = createNetServer();
  const port = await listen(closed);
  await new Promise((r) => closed.close(r));
  await assert.rejects(download(req(`http://127.0.0.1:${port}/`)), (e: unknown) => (e as { code?: string }).code === 'ECONNREFUSED' && isNetworkError(e));

  handler = () => {}; // never answers
  const ac = new AbortController();
  const p = download(req(`${base}/hang`, { signal: ac.signal }));
  setTimeout(() => ac.abort(new Error('stop')), 20);
  await assert.rejects(p, /stop/);
});

test('https: verified against the CA given, refused without it', async () => {
  const t = makeTls(tlsDir);
  const srv = createTlsServer({ cert: readFileSync(t.cert), key: readFileSync(t.key) }, serveBig);
  const port = await listen(srv as unknown as Server);
  try {
    const ok = await readAll(`https://127.0.0.1:${port}/b`, { tls: { ca: [readFileSync(t.caCert, 'utf8')], verify: true } });
    assert.equal(createHash('sha256').update(ok.bytes).digest('hex'), bigDigest);
    await assert.rejects(download(req(`https://127.0.0.1:${port}/b`)), (e: unknown) => isTlsTrustError(e));
    const insecure = await readAll(`https://127.0.0.1:${port}/b`, { tls: { ca: [], verify: false } });
    assert.equal(insecure.bytes.length, big.length);

    // TLS hands over 16 KiB records; for a consumer that is behind, adjacent ones come as one chunk
    const head = await download(req(`https://127.0.0.1:${port}/b`, { tls: { ca: [], verify: false } }));
    const hash = createHash('sha256');
    let largest = 0;
    for await (const c of head.body.chunks({ lent: true })) {
      hash.update(c);
      largest = Math.max(largest, c.length);
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(hash.digest('hex'), bigDigest);
    assert.ok(largest > 16 << 10, `records were joined (largest chunk ${largest} bytes)`);
  } finally {
    srv.close();
    srv.closeAllConnections();
  }
});

test('slab references: a release too many never frees a slab still in use', () => {
  const pool = new SlabPool(1024);
  const a = pool.take();
  const view = a.subarray(0, 10);
  retain(view); // two references: the taker's and the view's
  release(a);
  assert.equal(pool.available, 0, 'still referenced by the view');
  release(view);
  assert.equal(pool.available, 1);
  release(view); // one too many: ignored
  const b = pool.take();
  assert.equal(b, a, 'the slab is recycled');
  assert.equal(pool.available, 0);
  release(Buffer.alloc(4)); // an ordinary buffer: a no-op
  retain(Buffer.alloc(4));
  assert.equal(pool.allocated, 1);
});
