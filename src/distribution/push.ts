/**
 * `berth push`: a local image's blobs (layers and config) go up `concurrency` at a time, each
 * skipped when the registry has it (HEAD), mounted from another repository of the same registry
 * when a local tag says it came from there, else uploaded (one PUT, or PATCH chunks when a chunk
 * size is set and the blob is larger); then the stored manifest is PUT byte for byte, so the
 * pushed digest is the local one.
 */
import { createReadStream } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { NotFoundError } from '../common/errors.ts';
import { shortId, type Digest } from '../store/digest.ts';
import type { Descriptor } from '../store/images.ts';
import type { Store } from '../store/store.ts';
import { familiarName, parseReference, splitRepository, splitTagged } from '../image/reference.ts';
import { resolveImage } from '../image/resolve.ts';
import { RegistryClient } from './client.ts';
import { forEachLimit } from './pool.ts';
import type { TransferOptions } from './pull.ts';

export interface PushOptions extends TransferOptions {
  /** Upload blobs larger than this in PATCH chunks of this size (0: one PUT per blob). */
  chunkSize?: number;
}

export interface PushResult {
  reference: string;
  digest: Digest;
  size: number;
}

/** Repositories (paths on `domain`) holding `digest` according to local tags. */
function mountSources(store: Store, domain: string, ownPath: string, digest: Digest): string[] {
  const out = new Set<string>();
  for (const [name, id] of store.images.tags()) {
    const { repository } = splitTagged(name);
    const r = splitRepository(repository);
    if (r.domain !== domain || r.path === ownPath) continue;
    const rec = store.images.get(id);
    if (rec && (rec.config.digest === digest || rec.layers.some((l) => l.digest === digest))) out.add(r.path);
  }
  return [...out];
}

function counted(src: Readable, onBytes: (n: number) => void): Readable {
  const pt = new PassThrough();
  src.on('data', (c: Buffer) => onBytes(c.length));
  src.on('error', (e) => pt.destroy(e));
  return src.pipe(pt);
}

export async function pushImage(store: Store, input: string, opts: PushOptions): Promise<PushResult> {
  const parsed = parseReference(input);
  if (parsed.digest) throw new NotFoundError(`cannot push a digest reference: ${input}`, 'push a tag');
  const tag = parsed.tag ?? 'latest';
  const { record } = resolveImage(store, `${parsed.repository}:${tag}`);
  const { domain, path } = splitRepository(parsed.repository);
  const client = new RegistryClient(domain, path, { ...opts, push: true });
  const p = opts.progress;
  try {
    p.note(`The push refers to repository [${parsed.repository}]`);
    return await store.withStoreLock('shared', async () => {
      const blobs: Descriptor[] = [...record.layers, record.config];
      for (const b of blobs) store.content.path(b.digest); // NotFoundError before anything is sent
      for (const l of [...record.layers].reverse()) p.status(shortId(l.digest), 'Preparing');
      await forEachLimit(blobs, opts.concurrency ?? 3, async (b) => {
        const id = shortId(b.digest);
        const isLayer = b !== record.config;
        const show = (s: string) => isLayer && p.status(id, s);
        if (await client.blobExists(b.digest)) return void show('Layer already exists');
        let url: string | undefined;
        for (const from of mountSources(store, domain, path, b.digest)) {
          const r = await client.mountBlob(b.digest, from);
          if (r === true) return void show(`Mounted from ${familiarName(`${domain}/${from}`)}`);
          url = r;
          break;
        }
        url ??= await client.startUpload();
        let done = 0;
        const onBytes = (n: number) => {
          done += n;
          if (isLayer) p.bytes(id, 'Pushing', done, b.size);
        };
        const file = store.content.path(b.digest);
        const chunk = opts.chunkSize ?? 0;
        if (chunk > 0 && b.size > chunk) {
          await client.putBlobChunked(url, b, (start, end) => counted(createReadStream(file, { start, end }), onBytes), chunk);
        } else {
          await client.putBlob(url, b, () => {
            done = 0;
            return counted(createReadStream(file), onBytes);
          });
        }
        show('Pushed');
      });
      const bytes = store.content.readBuffer(record.manifest.digest);
      let mediaType = record.manifest.mediaType;
      if (!mediaType) mediaType = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
      const digest = await client.putManifest(tag, bytes, mediaType);
      p.result(`${tag}: digest: ${digest} size: ${bytes.length}`);
      return { reference: `${parsed.repository}:${tag}`, digest, size: bytes.length };
    });
  } finally {
    p.close();
    await client.close();
  }
}
