/**
 * Fetching one layer into the store. A layer whose snapshot is missing is unpacked *while* it
 * downloads: every chunk goes both to the content store's ingest (which hashes it) and to the
 * unpacker. The unpacker's input is ended only after the ingest has verified the blob's digest,
 * so a snapshot is never committed from bytes that turned out to be wrong; on any failure both
 * sides are discarded (the ingest's temp file, the snapshot's temp directory).
 */
import { PassThrough } from 'node:stream';
import { retain } from '../common/lent.ts';
import type { Digest } from '../store/digest.ts';
import type { PendingSnapshot } from '../store/snapshots.ts';
import type { Store } from '../store/store.ts';
import type { BlobRef, RegistryClient } from './client.ts';

export interface LayerJob {
  blob: BlobRef;
  chainID: Digest;
  parent: Digest | null;
  diffID: Digest;
}

export interface LayerEvents {
  onBytes?: (n: number) => void;
  signal?: AbortSignal;
}

/**
 * Downloads the blob (verified) and, when `unpack`, unpacks its snapshot from the same bytes,
 * returned uncommitted: the caller commits all of an image's snapshots with one syncfs.
 */
export async function fetchLayer(store: Store, client: RegistryClient, job: LayerJob, unpack: boolean, ev: LayerEvents = {}): Promise<PendingSnapshot | undefined> {
  const what = `blob ${job.blob.digest}`;
  const expected = { digest: job.blob.digest, size: job.blob.size };
  // Lent chunks (recycled memory): the ingest hashes and writes each before asking for the next.
  const streamOpts = { lent: true, ...(ev.signal ? { signal: ev.signal } : {}), ...(ev.onBytes ? { onBytes: ev.onBytes } : {}) };
  if (!unpack) {
    await store.content.ingest(client.blobStream(job.blob, streamOpts), expected, what);
    return undefined;
  }
  let unpackErr: unknown;
  // object mode: chunks pass as they are, never concatenated into new buffers
  const tee = new PassThrough({ objectMode: true, highWaterMark: 8 });
  tee.on('error', () => {}); // reported through `unpacking`
  const unpacking = store.snapshots.unpack(job.chainID, job.parent, job.diffID, () => tee);
  // If the unpacker gives up (a corrupt or hostile layer), the download still runs to its end:
  // bytes that do not match the digest are reported as such, not as whatever the unpacker saw.
  const stopped = new Promise<void>((resolve) => {
    tee.once('close', resolve);
    unpacking.then(
      () => resolve(),
      (err: unknown) => {
        unpackErr = err;
        resolve();
      },
    );
  });
  // The ingest takes each chunk first (it hashes and writes it before asking for the next), then
  // the unpacker, which keeps it until its decompressor is done with it: retained here, released
  // there (unpack/compression.ts).
  async function* both(): AsyncGenerator<Buffer> {
    for await (const chunk of client.blobStream(job.blob, streamOpts)) {
      yield chunk;
      if (unpackErr !== undefined || tee.destroyed) continue;
      retain(chunk);
      if (!tee.write(chunk)) await Promise.race([new Promise((r) => tee.once('drain', r)), stopped]);
    }
  }
  try {
    await store.content.ingest(both(), expected, what);
  } catch (err) {
    tee.destroy(err instanceof Error ? err : new Error(String(err)));
    await unpacking.catch(() => {});
    throw err;
  }
  tee.end(); // the blob is verified: the unpacker may now finish
  return unpacking;
}

/** Unpacks a missing snapshot (uncommitted) from a blob already in the store. */
export async function unpackStored(store: Store, job: LayerJob): Promise<PendingSnapshot> {
  return store.snapshots.unpack(job.chainID, job.parent, job.diffID, () => store.content.open(job.blob.digest));
}
