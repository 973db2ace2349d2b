/**
 * The content store: immutable blobs addressed by their sha256 (after containerd's content store).
 * Ingest is atomic: bytes go to a temp file under ingest/, are counted and hashed on the way,
 * checked against the expected size and digest, fsynced, and only then renamed into blobs/. A
 * mismatch or a crash stores nothing; two processes ingesting the same content both succeed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BerthError, NotFoundError } from '../common/errors.ts';
import { isDigest, shortId, type Digest } from './digest.ts';
import { fsyncDir } from './atomic.ts';
import type { StoreLayout } from './layout.ts';

/** Content whose bytes do not hash (or count) to what the reference promised. */
export class DigestMismatchError extends BerthError {
  constructor(what: string, expected: string, actual: string) {
    super('invalid-argument', `${what} does not match: expected ${expected}, got ${actual}`);
  }
}

/** Bytes per read of a local file: few, large reads (see `readFile`). */
export const READ_CHUNK = 1 << 20;

/**
 * A local file as a stream of large chunks read synchronously. Every asynchronous read is a round
 * trip through libuv's thread pool, and on a busy host each wakeup of a pool thread waits for a
 * CPU: reading a 100 MB layer 64 KiB at a time that way took ten times as long as reading it with
 * readSync. A read from a local file (usually from the page cache) does not block for long.
 */
export function readFile(path: string, chunk = READ_CHUNK): Readable {
  function* chunks(): Generator<Buffer> {
    const fd = openSync(path, 'r'); // on the first read: a stream never read holds no fd
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(chunk);
        const n = readSync(fd, buf, 0, chunk, null);
        if (n === 0) return;
        yield n < chunk ? buf.subarray(0, n) : buf;
      }
    } finally {
      closeSync(fd); // also when the consumer stops early: destroying the stream returns the generator
    }
  }
  // Object mode: each read hands out one chunk as it was read (a byte-mode Readable concatenates
  // whatever it has buffered into a new Buffer on every read, copying the file once more).
  return Readable.from(chunks(), { objectMode: true, highWaterMark: 1 });
}

export interface Expected {
  digest?: Digest;
  size?: number;
}

export interface BlobInfo {
  digest: Digest;
  size: number;
}

export class ContentStore {
  readonly layout: StoreLayout;
  constructor(layout: StoreLayout) {
    this.layout = layout;
  }

  has(d: Digest): boolean {
    return existsSync(this.layout.blob(d));
  }

  size(d: Digest): number | undefined {
    try {
      return statSync(this.layout.blob(d)).size;
    } catch {
      return undefined;
    }
  }

  path(d: Digest): string {
    if (!this.has(d)) throw new NotFoundError(`blob ${shortId(d)} is not in the store`);
    return this.layout.blob(d);
  }

  open(d: Digest): Readable {
    return readFile(this.path(d));
  }

  /** Small blobs (manifests, configs): read whole, with a sanity cap. */
  readBuffer(d: Digest, max = 8 << 20): Buffer {
    const p = this.path(d);
    if (statSync(p).size > max) throw new BerthError('invalid-argument', `blob ${shortId(d)} is too large to be metadata`);
    return readFileSync(p);
  }

  readJson<T>(d: Digest): T {
    try {
      return JSON.parse(this.readBuffer(d).toString('utf8')) as T;
    } catch (err) {
      if (err instanceof BerthError) throw err;
      throw new BerthError('invalid-argument', `blob ${shortId(d)} is not valid JSON`);
    }
  }

  /**
   * Writes `src` into the store. With `expected`, the content must match it or nothing is stored
   * (DigestMismatchError). Resolves to the stored blob's digest and size.
   */
  async ingest(src: AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer>, expected: Expected = {}, what = 'blob'): Promise<BlobInfo> {
    const tmp = join(this.layout.ingestDir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
    const fh = await open(tmp, 'wx', 0o600);
    const hash = createHash('sha256');
    let size = 0;
    let committed = false;
    try {
      for await (const chunk of src) {
        hash.update(chunk);
        size += chunk.length;
        if (expected.size !== undefined && size > expected.size)
          throw new DigestMismatchError(`${what} size`, String(expected.size), `more than ${expected.size} bytes`);
        // Synchronous: a write into the page cache is short, and an asynchronous one would cost
        // a thread-pool round trip per chunk (see `readFile`). Only the fsync waits off-thread.
        for (let off = 0; off < chunk.length; ) off += writeSync(fh.fd, chunk, off, chunk.length - off);
      }
      const digest: Digest = `sha256:${hash.digest('hex')}`;
      if (expected.size !== undefined && size !== expected.size)
        throw new DigestMismatchError(`${what} size`, String(expected.size), String(size));
      if (expected.digest !== undefined && digest !== expected.digest)
        throw new DigestMismatchError(`${what} digest`, expected.digest, digest);
      await fh.sync();
      await fh.close();
      // Renaming over an existing blob is harmless: same name, same bytes.
      await rename(tmp, this.layout.blob(digest));
      committed = true;
      fsyncDir(this.layout.blobDir);
      return { digest, size };
    } finally {
      if (!committed) {
        await fh.close().catch(() => {});
        await unlink(tmp).catch(() => {});
      }
    }
  }

  /** Ingests an in-memory buffer (manifests and configs berth writes itself). */
  async put(data: Buffer | string, expected: Expected = {}): Promise<BlobInfo> {
    return this.ingest([typeof data === 'string' ? Buffer.from(data) : data], expected);
  }

  list(): Digest[] {
    let names: string[] = [];
    try {
      names = readdirSync(this.layout.blobDir);
    } catch {
      return [];
    }
    return names.map((n) => `sha256:${n}`).filter(isDigest);
  }

  remove(d: Digest): void {
    rmSync(this.layout.blob(d), { force: true });
  }
}
