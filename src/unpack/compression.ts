/**
 * Layer compression: decided by the bytes (magic numbers), because Docker archives name every
 * layer `layer.tar` whatever it holds. Node 24's zlib decompresses both gzip and zstd, streaming.
 */
import { Readable, type Transform } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { release } from '../common/lent.ts';

export type Compression = 'none' | 'gzip' | 'zstd';

/** Bytes of decompressed output per chunk. */
const DECOMPRESS_CHUNK = 1 << 20;

export function sniffCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** The compression a layer media type announces (Docker and OCI names), or undefined if unknown. */
export function compressionOfMediaType(mediaType: string): Compression | undefined {
  if (/\.tar\.gzip$|tar\+gzip$/.test(mediaType)) return 'gzip';
  if (/tar\+zstd$|\.tar\.zstd$/.test(mediaType)) return 'zstd';
  if (/\.tar$|rootfs\.diff\.tar$|\.tar$/.test(mediaType) || mediaType.endsWith('layer.v1.tar')) return 'none';
  return undefined;
}

/** Reads until `n` bytes are seen, then hands back those bytes and a stream of the whole input. */
async function peek(input: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let have = 0;
  let ended = false;
  while (have < n) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    chunks.push(r.value);
    have += r.value.length;
  }
  const head = Buffer.concat(chunks);
  for (const c of chunks) release(c); // copied into `head`
  async function* all(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    while (!ended) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  // Destroying the returned stream returns the generator, which returns (destroys) the input.
  // Object mode: chunks pass through as they are (byte mode would concatenate buffered ones).
  return { head, stream: Readable.from(all(), { objectMode: true, highWaterMark: 1 }) };
}

/**
 * Writes `src` into the decompressor, releasing each chunk once the decompressor has consumed it
 * (a write's callback runs when its chunk is inflated): the input may be lent memory.
 */
async function feed(src: Readable, dec: Transform): Promise<void> {
  // Its consumer sees its errors; this keeps one that comes after the consumer left from
  // crashing the process. Its end (consumed, failed or destroyed) ends the input too.
  dec.on('error', () => {});
  dec.once('close', () => src.destroy());
  try {
    for await (const c of src as AsyncIterable<Buffer>) {
      if (dec.destroyed) {
        release(c);
        break;
      }
      if (!dec.write(c, () => release(c)))
        await new Promise<void>((resolve) => {
          const done = () => {
            dec.off('drain', done).off('close', done);
            resolve();
          };
          dec.on('drain', done).on('close', done);
        });
    }
    if (!dec.destroyed) dec.end();
  } catch (err) {
    dec.destroy(err instanceof Error ? err : new Error(String(err)));
  } finally {
    src.destroy();
  }
}

/**
 * The uncompressed tar stream of a layer blob, whichever compression it uses. Input chunks may be
 * lent (common/lent.ts): they are released when consumed, here when compressed, and by the
 * consumer of the returned stream when not (it gets them as they are).
 */
export async function decompressed(input: Readable): Promise<{ stream: Readable; compression: Compression }> {
  const { head, stream } = await peek(input, 4);
  const compression = sniffCompression(head);
  if (compression === 'none') return { stream, compression };
  // Large output chunks: each one is a round trip to the thread pool that inflates (16 KiB by
  // default, i.e. thousands of them per layer, each waiting for a CPU on a busy host). A few are
  // decompressed ahead while the consumer writes files, and handed out as they are (object mode:
  // a byte-mode read would concatenate them into a new buffer).
  const opts = { chunkSize: DECOMPRESS_CHUNK, readableObjectMode: true, readableHighWaterMark: 4 };
  const dec = compression === 'gzip' ? createGunzip(opts) : createZstdDecompress(opts);
  void feed(stream, dec);
  return { stream: dec, compression };
}
