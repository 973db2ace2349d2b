/**
 * config.json mount options → mount(2) flags, propagation flags and filesystem data, the way
 * runc reads them (e.g. "rbind" is MS_BIND|MS_REC, "rslave" a propagation change applied after).
 */
import { MS } from './linux-constants.ts';

export interface ParsedMountOptions {
  flags: number;
  propagation: number;
  data: string[];
}

const SET: Record<string, number> = {
  ro: MS.RDONLY,
  nosuid: MS.NOSUID,
  nodev: MS.NODEV,
  noexec: MS.NOEXEC,
  sync: MS.SYNCHRONOUS,
  remount: MS.REMOUNT,
  mand: MS.MANDLOCK,
  dirsync: MS.DIRSYNC,
  nosymfollow: MS.NOSYMFOLLOW,
  noatime: MS.NOATIME,
  nodiratime: MS.NODIRATIME,
  bind: MS.BIND,
  rbind: MS.BIND | MS.REC,
  relatime: MS.RELATIME,
  strictatime: MS.STRICTATIME,
  lazytime: MS.LAZYTIME,
  silent: MS.SILENT,
};
const CLEAR: Record<string, number> = {
  defaults: 0,
  rw: MS.RDONLY,
  suid: MS.NOSUID,
  dev: MS.NODEV,
  exec: MS.NOEXEC,
  async: MS.SYNCHRONOUS,
  nomand: MS.MANDLOCK,
  atime: MS.NOATIME,
  diratime: MS.NODIRATIME,
  norelatime: MS.RELATIME,
  nostrictatime: MS.STRICTATIME,
  nolazytime: MS.LAZYTIME,
  loud: MS.SILENT,
};
const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};
/** Options of container engines that are not mount(2) options; accepted and ignored as runc does. */
const IGNORED = new Set(['tmpcopyup', 'copy-symlink', 'z', 'Z', 'U', 'notmpcopyup', 'nocopy', 'norbind']);

export function parseMountOptions(options: readonly string[] = []): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  for (const opt of options) {
    if (opt in SET) flags |= SET[opt]!;
    else if (opt in CLEAR) flags &= ~CLEAR[opt]!;
    else if (opt in PROPAGATION) propagation = PROPAGATION[opt]!;
    else if (IGNORED.has(opt) || opt.startsWith('idmap') || opt.startsWith('ridmap')) continue;
    else data.push(opt);
  }
  return { flags, propagation, data };
}

export function propagationFlags(name: string): number | undefined {
  return PROPAGATION[name];
}
