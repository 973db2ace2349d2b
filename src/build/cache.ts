/**
 * The build cache: cache key → image ID, in one JSON index under the engine root. A key is the
 * sha256 of what Docker compares: the parent image, the instruction as written, the build args in
 * effect and, for COPY/ADD, the content hash of the sources. Parent image IDs chain the keys, so a
 * changed step changes every key after it. Writes are atomic and made under the store's meta
 * lock; reads take no lock. An entry whose image was pruned is a miss.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../store/atomic.ts';
import { isDigest, sha256, type Digest } from '../store/digest.ts';
import type { Store } from '../store/store.ts';

export interface CacheKeyInput {
  parent: string;
  instruction: string;
  args: Record<string, string>;
  contentHash?: string;
  /** Anything else that changes the result (platform, the stage's Shell for RUN). */
  extra?: unknown;
}

export function cacheKey(k: CacheKeyInput): Digest {
  const args = Object.keys(k.args).sort().map((n) => `${n}=${k.args[n]}`);
  return sha256(JSON.stringify([1, k.parent, k.instruction, args, k.contentHash ?? '', k.extra ?? null]));
}

export class BuildCache {
  readonly store: Store;
  private entries: Map<string, Digest> | undefined;
  constructor(store: Store) {
    this.store = store;
  }

  private get file(): string {
    return join(this.store.layout.root, 'build-cache.json');
  }

  private read(): Map<string, Digest> {
    try {
      const raw = JSON.parse(readFileSync(this.file, 'utf8')) as { entries?: Record<string, string> };
      return new Map(Object.entries(raw.entries ?? {}).filter((e): e is [string, Digest] => isDigest(e[1])));
    } catch {
      return new Map();
    }
  }

  get(key: Digest): Digest | undefined {
    this.entries ??= this.read();
    return this.entries.get(key);
  }

  async set(key: Digest, image: Digest): Promise<void> {
    await this.store.withMetaLock(() => {
      const entries = this.read();
      entries.set(key, image);
      // entries of images that are gone (pruned) are dropped as the index is rewritten
      for (const [k, id] of entries) if (!existsSync(this.store.layout.image(id))) entries.delete(k);
      writeJsonAtomic(this.file, { entries: Object.fromEntries(entries) });
      this.entries = entries;
    });
  }
}
