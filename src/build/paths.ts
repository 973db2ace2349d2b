/**
 * Paths inside a root that is not ours: an image's merged tree or the build context. Symlinks are
 * followed as if `root` were `/` (Docker's FollowSymlinkInScope), so an absolute link in an image
 * can never send a COPY to the host's /etc. Plus Go's filepath.Match, which is what Docker's
 * COPY/ADD wildcards are.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { BuildError } from './errors.ts';

/** The host path of `p` inside `root`, every symlink resolved in scope (the last one only if `followLast`). */
export function resolveInRoot(root: string, p: string, followLast = true): string {
  let todo = p.split('/').filter((c) => c && c !== '.');
  const done: string[] = [];
  let hops = 0;
  while (todo.length) {
    const c = todo.shift()!;
    if (c === '..') {
      done.pop();
      continue;
    }
    const host = path.join(root, ...done, c);
    let st;
    try {
      st = lstatSync(host);
    } catch {
      done.push(c, ...todo.filter((x) => x !== '.'));
      // the rest does not exist: keep it lexically, resolving `..`
      return path.join(root, path.posix.normalize(`/${done.join('/')}`));
    }
    if (st.isSymbolicLink() && (todo.length > 0 || followLast)) {
      if (++hops > 255) throw new BuildError(`too many levels of symbolic links: ${p}`);
      const target = readlinkSync(host);
      const parts = target.split('/').filter((x) => x && x !== '.');
      if (target.startsWith('/')) done.length = 0;
      todo = [...parts, ...todo];
      continue;
    }
    done.push(c);
  }
  return path.join(root, ...done);
}

export function hasGlob(p: string): boolean {
  return /[*?[]/.test(p);
}

/** Go's filepath.Match pattern as a RegExp over one `/`-separated path. */
export function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else if (c === '[') {
      let j = i + 1;
      let cls = '';
      if (pattern[j] === '^' || pattern[j] === '!') {
        cls = '^';
        j++;
      }
      for (; j < pattern.length && pattern[j] !== ']'; j++) {
        const d = pattern[j]!;
        if (d === '\\' && j + 1 < pattern.length) cls += `\\${pattern[++j]}`;
        else cls += d === '/' ? '' : /[\]\\^]/.test(d) ? `\\${d}` : d;
      }
      if (j >= pattern.length) throw new BuildError(`syntax error in pattern: ${pattern}`);
      re += `[${cls}]`;
      i = j;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
