/**
 * COPY and ADD: which files a step copies (sources matched with wildcards, .dockerignore applied),
 * a content hash of them for the cache (paths, types, modes and bytes, never mtimes), and the copy
 * itself into a mounted root, with Docker's rules: a directory source copies its contents; a
 * destination ending in `/` (or an existing directory) receives files by their base name; missing
 * parents are created 0755 root:root; `--chown`/`--chmod` apply to everything copied; ADD extracts
 * local tar archives.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync, copyFileSync, lchownSync, lstatSync, lutimesSync, mkdirSync, readdirSync, readFileSync, readlinkSync,
  rmSync, symlinkSync, utimesSync, writeFileSync, type Stats,
} from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Sys } from '../sys/types.ts';
import { BuildError } from './errors.ts';
import { globRegExp, hasGlob, resolveInRoot } from './paths.ts';

/** Where sources come from: the context (with .dockerignore) or another stage's/image's tree. */
export interface SourceRoot {
  root: string;
  ignored?: (rel: string) => boolean;
  /** Context sources may not leave the root through `..`. */
  isContext: boolean;
}

export interface SourceEntry {
  abs: string;
  /** Path below the copied item (`''` for the item itself). */
  rel: string;
  st: Stats;
}

export interface SourceItem {
  /** What the user matched, for messages. */
  name: string;
  base: string;
  isDir: boolean;
  entries: SourceEntry[];
  /** Inline content (COPY <<EOF). */
  inline?: Buffer;
}

function walkAll(root: string, rel = ''): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(rel ? path.join(root, rel) : root).sort();
  } catch {
    return out;
  }
  for (const n of names) {
    const r = rel ? `${rel}/${n}` : n;
    out.push(r);
    if (lstatSync(path.join(root, r)).isDirectory()) out.push(...walkAll(root, r));
  }
  return out;
}

function cleanSource(src: SourceRoot, p: string): string {
  const norm = path.posix.normalize(`/${p}`).slice(1).replace(/\/$/, '');
  if (src.isContext) {
    const lexical = path.posix.normalize(p.replace(/^\/+/, ''));
    if (lexical === '..' || lexical.startsWith('../')) throw new BuildError(`forbidden path outside the build context: ${p}`);
  }
  return norm;
}

function itemOf(src: SourceRoot, rel: string, name: string): SourceItem {
  const abs = resolveInRoot(src.root, rel);
  if (src.isContext && !abs.startsWith(src.root)) throw new BuildError(`forbidden path outside the build context: ${name}`);
  let st: Stats;
  try {
    st = lstatSync(abs);
  } catch {
    throw new BuildError(`file not found in build context or excluded by .dockerignore: stat ${name}: file does not exist`);
  }
  const ctxRel = path.relative(src.root, abs);
  if (src.ignored?.(ctxRel)) throw new BuildError(`file not found in build context or excluded by .dockerignore: stat ${name}: file does not exist`);
  const item: SourceItem = { name, base: path.basename(abs), isDir: st.isDirectory(), entries: [{ abs, rel: '', st }] };
  if (item.isDir)
    for (const r of walkAll(abs)) {
      const full = ctxRel ? `${ctxRel}/${r}` : r;
      if (src.ignored?.(full)) continue;
      item.entries.push({ abs: path.join(abs, r), rel: r, st: lstatSync(path.join(abs, r)) });
    }
  return item;
}

/** The items `patterns` name in `src`; a wildcard matching nothing is an error, as in Docker. */
export function matchSources(src: SourceRoot, patterns: string[]): SourceItem[] {
  const items: SourceItem[] = [];
  for (const p of patterns) {
    const rel = cleanSource(src, p);
    if (!hasGlob(rel)) {
      items.push(itemOf(src, rel, p));
      continue;
    }
    const re = globRegExp(rel);
    const hits = walkAll(src.root).filter((r) => re.test(r) && !src.ignored?.(r));
    if (hits.length === 0) throw new BuildError(`no source files were specified: ${p}`);
    for (const h of hits) items.push(itemOf(src, h, h));
  }
  return items;
}

/** The cache's view of the sources: names, types, modes, link targets and content digests. */
export function hashSources(items: SourceItem[]): string {
  const h = createHash('sha256');
  for (const it of items) {
    h.update(`item\0${it.base}\0${it.isDir}\n`);
    if (it.inline) h.update(it.inline);
    for (const e of it.entries) {
      const t = e.st.isDirectory() ? 'd' : e.st.isSymbolicLink() ? 'l' : e.st.isFile() ? 'f' : 'o';
      h.update(`${e.rel}\0${t}\0${e.st.mode & 0o7777}\0${e.st.uid}:${e.st.gid}\0`);
      if (t === 'l') h.update(readlinkSync(e.abs));
      else if (t === 'f') h.update(createHash('sha256').update(readFileSync(e.abs)).digest());
      h.update('\n');
    }
  }
  return `sha256:${h.digest('hex')}`;
}

export interface CopyOptions {
  /** Absolute destination inside the image, trailing slash kept. */
  dest: string;
  chown?: { uid: number; gid: number };
  chmod?: number;
  /** ADD: extract local tar archives. */
  extract?: boolean;
  /** Sources from another stage keep their owners (Docker's COPY --from without --chown). */
  keepOwners?: boolean;
  sys: Sys;
}

function isDirIn(root: string, p: string): boolean {
  try {
    return lstatSync(resolveInRoot(root, p)).isDirectory();
  } catch {
    return false;
  }
}

/** mkdir -p inside the root, new directories 0755 and owned by `owner`. */
function mkdirsIn(root: string, p: string, owner: { uid: number; gid: number }): string {
  const parts = p.split('/').filter(Boolean);
  let cur = '';
  for (const part of parts) {
    cur = `${cur}/${part}`;
    const host = resolveInRoot(root, cur);
    let st;
    try {
      st = lstatSync(host);
    } catch {
      mkdirSync(host, { mode: 0o755 });
      chmodSync(host, 0o755);
      lchownSync(host, owner.uid, owner.gid);
      continue;
    }
    if (!st.isDirectory()) throw new BuildError(`cannot copy to ${p}: ${cur} is not a directory`);
  }
  return resolveInRoot(root, p);
}

function removeExisting(host: string, keepDir: boolean): void {
  try {
    const st = lstatSync(host);
    if (keepDir && st.isDirectory()) return;
    rmSync(host, { recursive: true, force: true });
  } catch {
    /* absent */
  }
}

function copyEntry(e: SourceEntry, to: string, opts: CopyOptions): void {
  const uid = opts.chown?.uid ?? (opts.keepOwners ? e.st.uid : 0);
  const gid = opts.chown?.gid ?? (opts.keepOwners ? e.st.gid : 0);
  const mode = opts.chmod ?? e.st.mode & 0o7777;
  if (e.st.isDirectory()) {
    removeExisting(to, true);
    mkdirSync(to, { recursive: true });
    chmodSync(to, mode);
    lchownSync(to, uid, gid);
    utimesSync(to, e.st.atime, e.st.mtime);
    return;
  }
  removeExisting(to, false);
  if (e.st.isSymbolicLink()) {
    symlinkSync(readlinkSync(e.abs), to);
    lchownSync(to, uid, gid);
    lutimesSync(to, e.st.atime, e.st.mtime);
    return;
  }
  if (!e.st.isFile()) return; // devices, fifos and sockets are not copied from a context
  copyFileSync(e.abs, to);
  chmodSync(to, mode);
  lchownSync(to, uid, gid);
  utimesSync(to, e.st.atime, e.st.mtime);
}

/** Copies `items` into the mounted tree `root` at `opts.dest`. */
export async function copyInto(root: string, items: SourceItem[], opts: CopyOptions): Promise<void> {
  const owner = opts.chown ?? { uid: 0, gid: 0 };
  const many = items.length > 1;
  const destIsDir = opts.dest.endsWith('/') || isDirIn(root, opts.dest);
  if (many && !destIsDir) throw new BuildError('When using COPY with more than one source file, the destination must be a directory and end with a /');
  const dest = opts.dest.replace(/\/+$/, '') || '/';
  for (const it of items) {
    if (it.inline) {
      const dir = mkdirsIn(root, destIsDir ? dest : path.posix.dirname(dest), { uid: 0, gid: 0 });
      const to = destIsDir ? path.join(dir, it.base) : resolveInRoot(root, dest, false);
      removeExisting(to, false);
      writeFileSync(to, it.inline);
      chmodSync(to, opts.chmod ?? 0o644);
      lchownSync(to, owner.uid, owner.gid);
      continue;
    }
    const top = it.entries[0]!;
    if (opts.extract && top.st.isFile() && (await isArchive(top.abs))) {
      const dir = mkdirsIn(root, dest, { uid: 0, gid: 0 });
      const { unpackLayer } = await import('../unpack/unpack.ts');
      await unpackLayer(opts.sys, Readable.from([readFileSync(top.abs)]), dir, { whiteouts: 'apply' });
      continue;
    }
    if (it.isDir) {
      const dir = mkdirsIn(root, dest, owner);
      if (opts.chown) lchownSync(dir, owner.uid, owner.gid);
      for (const e of it.entries.slice(1)) copyEntry(e, resolveInRoot(root, `${dest}/${e.rel}`, false), opts);
      continue;
    }
    if (destIsDir) {
      const dir = mkdirsIn(root, dest, owner);
      copyEntry(top, path.join(dir, it.base), opts);
    } else {
      mkdirsIn(root, path.posix.dirname(dest), owner);
      copyEntry(top, resolveInRoot(root, dest, false), opts);
    }
  }
}

/** A tar, gzip or zstd file (ADD's "recognized compression format"). */
async function isArchive(file: string): Promise<boolean> {
  const head = Buffer.alloc(512);
  const { openSync, readSync, closeSync } = await import('node:fs');
  const fd = openSync(file, 'r');
  let n = 0;
  try {
    n = readSync(fd, head, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
  if (n >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return true;
  return n >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar';
}
