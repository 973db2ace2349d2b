/**
 * A client for one repository of one registry (OCI distribution spec, /v2/ API): its endpoints
 * (mirrors first when pulling), each with its connection pool, authenticator and scheme (for an
 * insecure registry: HTTPS without verification, else plain HTTP, decided once on first contact).
 * Registry error bodies become the one-line errors of ./errors.ts.
 */
import type { Readable } from 'node:stream';
import { DigestMismatchError } from '../store/content.ts';
import { isDigest, sha256, shortId, type Digest } from '../store/digest.ts';
import { MT } from '../image/media.ts';
import { getCredentials, type Credentials } from './authfile.ts';
import { Authenticator, repositoryScope } from './auth.ts';
import { connectionError, ManifestUnknownError, RegistryError, UnauthorizedError, UnreachableError, parseErrorBody } from './errors.ts';
import { Http, backoff, header, isNetworkError, readBytes, readText, sleep, unreachable, type HttpRequest, type HttpResponse, type RetryPolicy } from './http.ts';
import type { Endpoint, RegistryConfig } from './registries.ts';

/** Every manifest type berth understands, best first (Docker schema 1 is not among them). */
export const MANIFEST_ACCEPT = [MT.ociIndex, MT.ociManifest, MT.dockerList, MT.dockerManifest].join(', ');

export interface ClientOptions {
  config: RegistryConfig;
  authFile: string;
  /** false: the registry itself is treated as insecure (--tls-verify=false). */
  tlsVerify?: boolean;
  retry?: RetryPolicy;
  /** Ask for push access as well as pull. */
  push?: boolean;
  /** Credentials to use instead of the auth file's (login checks them before storing them). */
  credentials?: Credentials;
}

interface Conn {
  ep: Endpoint;
  http: Http;
  auth: Authenticator;
  scheme: 'https' | 'http' | undefined;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

export interface BlobRef {
  digest: Digest;
  size: number;
}

type Req = Omit<HttpRequest, 'url'> & { rel?: string; url?: string };

export class RegistryClient {
  readonly domain: string;
  readonly path: string;
  private readonly conns: Conn[];
  private readonly scopes: string[];
  /** The endpoint that served the last manifest: blobs are fetched from it first. */
  private active = 0;

  constructor(domain: string, path: string, opts: ClientOptions) {
    this.domain = domain;
    this.path = path;
    this.scopes = [repositoryScope(path, opts.push ? ['pull', 'push'] : ['pull'])];
    const eps = opts.config.endpoints(domain, { pull: !opts.push, ...(opts.tlsVerify === undefined ? {} : { tlsVerify: opts.tlsVerify }) });
    this.conns = eps.map((ep) => {
      const http = new Http(ep.tls, opts.retry ? { retry: opts.retry } : {});
      const creds = !ep.mirror && opts.credentials ? opts.credentials : getCredentials(opts.authFile, ep.mirror ? ep.host : domain);
      return { ep, http, auth: new Authenticator(ep.host, http, creds), scheme: ep.schemes.length === 1 ? ep.schemes[0] : undefined };
    });
  }

  get retry(): RetryPolicy {
    return this.conns[0]!.http.retry;
  }

  async close(): Promise<void> {
    await Promise.all(this.conns.map((c) => c.http.close()));
  }

  /** The registry itself (not a mirror). */
  private get origin(): Conn {
    return this.conns[this.conns.length - 1]!;
  }

  private base(c: Conn, scheme = c.scheme ?? c.ep.schemes[0]!): string {
    return `${scheme}://${c.ep.host}/v2/`;
  }

  /** Sends on `c`, settling the scheme of an insecure endpoint on first contact. */
  private async exchange(c: Conn, req: Req): Promise<HttpResponse> {
    const build = (scheme: 'https' | 'http'): HttpRequest => ({ ...req, url: req.url ?? `${this.base(c, scheme)}${req.rel ?? ''}` });
    if (c.scheme || req.url) return c.http.send(build(c.scheme ?? 'https'), c.ep.host);
    try {
      const res = await c.http.send(build('https'), c.ep.host, 0);
      c.scheme = 'https';
      return res;
    } catch (err) {
      if (!(err instanceof UnreachableError)) throw err;
      c.scheme = 'http';
      return c.http.send(build('http'), c.ep.host);
    }
  }

  /** One request with authentication: a 401 is answered once, then passed to the caller. */
  private async request(c: Conn, req: Req, extraScopes: string[] = []): Promise<HttpResponse> {
    const scopes = [...this.scopes, ...extraScopes];
    const headers = { ...req.headers };
    const a = c.auth.current(scopes);
    if (a) headers.authorization = a;
    const res = await this.exchange(c, { ...req, headers });
    if (res.status !== 401) return res;
    const www = res.headers['www-authenticate'];
    await res.body.dump();
    headers.authorization = await c.auth.respond(www, scopes);
    return this.exchange(c, { ...req, headers });
  }

  /** Turns an unexpected answer into the matching one-line error. */
  private async fail(res: HttpResponse, what: string): Promise<never> {
    const text = res.status === 204 || res.body === undefined ? '' : await readText(res, 64 << 10).catch(() => '');
    const e = parseErrorBody(text);
    const msg = e?.message ?? (text.trim().split('\n')[0]?.slice(0, 200) || `HTTP ${res.status}`);
    const repo = `${this.domain}/${this.path}`;
    if (res.status === 401)
      throw new UnauthorizedError(`${what}: access to ${repo} denied, the repository does not exist or needs 'berth login' (unauthorized: ${msg})`);
    if (res.status === 403) throw new UnauthorizedError(`${what}: access to ${repo} denied (denied: ${msg})`, 403);
    if (res.status === 404 && e?.code === 'NAME_UNKNOWN') throw new ManifestUnknownError(`repository ${repo} not found: name unknown`);
    throw new RegistryError(`${what}: ${msg}`, res.status, res.status === 404 ? 'not-found' : 'system');
  }

  /**
   * Fetches a manifest or index by tag or digest, from a mirror or the registry, verified: by
   * digest it must hash to that digest, by tag to the Docker-Content-Digest the registry sent.
   */
  async getManifest(reference: string): Promise<FetchedManifest> {
    let lastErr: unknown;
    for (let i = 0; i < this.conns.length; i++) {
      const c = this.conns[i]!;
      try {
        const m = await this.manifestFrom(c, reference);
        this.active = i;
        return m;
      } catch (err) {
        lastErr = err;
        if (err instanceof DigestMismatchError && !c.ep.mirror) throw err;
      }
    }
    throw lastErr;
  }

  private async manifestFrom(c: Conn, reference: string): Promise<FetchedManifest> {
    const res = await this.request(c, { method: 'GET', rel: `${this.path}/manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT } });
    if (res.status === 404) {
      const e = parseErrorBody(await readText(res, 64 << 10).catch(() => ''));
      if (e?.code === 'NAME_UNKNOWN') throw new ManifestUnknownError(`repository ${this.domain}/${this.path} not found: name unknown`);
      throw new ManifestUnknownError(`manifest for ${this.domain}/${this.path}${isDigest(reference) ? '@' : ':'}${reference} not found: manifest unknown`);
    }
    if (res.status !== 200) return this.fail(res, `manifest ${reference}`);
    const bytes = await readBytes(res);
    const digest = sha256(bytes);
    const claimed = header(res, 'docker-content-digest');
    const expected = isDigest(reference) ? reference : isDigest(claimed) ? claimed : undefined;
    if (expected && expected !== digest) throw new DigestMismatchError(`manifest ${shortId(expected)} digest`, expected, digest);
    let mediaType = header(res, 'content-type')?.split(';')[0]?.trim() ?? '';
    if (!mediaType || mediaType === 'application/json' || mediaType === 'text/plain') {
      try {
        const j = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown };
        mediaType = j.mediaType ?? (j.manifests ? MT.ociIndex : MT.ociManifest);
      } catch {
        throw new RegistryError(`manifest ${reference} from ${c.ep.host} is not JSON`);
      }
    }
    return { bytes, mediaType, digest };
  }

  /**
   * Streams a blob, resuming with a Range request after the connection breaks (as long as each
   * attempt makes progress, or within the retry policy); blob storage redirects are followed by
   * the HTTP layer. The caller verifies the bytes (the store's ingest does). With `lent`, the
   * chunks are views of recycled memory (common/lent.ts): valid until the next is asked for.
   */
  async *blobStream(blob: BlobRef, opts: { signal?: AbortSignal; onBytes?: (n: number) => void; lent?: boolean } = {}): AsyncGenerator<Buffer> {
    const order = [this.active, ...this.conns.keys()].filter((v, i, a) => a.indexOf(v) === i);
    let offset = 0;
    let failures = 0;
    let failedAt = -1;
    for (let ci = 0; ; ) {
      const c = this.conns[order[ci]!]!;
      const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
      const res = await this.request(c, {
        method: 'GET',
        rel: `${this.path}/blobs/${blob.digest}`,
        headers,
        download: true,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      if (res.status !== 200 && !(res.status === 206 && offset > 0)) {
        if (offset === 0 && ci + 1 < order.length) {
          await res.body.dump();
          ci++; // a mirror without the blob: the next endpoint
          continue;
        }
        if (res.status === 404) {
          await res.body.dump();
          throw new RegistryError(`blob ${blob.digest} not found in ${this.domain}/${this.path}`, 404, 'not-found');
        }
        return this.fail(res, `blob ${shortId(blob.digest)}`);
      }
      let skip = 0;
      if (offset > 0 && res.status === 206) {
        const start = Number(/^bytes (\d+)-/.exec(header(res, 'content-range') ?? '')?.[1] ?? NaN);
        if (start !== offset) {
          res.body.destroy();
          throw new RegistryError(`blob ${shortId(blob.digest)}: the registry resumed at the wrong offset`);
        }
      } else skip = offset; // a server that ignores Range sends everything again
      let done = false;
      try {
        for await (const chunk of res.body.chunks({ lent: opts.lent === true })) {
          let b = chunk;
          if (skip > 0) {
            if (b.length <= skip) {
              skip -= b.length;
              continue;
            }
            b = b.subarray(skip);
            skip = 0;
          }
          offset += b.length;
          opts.onBytes?.(b.length);
          yield b;
        }
        if (offset >= blob.size) {
          done = true;
          return;
        }
        throw connectionError('connection closed before the blob was complete', 'ECONNRESET');
      } catch (err) {
        if (opts.signal?.aborted) throw opts.signal.reason ?? err;
        if (!isNetworkError(err)) throw err;
        if (offset > failedAt) failures = 0;
        failedAt = offset;
        if (++failures > this.retry.retries) throw unreachable(c.ep.host, err);
        await sleep(backoff(failures - 1, this.retry), opts.signal);
      } finally {
        if (!done) res.body.destroy();
      }
    }
  }

  /** A small blob (an image config), whole and verified. */
  async getBlob(blob: BlobRef, max = 8 << 20): Promise<Buffer> {
    if (blob.size > max) throw new RegistryError(`blob ${shortId(blob.digest)} is too large (${blob.size} bytes) for metadata`);
    const chunks: Buffer[] = [];
    for await (const c of this.blobStream(blob)) chunks.push(c);
    const buf = Buffer.concat(chunks);
    const d = sha256(buf);
    if (d !== blob.digest) throw new DigestMismatchError(`blob ${shortId(blob.digest)} digest`, blob.digest, d);
    return buf;
  }

  // ---- push (always the registry itself, never a mirror) ----

  async blobExists(digest: Digest): Promise<boolean> {
    const res = await this.request(this.origin, { method: 'HEAD', rel: `${this.path}/blobs/${digest}` });
    await res.body.dump();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    return this.fail(res, `blob ${shortId(digest)}`);
  }

  private location(res: HttpResponse, c: Conn): string {
    const loc = header(res, 'location');
    if (!loc) throw new RegistryError(`${c.ep.host} started an upload without a Location`);
    return new URL(loc, this.base(c)).toString();
  }

  /**
   * Tries a cross-repository mount of `digest` from `from` (a repository path on the same
   * registry). Returns true when mounted, else the upload URL the registry opened instead.
   */
  async mountBlob(digest: Digest, from: string): Promise<true | string> {
    const c = this.origin;
    const res = await this.request(
      c,
      { method: 'POST', rel: `${this.path}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`, headers: { 'content-length': '0' } },
      [repositoryScope(from, ['pull'])],
    );
    await res.body.dump();
    if (res.status === 201) return true;
    if (res.status === 202) return this.location(res, c);
    return this.fail(res, `mount of blob ${shortId(digest)}`);
  }

  async startUpload(): Promise<string> {
    const c = this.origin;
    const res = await this.request(c, { method: 'POST', rel: `${this.path}/blobs/uploads/`, headers: { 'content-length': '0' } });
    await res.body.dump();
    if (res.status !== 202) return this.fail(res, 'upload');
    return this.location(res, c);
  }

  private withDigest(url: string, digest: Digest): string {
    const u = new URL(url);
    u.searchParams.set('digest', digest);
    return u.toString();
  }

  /** Monolithic upload: the whole blob in one PUT. */
  async putBlob(url: string, blob: BlobRef, open: () => Readable): Promise<void> {
    const res = await this.request(this.origin, {
      method: 'PUT',
      url: this.withDigest(url, blob.digest),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      body: open,
    });
    await this.expectCreated(res, blob.digest);
  }

  /** Chunked upload: PATCHes of `chunkSize` bytes with Content-Range, then a closing PUT. */
  async putBlobChunked(url: string, blob: BlobRef, open: (start: number, end: number) => Readable, chunkSize: number): Promise<void> {
    const c = this.origin;
    let loc = url;
    for (let start = 0; start < blob.size; start += chunkSize) {
      const end = Math.min(start + chunkSize, blob.size) - 1;
      const res = await this.request(c, {
        method: 'PATCH',
        url: loc,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - start + 1), 'content-range': `${start}-${end}` },
        body: () => open(start, end),
      });
      await res.body.dump();
      if (res.status !== 202) return this.fail(res, `upload of blob ${shortId(blob.digest)}`);
      loc = this.location(res, c);
    }
    const res = await this.request(c, { method: 'PUT', url: this.withDigest(loc, blob.digest), headers: { 'content-length': '0' } });
    await this.expectCreated(res, blob.digest);
  }

  private async expectCreated(res: HttpResponse, digest: Digest): Promise<void> {
    if (res.status !== 201 && res.status !== 204) return this.fail(res, `upload of blob ${shortId(digest)}`);
    await res.body.dump();
    const got = header(res, 'docker-content-digest');
    if (got && isDigest(got) && got !== digest) throw new DigestMismatchError(`uploaded blob ${shortId(digest)} digest`, digest, got);
  }

  /** PUTs a manifest under a tag (or its digest); returns the digest the registry stored. */
  async putManifest(reference: string, bytes: Buffer, mediaType: string): Promise<Digest> {
    const res = await this.request(this.origin, {
      method: 'PUT',
      rel: `${this.path}/manifests/${reference}`,
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: bytes,
    });
    if (res.status !== 201 && res.status !== 200) return this.fail(res, `manifest ${reference}`);
    await res.body.dump();
    const digest = sha256(bytes);
    const got = header(res, 'docker-content-digest');
    if (got && isDigest(got) && got !== digest) throw new DigestMismatchError('pushed manifest digest', digest, got);
    return digest;
  }

  /** GET /v2/ with credentials: what `login` checks. Throws UnauthorizedError when refused. */
  async ping(): Promise<void> {
    const c = this.origin;
    let res = await this.exchange(c, { method: 'GET', rel: '' });
    if (res.status === 401) {
      const www = res.headers['www-authenticate'];
      await res.body.dump();
      const auth = await c.auth.respond(www, []);
      res = await this.exchange(c, { method: 'GET', rel: '', headers: { authorization: auth } });
    }
    if (res.status === 401 || res.status === 403) {
      await res.body.dump();
      throw new UnauthorizedError(`unauthorized: incorrect username or password for ${this.domain}`, res.status);
    }
    if (res.status !== 200) return this.fail(res, `registry ${this.domain}`);
    await res.body.dump();
  }
}
