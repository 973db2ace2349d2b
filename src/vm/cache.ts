/**
 * Where the VM backend keeps what it derives from host files (uncompressed kernels, initramfs
 * images, KVM probe verdicts). Everything here is keyed by content digest and written
 * atomically, so concurrent berth processes can share it and a crash leaves no torn file.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../store/atomic.ts';

/** BERTH_VM_CACHE, else /var/cache/berth/vm for root, else $XDG_CACHE_HOME/berth/vm. */
export function defaultCacheDir(): string {
  if (process.env.BERTH_VM_CACHE) return process.env.BERTH_VM_CACHE;
  if (process.getuid?.() === 0) return '/var/cache/berth/vm';
  const base = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'berth', 'vm');
}

export function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return dir;
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Streams a file through sha256 (kernels are tens of MiB: no need to hold them twice). */
export async function fileDigest(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * A file's content digest without reading it when it has not changed: remembered under
 * <cache>/stat/ by (path, device, inode, size, mtime). Saves hashing a kernel on every boot.
 */
export async function cachedFileDigest(file: string, cacheDir: string): Promise<string> {
  const st = statSync(file, { bigint: true });
  const key = sha256(`${path.resolve(file)}\n${st.dev}\n${st.ino}\n${st.size}\n${st.mtimeNs}\n${st.ctimeNs}`);
  const memo = path.join(cacheDir, 'stat', key);
  try {
    const d = readFileSync(memo, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(d)) return d;
  } catch {
    // not remembered yet
  }
  const d = await fileDigest(file);
  writeFileAtomic(path.join(ensureDir(path.join(cacheDir, 'stat')), key), `${d}\n`);
  return d;
}

/** Like cachedFileDigest, synchronously and without reading the file: only its identity. */
export function statIdentity(file: string): string {
  const st = statSync(file, { bigint: true });
  return `${path.resolve(file)}:${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}
