/** The device nodes every container gets (the same six as runc and Docker), and /dev's symlinks. */
import type { Device, DeviceCgroupRule, Resources, Spec } from '../oci/runtime-spec.ts';

export const DEFAULT_DEVICES: readonly Required<Omit<Device, 'uid' | 'gid'>>[] = [
  { type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o666 },
  { type: 'c', path: '/dev/zero', major: 1, minor: 5, fileMode: 0o666 },
  { type: 'c', path: '/dev/full', major: 1, minor: 7, fileMode: 0o666 },
  { type: 'c', path: '/dev/random', major: 1, minor: 8, fileMode: 0o666 },
  { type: 'c', path: '/dev/urandom', major: 1, minor: 9, fileMode: 0o666 },
  { type: 'c', path: '/dev/tty', major: 5, minor: 0, fileMode: 0o666 },
];

export const DEV_SYMLINKS: readonly [target: string, path: string][] = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
];

/**
 * The device cgroup rules a container gets: the config's own, then allowances for the default
 * nodes, ptys and the config's devices (as runc appends them), so "deny all" stays usable.
 */
export function effectiveDeviceRules(spec: Spec): DeviceCgroupRule[] {
  const rules: DeviceCgroupRule[] = [...(spec.linux?.resources?.devices ?? [])];
  const allow = (type: 'c' | 'b', major: number | null, minor: number | null, access = 'rwm') =>
    rules.push({ allow: true, type, major, minor, access });
  allow('c', null, null, 'm');
  allow('b', null, null, 'm');
  for (const d of DEFAULT_DEVICES) allow('c', d.major, d.minor);
  allow('c', 5, 1); // /dev/console
  allow('c', 5, 2); // /dev/ptmx
  allow('c', 136, null); // /dev/pts/*
  for (const d of spec.linux?.devices ?? []) {
    if (d.type === 'p') continue;
    allow(d.type === 'b' ? 'b' : 'c', d.major ?? null, d.minor ?? null);
  }
  return rules;
}

export function effectiveResources(spec: Spec): Resources {
  return { ...(spec.linux?.resources ?? {}), devices: effectiveDeviceRules(spec) };
}
