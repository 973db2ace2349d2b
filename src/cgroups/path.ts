/**
 * Validation of `linux.cgroupsPath`. Absolute and relative forms are both placed under each
 * hierarchy root (as runc's cgroupfs driver does); the systemd "slice:prefix:name" form needs a
 * systemd driver we do not have, and ".." would escape the hierarchy, so both are refused.
 */
import { InvalidConfigError } from '../common/errors.ts';

/** Returns the path relative to each hierarchy root, e.g. "/berth/x" -> "berth/x". */
export function normalizeCgroupPath(cgroupsPath: string): string {
  if (/^[^/]*:[^/]*:[^/]*$/.test(cgroupsPath)) {
    throw new InvalidConfigError(
      `cgroupsPath "${cgroupsPath}" uses the systemd "slice:prefix:name" form, which berth does not support`,
      'use a path such as "berth/<id>"',
    );
  }
  const parts: string[] = [];
  for (const part of cgroupsPath.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new InvalidConfigError(`cgroupsPath "${cgroupsPath}" must not contain ".."`);
    if (part.includes('\0')) throw new InvalidConfigError('cgroupsPath contains a NUL byte');
    parts.push(part);
  }
  if (parts.length === 0) {
    throw new InvalidConfigError(`cgroupsPath "${cgroupsPath}" names the hierarchy root, not a cgroup of its own`);
  }
  return parts.join('/');
}
