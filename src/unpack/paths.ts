/**
 * String checks on layer paths. They are not what keeps extraction inside its target (the
 * fd-relative writes of tree.ts are), but they turn a hostile entry into a clear error early.
 */
import { UnsafeLayerError } from './errors.ts';

/**
 * A tar entry name as a clean relative path ('' for the root itself): leading './' dropped,
 * duplicate and trailing slashes removed. Absolute paths and '..' components are refused.
 */
export function cleanEntryPath(name: string, what = name): string {
  if (name.includes('\0')) throw new UnsafeLayerError(what, 'its path contains a NUL byte');
  if (name.startsWith('/')) throw new UnsafeLayerError(what, 'its path is absolute');
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw new UnsafeLayerError(what, "its path contains '..'");
    parts.push(p);
  }
  return parts.join('/');
}

/** Splits a clean path into its parent ('' at top level) and base name. */
export function splitPath(clean: string): { dir: string; base: string } {
  const i = clean.lastIndexOf('/');
  return i < 0 ? { dir: '', base: clean } : { dir: clean.slice(0, i), base: clean.slice(i + 1) };
}

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
