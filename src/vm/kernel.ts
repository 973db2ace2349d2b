/**
 * The guest kernel. By default the host distribution's kernel package (Debian's
 * linux-image-amd64 in /boot). QEMU boots an uncompressed ELF `vmlinux` straight through its
 * PVH entry point, which under emulation saves the 4–6 s an xz bzImage spends decompressing
 * itself, so we extract it once from the bzImage and cache it by the bzImage's digest.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { InvalidArgumentError, NotFoundError, SystemError } from '../common/errors.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { cachedFileDigest, ensureDir } from './cache.ts';

export interface GuestKernel {
  /** The file the user or the distribution gave (a bzImage or already a vmlinux). */
  source: string;
  /** The uncompressed ELF that QEMU loads. */
  vmlinux: string;
  /** `uname -r` of the guest, from the bzImage header; it names /lib/modules/<release>. */
  release: string;
  digest: string;
}

/** Compares dotted/dashed versions numerically ("6.1.0-56" > "6.1.0-9"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.\-+~]/);
  const pb = b.split(/[.\-+~]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = Number(x);
    const ny = Number(y);
    const c = Number.isFinite(nx) && Number.isFinite(ny) && x !== '' && y !== '' ? nx - ny : x.localeCompare(y);
    if (c !== 0) return c;
  }
  return 0;
}

/**
 * The kernel to boot: an explicit path, else BERTH_VM_KERNEL, else the newest /boot/vmlinuz-*.
 * Not `uname -r`'s: the host may run a kernel of its own that is not in /boot at all.
 */
export function findKernel(explicit?: string, bootDir = '/boot'): string {
  const chosen = explicit ?? process.env.BERTH_VM_KERNEL;
  if (chosen) {
    if (!existsSync(chosen)) throw new NotFoundError(`kernel ${chosen} does not exist`);
    return chosen;
  }
  let names: string[] = [];
  try {
    names = readdirSync(bootDir).filter((n) => n.startsWith('vmlinuz-'));
  } catch {
    // no /boot at all: same message as an empty one
  }
  const newest = names.sort((a, b) => compareVersions(a.slice(8), b.slice(8))).at(-1);
  if (!newest) {
    throw new NotFoundError(`no guest kernel: ${bootDir} has no vmlinuz-*`, 'install linux-image-amd64 or pass --kernel PATH');
  }
  return path.join(bootDir, newest);
}

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** The release string a bzImage carries in its setup header (boot protocol ≥ 2.00). */
export function bzImageRelease(img: Buffer): string | undefined {
  if (img.length < 0x250 || img.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
  const off = img.readUInt16LE(0x20e) + 0x200;
  if (off >= img.length) return undefined;
  const end = img.indexOf(0, off);
  return img.toString('latin1', off, end < 0 ? off + 64 : end).split(' ')[0];
}

/** The compressed kernel inside a bzImage: where the setup header says it is, and its format. */
export function bzImagePayload(img: Buffer): { format: 'xz' | 'gzip' | 'zstd' | 'other'; data: Buffer } {
  if (img.length < 0x250 || img.toString('latin1', 0x202, 0x206) !== 'HdrS') {
    throw new InvalidArgumentError('not a bzImage (no HdrS setup header)');
  }
  const setupSects = img[0x1f1] || 4;
  const pm = (setupSects + 1) * 512;
  const start = pm + img.readUInt32LE(0x248);
  const data = img.subarray(start, start + img.readUInt32LE(0x24c));
  const m = (bytes: number[]): boolean => bytes.every((b, i) => data[i] === b);
  if (m([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return { format: 'xz', data };
  if (m([0x1f, 0x8b])) return { format: 'gzip', data };
  if (m([0x28, 0xb5, 0x2f, 0xfd])) return { format: 'zstd', data };
  return { format: 'other', data };
}

function withoutSizeTrailer<T>(data: Buffer, fn: (b: Buffer) => T): T {
  // the kernel build appends the uncompressed size after some payloads
  try {
    return fn(data);
  } catch {
    return fn(data.subarray(0, data.length - 4));
  }
}

/** Decompresses a bzImage's payload to the ELF vmlinux. xz goes through Debian's `xz` (xz-utils). */
export function decompressKernel(img: Buffer): Buffer {
  const { format, data } = bzImagePayload(img);
  let out: Buffer;
  if (format === 'xz') {
    const r = spawnSync('xz', ['-dc', '--single-stream'], { input: data, maxBuffer: 1 << 30 });
    if (r.error || r.status !== 0) {
      throw new SystemError(`cannot decompress the kernel with xz: ${r.error?.message ?? r.stderr.toString().trim()}`, {
        hint: 'install xz-utils',
      });
    }
    out = r.stdout;
  } else if (format === 'gzip') {
    out = withoutSizeTrailer(data, (b) => gunzipSync(b));
  } else if (format === 'zstd') {
    out = withoutSizeTrailer(data, (b) => zstdDecompressSync(b));
  } else {
    throw new InvalidArgumentError('the kernel is compressed with a format berth cannot unpack (xz, gzip and zstd are supported)');
  }
  if (!out.subarray(0, 4).equals(ELF_MAGIC)) throw new SystemError('the decompressed kernel is not an ELF file');
  return out;
}

/** The uncompressed kernel for `source`, from the cache or extracted now. */
export async function prepareKernel(source: string, cacheDir: string): Promise<GuestKernel> {
  const digest = await cachedFileDigest(source, cacheDir);
  const dir = path.join(cacheDir, 'kernels', digest);
  const vmlinux = path.join(dir, 'vmlinux');
  const relFile = path.join(dir, 'release');
  if (existsSync(vmlinux) && existsSync(relFile)) {
    return { source, vmlinux, release: readFileSync(relFile, 'utf8').trim(), digest };
  }
  const img = readFileSync(source);
  if (img.subarray(0, 4).equals(ELF_MAGIC)) {
    // already a vmlinux: its release is not in a header; take it from the file name if it has one
    const release = /vmlinu[xz]-(.+)$/.exec(path.basename(source))?.[1] ?? 'unknown';
    return { source, vmlinux: source, release, digest };
  }
  const release = bzImageRelease(img) ?? 'unknown';
  ensureDir(dir);
  writeFileAtomic(vmlinux, decompressKernel(img));
  writeFileAtomic(relFile, `${release}\n`);
  return { source, vmlinux, release, digest };
}

/** CONFIG_HZ of the guest kernel (for lpj=), from /boot/config-<release>; Debian's 250 if unknown. */
export function kernelHz(release: string, bootDir = '/boot'): number {
  try {
    const m = /^CONFIG_HZ=(\d+)$/m.exec(readFileSync(path.join(bootDir, `config-${release}`), 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // no config file: fall through
  }
  return 250;
}
