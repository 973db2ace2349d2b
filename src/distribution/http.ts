/**
 * HTTP for registries, on node:http(s): one keep-alive agent per registry endpoint (with its TLS
 * material), redirects followed by hand so that credentials never travel to another origin (blob
 * storage behind a redirect gets a pre-signed URL, not our token), and transient failures
 * (connection resets, 429, 5xx) retried with exponential backoff. Connection failures that
 * persist become UnreachableError with one readable line. Blob bodies (`download: true`) come
 * through ./download.ts instead, which reads them into recycled memory.
 */
import type { IncomingMessage, IncomingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import { pipeline, type Readable } from 'node:stream';
import { ChunkQueue } from '../common/chunk-queue.ts';
import { SlabPool } from '../common/lent.ts';
import { download, SLAB_SIZE } from './download.ts';
import { connectionError, RegistryError, silenceError, UnreachableError } from './errors.ts';
import { tlsOptions, type TlsMaterial } from './registries.ts';

// Loaded with require: importing node:http as an ES module builds its module namespace, whose
// getters load Node's own copy of undici (for http.WebSocket): 30 ms of every pull's start here.
const load = createRequire(import.meta.url);
const { Agent: HttpAgent, request: httpRequest } = load('node:http') as typeof import('node:http');
const { Agent: HttpsAgent, request: httpsRequest } = load('node:https') as typeof import('node:https');
type HttpAgent = InstanceType<typeof HttpAgent>;
type HttpsAgent = InstanceType<typeof HttpsAgent>;

export type Body = Buffer | string | (() => Readable) | undefined;

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** A function body is called again for each attempt, so it can be retried. */
  body?: Body;
  signal?: AbortSignal;
  /** A large GET body (a blob): on a connection of its own, into recycled memory (./download.ts). */
  download?: boolean;
}

/** A response body, whichever way it came. */
export interface ResponseBody {
  /**
   * The chunks as they arrive. With `lent`, they may be views of recycled memory, valid until the
   * next one is asked for unless retained (common/lent.ts); without, the caller may keep them.
   */
  chunks(opts?: { lent?: boolean }): AsyncIterable<Buffer>;
  /** Discards the rest of the body. */
  dump(): Promise<void>;
  destroy(): void;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: ResponseBody;
  /** The URL that answered (after redirects). */
  url: string;
}

export interface RetryPolicy {
  retries: number;
  baseDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 3, baseDelayMs: 150 };

const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
const TLS_TRUST_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT_ALTNAME_INVALID|UNABLE_TO_GET_ISSUER/;

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

export function backoff(attempt: number, policy: RetryPolicy): number {
  return policy.baseDelayMs * 2 ** attempt * (0.75 + Math.random() * 0.5);
}

/** The innermost error code (errors may wrap the socket's). */
export function errorCode(err: unknown): string | undefined {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  let code: string | undefined;
  for (let i = 0; e && i < 5; i++) {
    if (typeof e.code === 'string') code = e.code;
    e = e.cause as typeof e;
  }
  return code;
}

/** An error of the connection or the transfer (not of the HTTP exchange): worth a retry. */
export function isNetworkError(err: unknown): boolean {
  const code = errorCode(err);
  if (!code) return false;
  return !TLS_TRUST_CODES.test(code) && code !== 'ABORT_ERR';
}

export function isTlsTrustError(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && TLS_TRUST_CODES.test(code);
}

/** A TLS handshake answered in plain HTTP (OpenSSL's code, or node:https's EPROTO with its text). */
function speaksNoTls(err: unknown): boolean {
  const code = errorCode(err);
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') return true;
  return code === 'EPROTO' && /wrong version number|packet length too long/i.test(String((err as Error)?.message));
}

/** One line for a connection failure to `host`. */
export function unreachable(host: string, err: unknown): UnreachableError {
  const code = errorCode(err);
  if (isTlsTrustError(err))
    return new UnreachableError(
      `registry ${host}: TLS certificate not trusted (${code}); put its CA in certs.d/${host}/ca.crt or use --tls-verify=false`,
    );
  if (speaksNoTls(err))
    return new UnreachableError(`registry ${host} does not speak TLS; if it is a plain HTTP registry, list it in insecure-registries or use --tls-verify=false`);
  const why = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'no such host' : (code ?? (err as Error)?.message ?? String(err));
  return new UnreachableError(`registry ${host} is unreachable: ${why}`);
}

/** A silent connection fails after this long (connecting, waiting for headers, reading a body). */
const TIMEOUT_MS = 60_000;

/** A node:http response's body. */
class MessageBody implements ResponseBody {
  private readonly msg: IncomingMessage;
  constructor(msg: IncomingMessage) {
    this.msg = msg;
  }

  chunks(): AsyncIterable<Buffer> {
    return bodyChunks(this.msg);
  }

  /** Reads the rest, so that the keep-alive connection can serve the next request. */
  dump(): Promise<void> {
    const m = this.msg;
    if (m.readableEnded || m.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      m.once('end', resolve).once('close', resolve).once('error', () => resolve());
      m.resume();
    });
  }

  destroy(): void {
    this.msg.destroy();
  }
}

export class Http {
  private readonly plain: HttpAgent;
  private readonly secure: HttpsAgent;
  private readonly tls: TlsMaterial;
  /** Read buffers of the downloads (recycled across them). */
  private readonly slabs = new SlabPool(SLAB_SIZE);
  readonly retry: RetryPolicy;

  constructor(tls: TlsMaterial, opts: { retry?: RetryPolicy; connections?: number } = {}) {
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.tls = tls;
    const pool = { keepAlive: true, maxSockets: opts.connections ?? 16, timeout: TIMEOUT_MS };
    this.plain = new HttpAgent(pool);
    this.secure = new HttpsAgent({ ...pool, ...tlsOptions(tls) });
  }

  async close(): Promise<void> {
    this.plain.destroy();
    this.secure.destroy();
  }

  /** One request and its response's head, on node:http. */
  private exchange(url: URL, method: HttpRequest['method'], headers: Record<string, string>, body: Body, signal: AbortSignal | undefined): Promise<Omit<HttpResponse, 'url'>> {
    return new Promise((resolve, reject) => {
      const https = url.protocol === 'https:';
      const req = (https ? httpsRequest : httpRequest)(url, {
        method,
        headers: { 'user-agent': 'berth', ...headers },
        agent: https ? this.secure : this.plain,
        timeout: TIMEOUT_MS,
        ...(signal ? { signal } : {}),
      });
      req.once('timeout', () => req.destroy(silenceError(url.host, TIMEOUT_MS)));
      req.once('error', reject);
      req.once('response', (msg: IncomingMessage) => {
        msg.setTimeout(TIMEOUT_MS, () => msg.destroy(silenceError(url.host, TIMEOUT_MS)));
        resolve({ status: msg.statusCode ?? 0, headers: msg.headers as IncomingHttpHeaders, body: new MessageBody(msg) });
      });
      if (typeof body === 'function') pipeline(body(), req, (err) => err && req.destroy(err));
      else req.end(body);
    });
  }

  /** One exchange, following redirects; no retries. */
  async once(req: HttpRequest): Promise<HttpResponse> {
    let url = req.url;
    let method = req.method;
    let headers = { ...req.headers };
    let body = req.body;
    const origin = new URL(url).origin;
    for (let hop = 0; ; hop++) {
      const u = new URL(url);
      const res =
        req.download && method === 'GET'
          ? await download({ url: u, headers, tls: this.tls, signal: req.signal, timeoutMs: TIMEOUT_MS, pool: this.slabs })
          : await this.exchange(u, method, headers, body, req.signal);
      const location = res.headers.location;
      if (!REDIRECT_STATUS.has(res.status) || typeof location !== 'string' || hop >= 10) return { ...res, url };
      await res.body.dump();
      url = new URL(location, url).toString();
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      if (new URL(url).origin !== origin) {
        const { authorization: _drop, Authorization: _drop2, ...rest } = headers;
        headers = rest;
      }
    }
  }

  /**
   * With retries: network errors and transient statuses are retried when the request can be
   * replayed (no body, or a buffer/function body). Persistent connection failures throw
   * UnreachableError naming `host`.
   */
  async send(req: HttpRequest, host: string, retries = this.retry.retries): Promise<HttpResponse> {
    const replayable = typeof req.body !== 'object' || Buffer.isBuffer(req.body);
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= retries || !replayable;
      let res: HttpResponse;
      try {
        res = await this.once(req);
      } catch (err) {
        if (req.signal?.aborted) throw req.signal.reason ?? err;
        if (!isNetworkError(err) || last) throw isNetworkError(err) || isTlsTrustError(err) ? unreachable(host, err) : err;
        await sleep(backoff(attempt, this.retry), req.signal);
        continue;
      }
      if (TRANSIENT_STATUS.has(res.status) && !last) {
        await res.body.dump();
        const after = Number(res.headers['retry-after']);
        await sleep(Number.isFinite(after) && after > 0 ? Math.min(after * 1000, 10_000) : backoff(attempt, this.retry), req.signal);
        continue;
      }
      return res;
    }
  }
}

/** Reads a response body as text, at most `max` bytes (registry errors and manifests are small). */
export async function readText(res: HttpResponse, max = 4 << 20): Promise<string> {
  return (await readBytes(res, max)).toString('utf8');
}

export async function readBytes(res: HttpResponse, max = 4 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body.chunks()) {
    n += c.length;
    if (n > max) {
      res.body.destroy();
      throw new RegistryError(`response from ${new URL(res.url).host} is larger than ${max} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The chunks of a response body as the socket delivered them. Iterating a byte-mode stream would
 * concatenate whatever is buffered into a new buffer on every read (a copy of each blob, and
 * garbage); here 'data' events hand over the parser's own slices, and pausing the stream keeps
 * the memory bounded when the consumer is slower than the network.
 */
export async function* bodyChunks(body: Readable, maxQueued = 32): AsyncGenerator<Buffer> {
  const queue = new ChunkQueue();
  const onData = (c: Buffer) => {
    queue.push(c);
    if (queue.length >= maxQueued) body.pause();
  };
  const onEnd = () => queue.end();
  // 'close' without 'end' is a body cut short: the consumer sees an error, not an end
  const onClose = () => (body.readableEnded ? queue.end() : queue.fail(connectionError('connection closed before the body was complete', 'ECONNRESET')));
  const onError = (err: unknown) => queue.fail(err);
  body.on('data', onData).once('end', onEnd).once('close', onClose).once('error', onError);
  try {
    yield* queue.take((left) => {
      if (left < maxQueued / 2 && body.isPaused()) body.resume();
    });
  } finally {
    body.off('data', onData).off('end', onEnd).off('close', onClose).off('error', onError);
    if (!body.readableEnded) body.destroy();
  }
}
