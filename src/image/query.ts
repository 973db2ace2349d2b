/**
 * Read-only views of the store in Docker's shapes: `images`, `image inspect`, `history`,
 * `system df`. They read records without locks (records are replaced atomically).
 */
import { readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { shortId, type Digest } from '../store/digest.ts';
import type { ImageRecord } from '../store/images.ts';
import { readLeases } from '../store/rootfs.ts';
import type { Store } from '../store/store.ts';
import { humanSize, since } from './format.ts';
import type { ImageConfigJson } from './media.ts';
import { familiarName, splitTagged } from './reference.ts';
import { repoDigests, resolveImage } from './resolve.ts';

export interface ImageRow {
  Containers: string;
  CreatedAt: string;
  CreatedSince: string;
  Digest: string;
  ID: string;
  Repository: string;
  SharedSize: string;
  Size: string;
  Tag: string;
  UniqueSize: string;
  VirtualSize: string;
}

function createdOf(r: ImageRecord): string {
  return r.created ?? r.added;
}

export interface ListOptions {
  all?: boolean;
  /** true: only untagged images; false: only tagged ones. */
  filterDangling?: boolean;
  /** Only images created before every one of these images (Docker's `before=`). */
  before?: string[];
  /** Only images created after every one of these images (Docker's `since=`). */
  since?: string[];
  /** `key` (the label is set) or `key=value` (set to that value); all must hold (Docker's `label=`). */
  labels?: string[];
}

function createdMs(r: ImageRecord): number {
  const t = Date.parse(createdOf(r));
  return Number.isFinite(t) ? t : Number.NaN;
}

/** The image's own labels (its config's `config.Labels`). */
function labelsOf(store: Store, r: ImageRecord): Record<string, string> {
  try {
    return store.content.readJson<ImageConfigJson>(r.config.digest).config?.Labels ?? {};
  } catch {
    return {};
  }
}

function hasLabels(have: Record<string, string>, want: string[]): boolean {
  return want.every((w) => {
    const i = w.indexOf('=');
    return i < 0 ? Object.hasOwn(have, w) : have[w.slice(0, i)] === w.slice(i + 1);
  });
}

/** One row per tag (a dangling image gets one `<none>` row), newest first. */
export function listImages(store: Store, opts: ListOptions = {}): ImageRow[] {
  const tags = store.images.tags();
  const leases = readLeases(store);
  const rows: ImageRow[] = [];
  // As Docker: several `before` mean before the oldest of them, several `since` after the newest.
  const createdBefore = opts.before?.length ? Math.min(...opts.before.map((ref) => createdMs(resolveImage(store, ref).record))) : undefined;
  const createdAfter = opts.since?.length ? Math.max(...opts.since.map((ref) => createdMs(resolveImage(store, ref).record))) : undefined;
  const records = store.images.list().sort((a, b) => createdOf(b).localeCompare(createdOf(a)));
  for (const r of records) {
    if (createdBefore !== undefined && !(createdMs(r) < createdBefore)) continue;
    if (createdAfter !== undefined && !(createdMs(r) > createdAfter)) continue;
    if (opts.labels?.length && !hasLabels(labelsOf(store, r), opts.labels)) continue;
    const names = [...tags].filter(([, id]) => id === r.id).map(([n]) => n).sort();
    if (r.intermediate && names.length === 0 && !opts.all) continue; // build cache steps, as Docker hides them
    if (opts.filterDangling === true && names.length > 0) continue;
    if (opts.filterDangling === false && names.length === 0) continue;
    const used = leases.filter((l) => l.imageId === r.id).length;
    const base = {
      Containers: String(used),
      CreatedAt: createdOf(r),
      CreatedSince: since(createdOf(r)),
      Digest: r.manifest.digest,
      ID: shortId(r.id),
      SharedSize: 'N/A',
      Size: humanSize(r.size),
      UniqueSize: 'N/A',
      VirtualSize: humanSize(r.size),
    };
    if (names.length === 0) rows.push({ ...base, Repository: '<none>', Tag: '<none>' });
    for (const n of names) {
      const { repository, tag } = splitTagged(n);
      rows.push({ ...base, Repository: familiarName(repository), Tag: tag });
    }
  }
  return rows;
}

/** `docker image inspect` shape. */
export function inspectImage(store: Store, ref: string): Record<string, unknown> {
  const { record: r } = resolveImage(store, ref);
  const cfg = store.content.readJson<ImageConfigJson>(r.config.digest);
  const history = cfg.history ?? [];
  return {
    Id: r.id,
    RepoTags: store.images.tagsOf(r.id).map((t) => {
      const { repository, tag } = splitTagged(t);
      return `${familiarName(repository)}:${tag}`;
    }),
    RepoDigests: repoDigests(store, r.id).map((d) => familiarName(d.slice(0, d.indexOf('@'))) + d.slice(d.indexOf('@'))),
    Parent: '',
    Comment: history.at(-1)?.comment ?? '',
    Created: cfg.created ?? r.added,
    DockerVersion: '',
    Author: cfg.author ?? '',
    Config: cfg.config ?? {},
    Architecture: cfg.architecture ?? '',
    ...(cfg.variant ? { Variant: cfg.variant } : {}),
    Os: cfg.os ?? '',
    Size: r.size,
    GraphDriver: {
      Name: 'overlay',
      Data: { LowerDir: [...r.layers].reverse().map((l) => store.snapshots.fsPath(l.chainID)).join(':') },
    },
    RootFS: { Type: 'layers', Layers: r.layers.map((l) => l.diffID) },
    Metadata: { LastTagTime: r.added },
    Descriptor: r.manifest,
    ManifestDigest: r.manifest.digest,
  };
}

export interface HistoryRow {
  ID: string;
  CreatedAt: string;
  CreatedSince: string;
  CreatedBy: string;
  Size: number;
  Comment: string;
}

/** Newest first; the image ID on the top entry and `<missing>` below, as Docker prints. */
export function imageHistory(store: Store, ref: string): HistoryRow[] {
  const { record: r } = resolveImage(store, ref);
  const cfg = store.content.readJson<ImageConfigJson>(r.config.digest);
  const sizes = r.layers.map((l) => store.snapshots.meta(l.chainID)?.size ?? 0);
  const history = cfg.history?.length ? cfg.history : r.layers.map(() => ({}) as NonNullable<ImageConfigJson['history']>[number]);
  let li = 0;
  const rows: HistoryRow[] = history.map((h) => ({
    ID: '<missing>',
    CreatedAt: h.created ?? '',
    CreatedSince: since(h.created),
    CreatedBy: h.created_by ?? '',
    Size: h.empty_layer ? 0 : (sizes[li++] ?? 0),
    Comment: h.comment ?? '',
  }));
  rows.reverse();
  if (rows[0]) rows[0].ID = r.id;
  return rows;
}

function duSize(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const st = lstatSync(join(d, n));
      if (st.isDirectory()) walk(join(d, n));
      else total += st.size;
    }
  };
  walk(dir);
  return total;
}

export interface DfRow {
  Type: string;
  TotalCount: number;
  Active: number;
  Size: string;
  Reclaimable: string;
}

/** `docker system df`: images (unique snapshot bytes), container writable layers. */
export function systemDf(store: Store): DfRow[] {
  const images = store.images.list();
  const leases = readLeases(store);
  const active = new Set<Digest>(leases.map((l) => l.imageId));
  const all = new Map<Digest, number>();
  const used = new Set<Digest>();
  for (const r of images)
    for (const l of r.layers) {
      all.set(l.chainID, store.snapshots.meta(l.chainID)?.size ?? 0);
      if (active.has(r.id)) used.add(l.chainID);
    }
  const total = [...all.values()].reduce((a, b) => a + b, 0);
  const reclaim = [...all].filter(([c]) => !used.has(c)).reduce((a, [, s]) => a + s, 0);
  const cSize = leases.reduce((a, l) => a + duSize(join(store.layout.container(l.containerId), l.driver === 'vfs' ? 'rootfs' : 'upper')), 0);
  const pct = (part: number, whole: number) => (whole > 0 ? ` (${Math.round((part / whole) * 100)}%)` : '');
  return [
    { Type: 'Images', TotalCount: images.length, Active: images.filter((r) => active.has(r.id)).length, Size: humanSize(total), Reclaimable: humanSize(reclaim) + pct(reclaim, total) },
    { Type: 'Containers', TotalCount: leases.length, Active: 0, Size: humanSize(cSize), Reclaimable: humanSize(cSize) + pct(cSize, cSize) },
    { Type: 'Local Volumes', TotalCount: 0, Active: 0, Size: '0B', Reclaimable: '0B' },
    { Type: 'Build Cache', TotalCount: 0, Active: 0, Size: '0B', Reclaimable: '0B' },
  ];
}
