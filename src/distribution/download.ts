/**
 * Large response bodies (layer blobs) on a connection of their own, read into recycled slabs.
 *
 * Why not node:http or undici here: both give every socket read a newly allocated buffer, and on
 * this kind of host touching fresh memory is what costs (see common/lent.ts). Measured on the
 * pull benchmark's 114 MB image from a local registry: node:http took 0.78 s of CPU and 0.56 s
 * to receive it, undici 0.94 s and 0.62 s; a socket reading into recycled slabs took 0.17 s of CPU
 * and 0.11 s. The response is parsed by http-parser-js, whose body callbacks hand out views of
 * the slab (no copy). Everything else (manifests, tokens, uploads) stays on node:http.
 *
 * The connection serves this one request and is closed after it: a blob is large enough that a
 * new connection costs little next to it, and no keep-alive state has to be managed.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { HTTPParser } from 'http-parser-js';
import { ChunkQueue } from '../common/chunk-queue.ts';
import { release, retain, type SlabPool } from '../common/lent.ts';
import { connectionError, silenceError } from './errors.ts';
import { tlsOptions, type TlsMaterial } from './registries.ts';

/** One socket read at most: a busy reader finds this much waiting on a fast link. */
export const SLAB_SIZE = 256 << 10;
/** The room a read needs: with less left in its slab, the next read goes to a new one. */
const MIN_READ = 64 << 10;
/** Chunks queued for a slow consumer before the socket stops reading. */
const MAX_QUEUED = 4;

export interface DownloadRequest {
  url: URL;
  headers: Record<string, string>;
  tls: TlsMaterial;
  signal?: AbortSignal | undefined;
  /** A connection silent for this long fails (connect, headers or body). */
  timeoutMs: number;
  /**
   * Where reads go. Shared by the downloads of one pull: each slab is touched fresh once, then
   * recycled across layers; it goes with the pull.
   */
  pool: SlabPool;
}

export interface DownloadHead {
  status: number;
  headers: Record<string, string | string[]>;
  body: DownloadBody;
}

function headerMap(flat: string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const k = flat[i]!.toLowerCase();
    const v = flat[i + 1]!;
    const had = out[k];
    out[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  }
  return out;
}

/** The body of a download: its chunks in order, then its end (or the connection's failure). */
export class DownloadBody {
  private readonly socket: Socket;
  private readonly queue = new ChunkQueue();
  private paused = false;
  private readonly timeoutMs: number;

  /** @internal */
  constructor(socket: Socket, timeoutMs: number) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
  }

  /**
   * @internal the parser's view of a slab: kept (retained) until the consumer has seen it. A view
   * that continues the last one still queued extends it instead: TLS hands over one 16 KiB record
   * per read, and a consumer that is behind gets them as one chunk (fewer writes to the
   * decompressor, each a round trip to the thread pool), still without a copy.
   */
  push(chunk: Buffer): void {
    const last = this.queue.last;
    if (last && last.buffer === chunk.buffer && last.byteOffset + last.length === chunk.byteOffset) {
      this.queue.replaceLast(Buffer.from(last.buffer, last.byteOffset, last.length + chunk.length));
    } else {
      retain(chunk);
      this.queue.push(chunk);
    }
  }

  /**
   * @internal whether the socket should stop reading for now. While it waits for the consumer,
   * its silence is ours, not the server's: the timeout is off until it reads again.
   */
  full(): boolean {
    this.paused = this.queue.length >= MAX_QUEUED;
    if (this.paused) this.socket.setTimeout(0);
    return this.paused;
  }

  /** @internal */
  end(): void {
    this.queue.end();
  }

  /** @internal a failure after a complete body is not one */
  fail(err: unknown): void {
    if (!this.queue.ended) this.queue.fail(err);
  }

  /**
   * The chunks as they arrive. With `lent`, each one is a view of a recycled slab, valid until
   * the next is asked for unless the consumer retains it (common/lent.ts); without, copies.
   */
  async *chunks(opts: { lent?: boolean } = {}): AsyncGenerator<Buffer> {
    const resume = (left: number) => {
      if (!this.paused || left >= MAX_QUEUED / 2) return;
      this.paused = false;
      this.socket.setTimeout(this.timeoutMs);
      this.socket.resume();
    };
    try {
      for await (const c of this.queue.take(resume)) {
        if (opts.lent) {
          try {
            yield c;
          } finally {
            release(c);
          }
        } else {
          const copy = Buffer.from(c);
          release(c);
          yield copy;
        }
      }
    } finally {
      this.destroy();
    }
  }

  /** The connection is not reused: dropping it is the cheapest way to discard the rest. */
  async dump(): Promise<void> {
    this.destroy();
  }

  destroy(): void {
    for (const c of this.queue.clear()) release(c);
    if (!this.socket.destroyed) this.socket.destroy();
  }
}

/**
 * Sends a GET and resolves once the response's head has arrived. Connection and TLS failures
 * reject with the socket's error (its `code` says what happened: ECONNREFUSED, a certificate
 * code, …), as node:http would.
 */
export function download(req: DownloadRequest): Promise<DownloadHead> {
  const { url, tls } = req;
  const https = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port || (https ? 443 : 80));
  const pool = req.pool;
  const parser = new HTTPParser(HTTPParser.RESPONSE);
  let body: DownloadBody | undefined;

  return new Promise<DownloadHead>((resolve, reject) => {
    let settled = false;
    const failed = (err: unknown): void => {
      if (!settled) {
        settled = true;
        reject(err);
      }
      body?.fail(err);
      if (!socket.destroyed) socket.destroy();
    };
    // Reads fill a slab one after the other (each into the room the last one left), so that
    // small reads (TLS records) lie side by side and can be handed out as one chunk. The reader
    // holds its own reference to the slab it fills, and drops it when it moves to the next.
    let slab: Buffer | undefined;
    let used = 0;
    const onread = {
      buffer: (): Buffer => {
        if (!slab || slab.length - used < MIN_READ) {
          if (slab) release(slab);
          slab = pool.take();
          used = 0;
        }
        return slab.subarray(used);
      },
      callback: (n: number, room: Buffer): boolean => {
        used += n;
        const r = parser.execute(room, 0, n);
        if (r instanceof Error) {
          failed(connectionError(`bad HTTP response from ${url.host}: ${r.message}`, 'HPE_INVALID'));
          return false;
        }
        return !body?.full();
      },
    };
    const opts = { host, port, onread };
    const socket: Socket = https
      ? tlsConnect({
          ...opts,
          ...(isIP(host) ? {} : { servername: host }),
          ...tlsOptions(tls),
          ALPNProtocols: ['http/1.1'],
        })
      : netConnect(opts);

    parser[HTTPParser.kOnHeadersComplete] = (info) => {
      body = new DownloadBody(socket, req.timeoutMs);
      settled = true;
      resolve({ status: info.statusCode, headers: headerMap(info.headers), body });
    };
    parser[HTTPParser.kOnBody] = (chunk, start, len) => {
      if (len > 0) body?.push(start === 0 && len === chunk.length ? chunk : chunk.subarray(start, start + len));
    };
    parser[HTTPParser.kOnMessageComplete] = () => {
      body?.end();
      socket.destroy();
    };

    socket.setNoDelay(true);
    socket.setTimeout(req.timeoutMs, () => failed(silenceError(url.host, req.timeoutMs)));
    socket.on('error', failed);
    socket.on('end', () => {
      // A body without a length ends with the connection; any other end is a body cut short.
      const r = parser.finish();
      if (r instanceof Error || !body) failed(connectionError('connection closed before the response was complete', 'ECONNRESET'));
    });
    const onAbort = () => failed(req.signal?.reason ?? connectionError('aborted', 'ABORT_ERR'));
    socket.on('close', () => {
      if (slab) release(slab);
      slab = undefined;
      req.signal?.removeEventListener('abort', onAbort);
      failed(connectionError('connection closed before the response was complete', 'ECONNRESET')); // a no-op after a complete body
    });
    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener('abort', onAbort, { once: true });

    const path = `${url.pathname}${url.search}`;
    const lines = [`GET ${path} HTTP/1.1`, `Host: ${url.host}`, 'Connection: close', 'User-Agent: berth'];
    for (const [k, v] of Object.entries(req.headers)) {
      if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) return failed(new Error(`header ${k} holds a line break`));
      lines.push(`${k}: ${v}`);
    }
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}
