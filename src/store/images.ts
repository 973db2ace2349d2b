/**
 * Image metadata: one JSON record per image (keyed by config digest, which is the image ID as in
 * Docker and Podman) and one tags index. Records are immutable once written; tags.json is
 * rewritten atomically under the meta lock. Blobs and snapshots are only referenced from here.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { isDigest, type Digest } from './digest.ts';
import { writeJsonAtomic } from './atomic.ts';
import type { StoreLayout } from './layout.ts';

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
}

export interface LayerRecord extends Descriptor {
  diffID: Digest;
  chainID: Digest;
}

export interface ImageRecord {
  /** The config digest. */
  id: Digest;
  manifest: Descriptor;
  config: Descriptor;
  layers: LayerRecord[];
  /** From the image config, if it has one. */
  created?: string;
  /** When this store got the image. */
  added: string;
  /** Sum of the unpacked snapshot sizes. */
  size: number;
  /** A build step's image (the build cache): hidden from `images` unless `-a`, pruned as dangling. */
  intermediate?: boolean;
}

export class ImageIndex {
  readonly layout: StoreLayout;
  constructor(layout: StoreLayout) {
    this.layout = layout;
  }

  get(id: Digest): ImageRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.layout.image(id), 'utf8')) as ImageRecord;
    } catch {
      return undefined;
    }
  }

  list(): ImageRecord[] {
    let names: string[] = [];
    try {
      names = readdirSync(this.layout.imageDir);
    } catch {
      return [];
    }
    const out: ImageRecord[] = [];
    for (const n of names) {
      const m = /^([a-f0-9]{64})\.json$/.exec(n);
      if (!m) continue;
      const rec = this.get(`sha256:${m[1]}`);
      if (rec) out.push(rec);
    }
    return out;
  }

  /** Callers hold the meta lock. */
  put(rec: ImageRecord): void {
    writeJsonAtomic(this.layout.image(rec.id), rec);
  }

  remove(id: Digest): void {
    rmSync(this.layout.image(id), { force: true });
  }

  /** name:tag → image ID. */
  tags(): Map<string, Digest> {
    try {
      const raw = JSON.parse(readFileSync(this.layout.tagsFile, 'utf8')) as { tags?: Record<string, string> };
      return new Map(Object.entries(raw.tags ?? {}).filter((e): e is [string, Digest] => isDigest(e[1])));
    } catch {
      return new Map();
    }
  }

  /** Callers hold the meta lock. */
  setTags(tags: Map<string, Digest>): void {
    const sorted = Object.fromEntries([...tags].sort((a, b) => a[0].localeCompare(b[0])));
    writeJsonAtomic(this.layout.tagsFile, { tags: sorted });
  }

  tagsOf(id: Digest): string[] {
    return [...this.tags()].filter(([, v]) => v === id).map(([k]) => k);
  }
}
