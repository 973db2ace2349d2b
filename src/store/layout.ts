/**
 * Where things live under the engine root. Only this module knows the directory names.
 *
 *   blobs/sha256/<hex>            content-addressed blobs (manifests, configs, layers)
 *   ingest/<random>               blobs being written (temp → verify → fsync → rename)
 *   images/<config hex>.json      one record per image
 *   tags.json                     name:tag → image ID
 *   snapshots/<chainID hex>/fs    one unpacked layer per chain, an overlay lower dir
 *   snapshots/<chainID hex>/meta.json
 *   snapshots/.tmp-<random>/      snapshots being unpacked (renamed into place when complete)
 *   rootfs/<container id>/        per-container upper/work (overlay) or rootfs (vfs) + lease.json
 *   tmp/                          scratch (squash, mount points)
 *   store.lock, meta.lock         flock(2) files
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { hexOf, type Digest } from './digest.ts';

export class StoreLayout {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }
  get blobDir(): string {
    return join(this.root, 'blobs', 'sha256');
  }
  blob(d: Digest): string {
    return join(this.blobDir, hexOf(d));
  }
  get ingestDir(): string {
    return join(this.root, 'ingest');
  }
  get imageDir(): string {
    return join(this.root, 'images');
  }
  image(id: Digest): string {
    return join(this.imageDir, `${hexOf(id)}.json`);
  }
  get tagsFile(): string {
    return join(this.root, 'tags.json');
  }
  get snapshotDir(): string {
    return join(this.root, 'snapshots');
  }
  snapshot(chainID: Digest): string {
    return join(this.snapshotDir, hexOf(chainID));
  }
  get rootfsDir(): string {
    return join(this.root, 'rootfs');
  }
  container(id: string): string {
    return join(this.rootfsDir, id);
  }
  get tmpDir(): string {
    return join(this.root, 'tmp');
  }
  get storeLock(): string {
    return join(this.root, 'store.lock');
  }
  get metaLock(): string {
    return join(this.root, 'meta.lock');
  }

  /** Creates the directory skeleton (idempotent). */
  ensure(): void {
    for (const d of [this.blobDir, this.ingestDir, this.imageDir, this.snapshotDir, this.rootfsDir, this.tmpDir])
      mkdirSync(d, { recursive: true, mode: 0o700 });
  }
}
