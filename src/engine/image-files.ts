/**
 * Reading a small file (/etc/passwd, /etc/group) of a container's root before it runs, straight
 * from the overlay's layers: the upper directory first, then each lower, top-most first; a
 * whiteout (char 0:0) or an opaque directory ends the search. Symlinks are not followed.
 */
import { lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { PreparedRootfs } from '../store/rootfs.ts';

function isWhiteout(p: string): boolean {
  try {
    const st = lstatSync(p);
    return st.isCharacterDevice() && st.rdev === 0;
  } catch {
    return false;
  }
}

export function readRootfsFile(prepared: PreparedRootfs, file: string): string | undefined {
  const rel = path.posix.normalize(file).replace(/^\/+/, '');
  const dirs = prepared.driver === 'vfs' ? [prepared.rootfs] : [prepared.upper, ...prepared.lowerdirs];
  for (const d of dirs) {
    const p = path.join(d, rel);
    if (isWhiteout(p)) return undefined;
    try {
      const st = lstatSync(p);
      if (st.isFile()) return readFileSync(p, 'utf8');
      return undefined;
    } catch {
      /* not in this layer */
    }
  }
  return undefined;
}
