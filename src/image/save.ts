/**
 * `berth save`: images to a Docker archive (the default, as `docker save` writes it: config
 * `<id>.json`, uncompressed `<diffID>.tar` layers, manifest.json, repositories) or an OCI archive
 * (an OCI image layout in a tar). Streamed blob by blob; a compressed layer going into a Docker
 * archive is decompressed on the fly, its size known in advance from the snapshot metadata.
 * Manifests already in OCI form are written byte for byte, so their digests survive a round trip.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BerthError } from '../common/errors.ts';
import { hexOf, type Digest } from '../store/digest.ts';
import type { ImageRecord } from '../store/images.ts';
import type { Store } from '../store/store.ts';
import { decompressed } from '../unpack/compression.ts';
import { encodeTarHeader, TAR_END, tarPadding } from '../unpack/tar-writer.ts';
import { MT, toOciMediaType, type IndexJson, type ManifestJson } from './media.ts';
import { splitTagged } from './reference.ts';
import { resolveImage } from './resolve.ts';

export type SaveFormat = 'docker-archive' | 'oci-archive';

interface Selected {
  record: ImageRecord;
  tags: string[];
}

function header(name: string, size: number): Buffer {
  return encodeTarHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size, mtime: 0 });
}

async function* fileEntry(name: string, data: Buffer): AsyncGenerator<Buffer> {
  yield header(name, data.length);
  yield data;
  yield tarPadding(data.length);
}

async function* streamEntry(name: string, size: number, src: Readable, what: string): AsyncGenerator<Buffer> {
  yield header(name, size);
  let n = 0;
  for await (const chunk of src as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > size) throw new BerthError('internal', `${what} is larger than recorded`);
    yield chunk;
  }
  if (n !== size) throw new BerthError('internal', `${what} is smaller than recorded`);
  yield tarPadding(size);
}

/**
 * RepoTags are written fully qualified (`docker.io/library/bb:1`): `docker load` normalises either
 * form, while Podman would read a short `bb:1` as `localhost/bb:1`.
 */
function dockerTag(name: string): string {
  return name;
}

async function* dockerArchive(store: Store, images: Selected[]): AsyncGenerator<Buffer> {
  const written = new Set<string>();
  const manifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const { record, tags } of images) {
    const configName = `${hexOf(record.id)}.json`;
    if (!written.has(configName)) {
      written.add(configName);
      yield* fileEntry(configName, store.content.readBuffer(record.config.digest));
    }
    const layers: string[] = [];
    for (const l of record.layers) {
      const name = `${hexOf(l.diffID)}.tar`;
      layers.push(name);
      if (written.has(name)) continue;
      written.add(name);
      const meta = store.snapshots.meta(l.chainID);
      if (!meta) throw new BerthError('bad-state', `snapshot of layer ${l.diffID} is missing; load the image again`);
      const { stream } = await decompressed(store.content.open(l.digest));
      yield* streamEntry(name, meta.tarSize, stream, `layer ${hexOf(l.diffID).slice(0, 12)}`);
    }
    const repoTags = tags.map(dockerTag);
    manifest.push({ Config: configName, RepoTags: repoTags.length ? repoTags : null, Layers: layers });
    const top = record.layers.at(-1);
    for (const t of repoTags) {
      const { repository, tag } = splitTagged(t);
      (repositories[repository] ??= {})[tag] = top ? hexOf(top.diffID) : '';
    }
  }
  yield* fileEntry('manifest.json', Buffer.from(JSON.stringify(manifest)));
  yield* fileEntry('repositories', Buffer.from(JSON.stringify(repositories)));
  yield TAR_END;
}

/** The image's manifest as OCI bytes: the stored one if it already is OCI, else a conversion. */
function ociManifest(store: Store, record: ImageRecord): { bytes: Buffer } {
  if (record.manifest.mediaType === MT.ociManifest) return { bytes: store.content.readBuffer(record.manifest.digest) };
  const m: ManifestJson = {
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: { mediaType: toOciMediaType(record.config.mediaType), digest: record.config.digest, size: record.config.size },
    layers: record.layers.map((l) => ({ mediaType: toOciMediaType(l.mediaType), digest: l.digest, size: l.size })),
  };
  return { bytes: Buffer.from(JSON.stringify(m)) };
}

async function* ociArchive(store: Store, images: Selected[]): AsyncGenerator<Buffer> {
  const written = new Set<string>();
  const index: IndexJson = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] };
  yield* fileEntry('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
  const blob = async function* (digest: Digest, size: number): AsyncGenerator<Buffer> {
    const name = `blobs/sha256/${hexOf(digest)}`;
    if (written.has(name)) return;
    written.add(name);
    yield* streamEntry(name, size, createReadStream(store.content.path(digest)), `blob ${hexOf(digest).slice(0, 12)}`);
  };
  for (const { record, tags } of images) {
    yield* blob(record.config.digest, record.config.size);
    for (const l of record.layers) yield* blob(l.digest, l.size);
    const { bytes } = ociManifest(store, record);
    const digest: Digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const name = `blobs/sha256/${hexOf(digest)}`;
    if (!written.has(name)) {
      written.add(name);
      yield* fileEntry(name, bytes);
    }
    const names = tags.length ? tags : [undefined];
    for (const t of names)
      index.manifests.push({
        mediaType: MT.ociManifest,
        digest,
        size: bytes.length,
        ...(t ? { annotations: { 'org.opencontainers.image.ref.name': t, 'io.containerd.image.name': t } } : {}),
      });
  }
  yield* fileEntry('index.json', Buffer.from(JSON.stringify(index)));
  yield TAR_END;
}

/** Resolves refs to images (the tags a user named travel with them) in the order given. */
export function selectImages(store: Store, refs: string[]): Selected[] {
  const byId = new Map<Digest, Selected>();
  for (const r of refs) {
    const { record, tag } = resolveImage(store, r);
    const sel = byId.get(record.id) ?? { record, tags: [] };
    if (tag && !sel.tags.includes(tag)) sel.tags.push(tag);
    byId.set(record.id, sel);
  }
  return [...byId.values()];
}

/** Writes the archive of `refs` to `out`. */
export async function saveImages(store: Store, refs: string[], format: SaveFormat, out: Writable): Promise<void> {
  const images = selectImages(store, refs);
  const gen = format === 'oci-archive' ? ociArchive(store, images) : dockerArchive(store, images);
  await pipeline(gen, out);
}
