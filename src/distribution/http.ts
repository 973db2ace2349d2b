/**
 * HTTP for registries, on undici: one connection pool per registry endpoint (with its TLS
 * material), redirects followed by hand so that credentials never travel to another origin (blob
 * storage behind a redirect gets a pre-signed URL, not our token), and transient failures
 * (connection resets, 429, 5xx) retried with exponential backoff. Connection failures that
 * persist become UnreachableError with one readable line.
 */
import { rootCertificates } from 'node:tls';
import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { RegistryError, UnreachableError } from './errors.ts';
import type { TlsMaterial } from './registries.ts';

export type Body = Buffer | string | (() => Readable) | undefined;

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** A function body is called again for each attempt, so it can be retried. */
  body?: Body;
  signal?: AbortSignal;
  /** Response buffering; blobs use a large one so a slow consumer moment does not stall the socket. */
  highWaterMark?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
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

/** The innermost error code (undici wraps socket errors). */
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
  return !TLS_TRUST_CODES.test(code) && code !== 'UND_ERR_ABORTED' && code !== 'ABORT_ERR';
}

export function isTlsTrustError(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && TLS_TRUST_CODES.test(code);
}

/** One line for a connection failure to `host`. */
export function unreachable(host: string, err: unknown): UnreachableError {
  const code = errorCode(err);
  if (isTlsTrustError(err))
    return new UnreachableError(
      `registry ${host}: TLS certificate not trusted (${code}); put its CA in certs.d/${host}/ca.crt or use --tls-verify=false`,
    );
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG')
    return new UnreachableError(`registry ${host} does not speak TLS; if it is a plain HTTP registry, list it in insecure-registries or use --tls-verify=false`);
  const why = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'no such host' : (code ?? (err as Error)?.message ?? String(err));
  return new UnreachableError(`registry ${host} is unreachable: ${why}`);
}

export class Http {
  private readonly agent: Agent;
  readonly retry: RetryPolicy;

  constructor(tls: TlsMaterial, opts: { retry?: RetryPolicy; connections?: number } = {}) {
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.agent = new Agent({
      connect: {
        ...(tls.ca.length ? { ca: [...rootCertificates, ...tls.ca] } : {}),
        ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
        rejectUnauthorized: tls.verify,
      },
      connections: opts.connections ?? 16,
      keepAliveTimeout: 30_000,
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => {});
  }

  /** One exchange, following redirects; no retries. */
  async once(req: HttpRequest): Promise<HttpResponse> {
    let url = req.url;
    let method = req.method;
    let headers = { ...req.headers };
    let body = req.body;
    const origin = new URL(url).origin;
    for (let hop = 0; ; hop++) {
      const res = await request(url, {
        method,
        headers,
        body: typeof body === 'function' ? body() : (body ?? null),
        dispatcher: this.agent,
        signal: req.signal ?? null,
        ...(req.highWaterMark ? { highWaterMark: req.highWaterMark } : {}),
      });
      const location = res.headers.location;
      if (!REDIRECT_STATUS.has(res.statusCode) || typeof location !== 'string' || hop >= 10)
        return { status: res.statusCode, headers: res.headers, body: res.body, url };
      await res.body.dump();
      url = new URL(location, url).toString();
      if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) {
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
  for await (const c of res.body as AsyncIterable<Buffer>) {
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
  const queue: Buffer[] = [];
  let ended = false;
  let failure: { err: unknown } | undefined;
  let wake: (() => void) | undefined;
  const signal = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (c: Buffer) => {
    queue.push(c);
    if (queue.length >= maxQueued) body.pause();
    signal();
  };
  const onEnd = () => {
    ended = true;
    signal();
  };
  const onError = (err: unknown) => {
    failure = { err };
    signal();
  };
  body.on('data', onData).once('end', onEnd).once('close', onEnd).once('error', onError);
  try {
    for (;;) {
      const c = queue.shift();
      if (c) {
        if (queue.length < maxQueued / 2 && body.isPaused()) body.resume();
        yield c;
        continue;
      }
      if (failure) throw failure.err;
      if (ended) {
        // 'close' without 'end' is a body cut short: let the caller see an error, not an end
        if (!body.readableEnded) throw Object.assign(new Error('connection closed before the body was complete'), { code: 'UND_ERR_SOCKET' });
        return;
      }
      await new Promise<void>((r) => (wake = r));
    }
  } finally {
    body.off('data', onData).off('end', onEnd).off('close', onEnd).off('error', onError);
    if (!body.readableEnded) body.destroy();
  }
}
