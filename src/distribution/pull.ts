/**
 * `berth pull`: reference → manifest (an index resolves to this platform's manifest) → config →
 * layers, 3 at a time by default, each verified against its digest by the content store's ingest
 * and unpacked as it arrives → the image committed (record, then tag) by the same function as
 * `load`. Blobs and snapshots already in the store are not fetched again. The whole pull runs under
 * the shared store lock; if it fails, an idle-store GC removes whatever it had stored, so a failed
 * pull leaves nothing behind.
 */
import { mark } from '../common/trace.ts';
import { shortId, type Digest } from '../store/digest.ts';
import type { Store } from '../store/store.ts';
import { collectGarbageIfIdle } from '../store/gc.ts';
import { chainIDs } from '../store/digest.ts';
import { commitImage, InvalidImageError } from '../image/commit.ts';
import { LAYER_TYPES, MT, type ImageConfigJson, type IndexJson, type ManifestJson } from '../image/media.ts';
import { familiarReference, formatReference, parseReference, splitRepository, type Reference } from '../image/reference.ts';
import { RegistryClient, type FetchedManifest } from './client.ts';
import { RegistryError } from './errors.ts';
import type { RetryPolicy } from './http.ts';
import { fetchLayer, unpackStored, type LayerJob } from './layer.ts';
import { hostPlatform, selectManifest, type Platform } from './platform.ts';
import { forEachLimit } from './pool.ts';
import type { PendingSnapshot } from '../store/snapshots.ts';
import type { Progress } from './progress.ts';
import type { RegistryConfig } from './registries.ts';

export interface TransferOptions {
  config: RegistryConfig;
  authFile: string;
  tlsVerify?: boolean;
  /** Blobs in flight at once (Docker's default is 3 downloads, 5 uploads). */
  concurrency?: number;
  retry?: RetryPolicy;
  progress: Progress;
}

export interface PullOptions extends TransferOptions {
  platform?: Platform;
}

export interface PullResult {
  id: Digest;
  /** The normalised reference pulled (`docker.io/library/busybox:latest`, `repo@sha256:…`). */
  reference: string;
  /** Digest of what the reference names (the index for a multi-platform image). */
  digest: Digest;
  /** The tag stored, when pulled by tag. */
  tag: string | undefined;
  upToDate: boolean;
}

const INDEX_TYPES = new Set<string>([MT.ociIndex, MT.dockerList]);
const MANIFEST_TYPES = new Set<string>([MT.ociManifest, MT.dockerManifest]);

function parseJson<T>(buf: Buffer, what: string): T {
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch {
    throw new InvalidImageError(`${what} is not valid JSON`);
  }
}

/** Resolves the reference to one image manifest (through an index if needed). */
async function resolveManifest(client: RegistryClient, ref: Reference, platform: Platform): Promise<{ top: FetchedManifest; manifest: FetchedManifest }> {
  const top = await client.getManifest(ref.digest ?? ref.tag ?? 'latest');
  if (!INDEX_TYPES.has(top.mediaType)) return { top, manifest: top };
  const index = parseJson<IndexJson>(top.bytes, `index ${top.digest}`);
  if (!Array.isArray(index.manifests)) throw new InvalidImageError(`index ${top.digest} has no manifests`);
  const desc = selectManifest(index.manifests, platform);
  const manifest = await client.getManifest(desc.digest);
  if (manifest.digest !== desc.digest) throw new RegistryError(`manifest ${desc.digest} came back as ${manifest.digest}`);
  return { top, manifest };
}

export async function pullImage(store: Store, input: string, opts: PullOptions): Promise<PullResult> {
  const parsed = parseReference(input);
  const ref: Reference = { ...parsed, tag: parsed.tag ?? (parsed.digest ? undefined : 'latest') };
  const { domain, path } = splitRepository(ref.repository);
  const client = new RegistryClient(domain, path, opts);
  const p = opts.progress;
  try {
    p.note(`${ref.digest ?? ref.tag}: Pulling from ${path}`);
    const { top, manifest } = await resolveManifest(client, ref, opts.platform ?? hostPlatform());
    if (!MANIFEST_TYPES.has(manifest.mediaType)) throw new InvalidImageError(`unsupported manifest type ${manifest.mediaType}`);
    const m = parseJson<ManifestJson>(manifest.bytes, `manifest ${manifest.digest}`);
    if (!m.config?.digest || !Array.isArray(m.layers)) throw new InvalidImageError(`${manifest.digest} is not an image manifest`);
    for (const l of m.layers) if (!LAYER_TYPES.has(l.mediaType)) throw new InvalidImageError(`unsupported layer media type ${l.mediaType}`);
    const tag = ref.digest ? undefined : `${ref.repository}:${ref.tag}`;
    const result = await store.withStoreLock('shared', async () => {
      await store.content.put(manifest.bytes, { digest: manifest.digest, size: manifest.bytes.length });
      if (store.content.size(m.config.digest) !== m.config.size) {
        const cfg = await client.getBlob(m.config);
        await store.content.put(cfg, { digest: m.config.digest, size: m.config.size });
      }
      const config = store.content.readJson<ImageConfigJson>(m.config.digest);
      const diffIDs = config?.rootfs?.diff_ids;
      if (!Array.isArray(diffIDs) || diffIDs.length !== m.layers.length)
        throw new InvalidImageError(`image config ${shortId(m.config.digest)} does not list one diffID per layer`);
      const chains = chainIDs(diffIDs);
      const jobs: LayerJob[] = m.layers.map((l, i) => ({ blob: { digest: l.digest, size: l.size }, chainID: chains[i]!, parent: i ? chains[i - 1]! : null, diffID: diffIDs[i]! }));
      const upToDate = tag !== undefined && store.images.tags().get(tag) === m.config.digest && store.images.get(m.config.digest)?.manifest.digest === manifest.digest;
      mark('pull-manifest');
      const pending = await pullLayers(store, client, jobs, opts);
      mark('pull-layers');
      const rec = await commitImage(
        store,
        {
          manifest: { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.length },
          config: { mediaType: m.config.mediaType, digest: m.config.digest, size: m.config.size },
          layers: m.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
        },
        tag ? [tag] : [],
        { pending },
      ).catch((err: unknown) => {
        store.snapshots.discard(pending); // no-op for those committed already (renamed away)
        throw err;
      });
      mark('pull-committed');
      return { id: rec.id, upToDate };
    });
    const reference = formatReference(ref.digest ? { ...ref, tag: undefined } : ref);
    p.summary(`Digest: ${top.digest}`);
    const familiar = familiarReference(ref.digest ? { ...ref, tag: undefined } : ref);
    p.summary(result.upToDate ? `Status: Image is up to date for ${familiar}` : `Status: Downloaded newer image for ${familiar}`);
    p.result(reference);
    return { id: result.id, reference, digest: top.digest, tag, upToDate: result.upToDate };
  } catch (err) {
    p.close();
    await collectGarbageIfIdle(store).catch(() => {});
    throw err;
  } finally {
    p.close();
    await client.close();
  }
}

/**
 * Downloads and unpacks the layers, `concurrency` at a time (the same blob is fetched once);
 * returns the snapshots uncommitted, for `commitImage` to commit together with one syncfs. On
 * failure, none of them is left behind.
 */
async function pullLayers(store: Store, client: RegistryClient, jobs: LayerJob[], opts: PullOptions): Promise<PendingSnapshot[]> {
  const p = opts.progress;
  const concurrency = opts.concurrency ?? 3;
  const inFlight = new Map<Digest, Promise<unknown>>();
  const pending: PendingSnapshot[] = [];
  const state = jobs.map((j) => {
    const haveBlob = store.content.size(j.blob.digest) === j.blob.size;
    const haveSnap = store.snapshots.has(j.chainID);
    const id = shortId(j.blob.digest);
    p.status(id, haveBlob && haveSnap ? 'Already exists' : 'Pulling fs layer');
    return { haveBlob, haveSnap, id };
  });
  try {
    await forEachLimit(jobs, concurrency, async (job, i, signal) => {
      const { haveBlob, haveSnap, id } = state[i]!;
      if (haveBlob && haveSnap) return;
      const first = inFlight.get(job.blob.digest);
      if (haveBlob || first) {
        await first;
        if (!haveSnap) {
          p.status(id, 'Extracting');
          pending.push(await unpackStored(store, job));
        }
        p.status(id, 'Pull complete');
        return;
      }
      let done = 0;
      const work = fetchLayer(store, client, job, !haveSnap, {
        signal,
        onBytes: (n) => {
          done += n;
          p.bytes(id, 'Downloading', done, job.blob.size);
        },
      });
      inFlight.set(job.blob.digest, work);
      const snap = await work;
      if (snap) {
        pending.push(snap);
        store.snapshots.writeBehind(snap);
      }
      p.status(id, 'Download complete');
      p.status(id, 'Pull complete');
    });
  } catch (err) {
    // jobs still running when one failed finish (forEachLimit waits for them) before this runs
    store.snapshots.discard(pending);
    throw err;
  }
  return pending;
}
