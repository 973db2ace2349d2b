/**
 * `berth load`: Docker archives (manifest.json), OCI archives and OCI layout directories, from a
 * file or stdin. The archive is read in one streaming pass: every file in it is ingested into the
 * content store as it arrives (files named `blobs/sha256/<hex>` must hash to their name), small
 * JSON documents are also kept in memory; afterwards the manifests are interpreted and each image
 * committed. No layer is ever held in memory, and stdin needs no temp copy of the archive.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { NotFoundError } from '../common/errors.ts';
import { parseDigest, type Digest } from '../store/digest.ts';
import type { Descriptor } from '../store/images.ts';
import type { Store } from '../store/store.ts';
import { readFile } from '../store/content.ts';
import { collectingAfter } from '../store/gc.ts';
import { decompressed, sniffCompression } from '../unpack/compression.ts';
import { commitImage, InvalidImageError } from './commit.ts';
import { hostArch, layerMediaType, MT, type DescriptorJson, type IndexJson, type ManifestJson } from './media.ts';
import { normalizeTagged } from './reference.ts';

export interface LoadedImage {
  id: Digest;
  names: string[];
}

const SMALL = 4 << 20;

interface ArchiveFiles {
  blobs: Map<string, Descriptor>;
  docs: Map<string, Buffer>;
  links: Map<string, string>;
}

function clean(name: string): string {
  return posix.normalize(name).replace(/^(\.\/)+/, '').replace(/^\/+/, '').replace(/\/$/, '');
}

async function readStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** One pass over the archive: ingest every file, keep small documents. */
async function ingestArchive(store: Store, input: Readable): Promise<ArchiveFiles> {
  const files: ArchiveFiles = { blobs: new Map(), docs: new Map(), links: new Map() };
  const { stream } = await decompressed(input);
  const extract = tarStream.extract();
  stream.on('error', (err) => extract.destroy(err));
  stream.pipe(extract as unknown as NodeJS.WritableStream);
  for await (const entry of extract) {
    const h = entry.header;
    const name = clean(h.name);
    if (h.type === 'symlink' || h.type === 'link') {
      const target = h.type === 'symlink' ? posix.join(posix.dirname(name), h.linkname ?? '') : (h.linkname ?? '');
      files.links.set(name, clean(target));
      entry.resume();
      continue;
    }
    if (h.type !== 'file' && h.type !== 'contiguous-file') {
      entry.resume();
      continue;
    }
    const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name);
    const size = h.size ?? 0;
    if (!m && size <= SMALL && /(\.json|^repositories|^oci-layout)$/.test(name)) {
      const buf = await readStream(entry as unknown as Readable);
      files.docs.set(name, buf);
      const info = await store.content.put(buf);
      files.blobs.set(name, { mediaType: '', ...info });
      continue;
    }
    const expected = m ? { digest: `sha256:${m[1]}` as Digest, size } : { size };
    const info = await store.content.ingest(entry as unknown as AsyncIterable<Buffer>, expected, `archive member ${name}`);
    files.blobs.set(name, { mediaType: '', ...info });
  }
  return files;
}

function lookup(files: ArchiveFiles, name: string): string {
  let n = clean(name);
  for (let i = 0; i < 16 && files.links.has(n); i++) n = files.links.get(n)!;
  return n;
}

function blobOf(files: ArchiveFiles, name: string): Descriptor {
  const d = files.blobs.get(lookup(files, name));
  if (!d) throw new InvalidImageError(`archive lacks ${name}`);
  return d;
}

function parseJson<T>(buf: Buffer | undefined, what: string): T {
  if (!buf) throw new InvalidImageError(`archive lacks ${what}`);
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch {
    throw new InvalidImageError(`${what} is not valid JSON`);
  }
}

function sniff(store: Store, d: Digest): ReturnType<typeof sniffCompression> {
  const fd = openSync(store.content.path(d), 'r');
  try {
    const buf = Buffer.alloc(4);
    const n = readSync(fd, buf, 0, 4, 0);
    return sniffCompression(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function loadDocker(store: Store, files: ArchiveFiles): Promise<LoadedImage[]> {
  const entries = parseJson<DockerManifestEntry[]>(files.docs.get(lookup(files, 'manifest.json')), 'manifest.json');
  if (!Array.isArray(entries)) throw new InvalidImageError('manifest.json is not a list');
  const out: LoadedImage[] = [];
  for (const e of entries) {
    const config = { ...blobOf(files, e.Config), mediaType: MT.dockerConfig };
    const layers = (e.Layers ?? []).map((l) => {
      const b = blobOf(files, l);
      return { ...b, mediaType: layerMediaType(sniff(store, b.digest), true) };
    });
    const manifest: ManifestJson = {
      schemaVersion: 2,
      mediaType: MT.dockerManifest,
      config: { mediaType: config.mediaType, size: config.size, digest: config.digest },
      layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest })),
    };
    const m = await store.content.put(JSON.stringify(manifest));
    const names = (e.RepoTags ?? []).map((t) => normalizeTagged(t));
    const rec = await commitImage(store, { manifest: { ...m, mediaType: MT.dockerManifest }, config, layers }, names);
    out.push({ id: rec.id, names });
  }
  return out;
}

function refName(d: DescriptorJson): string[] {
  const a = d.annotations ?? {};
  const full = a['io.containerd.image.name'] ?? a['org.opencontainers.image.ref.name'];
  if (!full || !(full.includes('/') || full.includes(':'))) return [];
  try {
    return [normalizeTagged(full)];
  } catch {
    return [];
  }
}

/** Interprets an OCI index whose blobs `need` makes available in the store. */
async function loadOci(store: Store, index: IndexJson, need: (d: DescriptorJson) => Promise<void>): Promise<LoadedImage[]> {
  if (!Array.isArray(index?.manifests)) throw new InvalidImageError('index.json has no manifests');
  const out: LoadedImage[] = [];
  for (const top of index.manifests) {
    let desc = top;
    parseDigest(desc.digest, 'manifest digest');
    await need(desc);
    if (desc.mediaType === MT.ociIndex || desc.mediaType === MT.dockerList) {
      const inner = store.content.readJson<IndexJson>(desc.digest);
      const pick =
        inner.manifests.find((m) => m.platform?.os === 'linux' && m.platform?.architecture === hostArch()) ?? inner.manifests[0];
      if (!pick) throw new InvalidImageError(`index ${desc.digest} is empty`);
      desc = { ...pick, annotations: { ...pick.annotations, ...top.annotations } };
      await need(desc);
    }
    const manifest = store.content.readJson<ManifestJson>(desc.digest);
    if (!manifest?.config || !Array.isArray(manifest.layers)) throw new InvalidImageError(`${desc.digest} is not an image manifest`);
    for (const d of [manifest.config, ...manifest.layers]) {
      parseDigest(d.digest, 'blob digest');
      await need(d);
    }
    const names = refName(top);
    const rec = await commitImage(
      store,
      {
        manifest: { mediaType: desc.mediaType ?? manifest.mediaType ?? MT.ociManifest, digest: desc.digest, size: desc.size },
        config: { mediaType: manifest.config.mediaType, digest: manifest.config.digest, size: manifest.config.size },
        layers: manifest.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      },
      names,
    );
    out.push({ id: rec.id, names });
  }
  return out;
}

function checkPresent(store: Store, d: DescriptorJson): void {
  const size = store.content.size(d.digest);
  if (size === undefined) throw new InvalidImageError(`archive lacks blob ${d.digest}`);
  if (size !== d.size) throw new InvalidImageError(`blob ${d.digest} has ${size} bytes, its descriptor says ${d.size}`);
}

async function loadLayoutDir(store: Store, dir: string): Promise<LoadedImage[]> {
  if (!existsSync(join(dir, 'oci-layout'))) throw new InvalidImageError(`${dir} is not an OCI layout (no oci-layout file)`);
  const index = parseJson<IndexJson>(readFileSync(join(dir, 'index.json')), 'index.json');
  return loadOci(store, index, async (d) => {
    if (store.content.size(d.digest) === d.size) return;
    const path = join(dir, 'blobs', 'sha256', d.digest.slice(7));
    if (!existsSync(path)) throw new InvalidImageError(`layout lacks blob ${d.digest}`);
    await store.content.ingest(readFile(path), { digest: d.digest, size: d.size }, `blob ${d.digest.slice(7, 19)}`);
  });
}

/** Loads every image of a Docker archive, OCI archive (file or `-` for stdin) or OCI layout dir. */
export async function loadImages(store: Store, source: string, stdin: Readable = process.stdin): Promise<LoadedImage[]> {
  return collectingAfter(store, () => store.withStoreLock('shared', async () => {
    if (source !== '-') {
      let st;
      try {
        st = statSync(source);
      } catch {
        throw new NotFoundError(`open ${source}: no such file or directory`);
      }
      if (st.isDirectory()) return loadLayoutDir(store, source);
    }
    const files = await ingestArchive(store, source === '-' ? stdin : readFile(source));
    if (files.docs.has(lookup(files, 'manifest.json'))) return loadDocker(store, files);
    if (files.docs.has('index.json')) {
      const index = parseJson<IndexJson>(files.docs.get('index.json'), 'index.json');
      return loadOci(store, index, async (d) => checkPresent(store, d));
    }
    throw new InvalidImageError('not an image archive: no manifest.json or index.json');
  }));
}

