/**
 * Mounting an overlay of snapshots. Classic mount(2) passes all options in one page of data, so
 * `lowerdir=` with many absolute snapshot paths stops fitting at a few dozen layers. berth uses the
 * new mount API instead: fsopen("overlay") and one fsconfig("lowerdir+", dir) per layer (Linux 6.8+),
 * which has no length limit and needs no escaping. On older kernels it falls back to mount(2) with
 * paths made relative to a common base directory after a chdir there, which fits about twice as
 * many layers as absolute paths (documented limit: the data must still fit one page).
 */
import { relative } from 'node:path';
import { SystemError } from '../common/errors.ts';
import { isErrno } from '../sys/errors.ts';
import {
  AT,
  FSCONFIG,
  FSMOUNT_CLOEXEC,
  FSOPEN_CLOEXEC,
  MNT,
  MOUNT_ATTR_RDONLY,
  MOVE_MOUNT_F_EMPTY_PATH,
  MS,
  type Sys,
} from '../sys/types.ts';

export interface OverlaySpec {
  /** Top-most first, as overlayfs orders them. */
  lowerdirs: string[];
  upper?: string;
  work?: string;
  target: string;
  readonly?: boolean;
}

function mountNewApi(sys: Sys, spec: OverlaySpec): void {
  const fsfd = sys.fsopen('overlay', FSOPEN_CLOEXEC);
  try {
    for (const dir of spec.lowerdirs) sys.fsconfig(fsfd, FSCONFIG.SET_STRING, 'lowerdir+', dir, 0);
    if (spec.upper && spec.work) {
      sys.fsconfig(fsfd, FSCONFIG.SET_STRING, 'upperdir', spec.upper, 0);
      sys.fsconfig(fsfd, FSCONFIG.SET_STRING, 'workdir', spec.work, 0);
    }
    sys.fsconfig(fsfd, FSCONFIG.CMD_CREATE, null, null, 0);
    const mfd = sys.fsmount(fsfd, FSMOUNT_CLOEXEC, spec.readonly ? MOUNT_ATTR_RDONLY : 0);
    try {
      sys.moveMount(mfd, '', AT.FDCWD, spec.target, MOVE_MOUNT_F_EMPTY_PATH);
    } finally {
      sys.close(mfd);
    }
  } finally {
    sys.close(fsfd);
  }
}

function commonBase(paths: string[]): string {
  let base = paths[0]!.split('/');
  for (const p of paths.slice(1)) {
    const parts = p.split('/');
    let i = 0;
    while (i < base.length && base[i] === parts[i]) i++;
    base = base.slice(0, i);
  }
  return base.join('/') || '/';
}

function mountClassic(sys: Sys, spec: OverlaySpec): void {
  const all = [...spec.lowerdirs, ...(spec.upper ? [spec.upper] : []), ...(spec.work ? [spec.work] : [])];
  const base = commonBase(all);
  const rel = (p: string) => relative(base, p) || '.';
  let data = `lowerdir=${spec.lowerdirs.map(rel).join(':')}`;
  if (spec.upper && spec.work) data += `,upperdir=${rel(spec.upper)},workdir=${rel(spec.work)}`;
  if (data.length >= 4096) throw new SystemError(`too many layers (${spec.lowerdirs.length}) for this kernel's overlay mount`);
  const cwd = process.cwd();
  process.chdir(base); // the kernel resolves the relative lowerdirs against our cwd, during the call
  try {
    sys.mount('overlay', spec.target, 'overlay', spec.readonly ? MS.RDONLY : 0, data);
  } finally {
    process.chdir(cwd);
  }
}

/** Mounts an overlay (or, for a single read-only layer, a read-only bind mount) on `target`. */
export function mountOverlay(sys: Sys, spec: OverlaySpec): void {
  if (spec.lowerdirs.length === 0) throw new SystemError('an overlay needs at least one lower directory');
  if (!spec.upper && spec.lowerdirs.length === 1) {
    sys.mount(spec.lowerdirs[0]!, spec.target, null, MS.BIND, null);
    sys.mount('none', spec.target, null, MS.BIND | MS.RDONLY | 32 /* MS_REMOUNT */, null);
    return;
  }
  try {
    mountNewApi(sys, spec);
  } catch (err) {
    // ENOSYS: no new mount API; EINVAL: overlay without `lowerdir+` (before Linux 6.8).
    if (!isErrno(err, 'ENOSYS', 'EINVAL', 'EOPNOTSUPP')) throw err;
    mountClassic(sys, spec);
  }
}

/** Detaches whatever is mounted on `target`; absent mounts are fine. */
export function unmount(sys: Sys, target: string): void {
  try {
    sys.umount2(target, MNT.DETACH);
  } catch (err) {
    if (!isErrno(err, 'EINVAL', 'ENOENT')) throw err;
  }
}
