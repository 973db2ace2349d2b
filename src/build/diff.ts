/**
 * An overlay upper directory as an OCI layer: the upper holds exactly what a step changed, in
 * overlayfs' own notation, which this rewrites into the OCI one: a whiteout (a char device 0:0)
 * becomes an empty `.wh.<name>`, an opaque directory (`trusted.overlay.opaque=y`) gets a
 * `.wh..wh..opq` entry. Overlay's bookkeeping xattrs (trusted.overlay.*) are dropped. Before that,
 * the mount points the runtime had to create for a RUN (/etc/hosts, /proc, …) are removed when the
 * image did not have them: they are the runtime's, not the step's.
 */
import { lstatSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Sys } from '../sys/types.ts';
import { encodeTarHeader, TAR_END, type TarEntry } from '../unpack/tar-writer.ts';
import { leafEntry, statFields, typeOf } from '../image/tree-tar.ts';

function existsIn(dirs: string[], rel: string): boolean {
  for (const d of dirs) {
    try {
      lstatSync(join(d, rel));
      return true;
    } catch {
      /* next layer */
    }
  }
  return false;
}

/**
 * Removes the mount points in `upper` that no lower layer has (deepest first, and their parent
 * directories when the runtime created those too), if they are still empty.
 */
export function dropMountpoints(upper: string, lowerdirs: string[], mountpoints: string[]): void {
  const candidates = new Set<string>();
  for (const m of mountpoints) {
    const parts = m.split('/').filter(Boolean);
    for (let i = parts.length; i > 0; i--) candidates.add(parts.slice(0, i).join('/'));
  }
  for (const rel of [...candidates].sort((a, b) => b.split('/').length - a.split('/').length)) {
    if (existsIn(lowerdirs, rel)) continue;
    const p = join(upper, rel);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    try {
      if (st.isDirectory()) rmdirSync(p); // only when empty
      else if (st.isFile() && st.size === 0) rmSync(p);
    } catch {
      /* the step put something there: keep it */
    }
  }
}


export interface DiffStats {
  /** Bytes of file content. */
  size: number;
  entries: number;
}

/** The layer tar of `upper`; `stats` is filled in as the stream is consumed. */
export async function* upperToTar(sys: Sys, upper: string, stats: DiffStats = { size: 0, entries: 0 }): AsyncGenerator<Buffer> {
  const links = new Map<string, string>();
  async function* entry(rel: string): AsyncGenerator<Buffer> {
    const abs = join(upper, rel);
    const st = lstatSync(abs, { bigint: true });
    const type = typeOf(st);
    if (!type) return;
    const slash = rel.lastIndexOf('/');
    const dir = slash < 0 ? '' : rel.slice(0, slash + 1);
    const name = rel.slice(slash + 1);
    const base = statFields(st);
    if (type === 'character-device' && st.rdev === 0n) {
      stats.entries++;
      yield encodeTarHeader({ ...base, name: `${dir}.wh.${name}`, type: 'file', size: 0, mode: 0o600, uid: 0, gid: 0 });
      return;
    }
    const xattrs = new Map<string, Buffer>();
    let opaque = false;
    for (const x of sys.llistxattr(abs)) {
      if (x === 'trusted.overlay.opaque' || x === 'user.overlay.opaque') {
        opaque = sys.lgetxattr(abs, x)?.toString() === 'y';
        continue;
      }
      if (x.startsWith('trusted.overlay.') || x.startsWith('user.overlay.')) continue;
      const v = sys.lgetxattr(abs, x);
      if (v) xattrs.set(x, v);
    }
    const e: TarEntry = { ...base, name: type === 'directory' ? `${rel}/` : rel, type, xattrs };
    stats.entries++;
    if (type !== 'directory') return yield* leafEntry(abs, rel, st, e, links, (size) => (stats.size += size));
    yield encodeTarHeader(e);
    if (opaque) {
      stats.entries++;
      yield encodeTarHeader({ ...base, name: `${rel}/.wh..wh..opq`, type: 'file', size: 0, mode: 0o600, uid: 0, gid: 0 });
    }
    for (const child of readdirSync(abs).sort()) yield* entry(`${rel}/${child}`);
  }
  for (const child of readdirSync(upper).sort()) yield* entry(child);
  yield TAR_END;
}
