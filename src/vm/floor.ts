/**
 * The boot floor: the same QEMU, kernel and command line with an initramfs whose init powers
 * off at once. The KVM probe boots it (does this kernel boot at all with KVM here?) and the
 * benchmark measures berth's boot against it.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { NotFoundError } from '../common/errors.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { ensureDir, sha256 } from './cache.ts';
import { cpioArchive } from './cpio.ts';
import { qemuArgs, type QemuConfig } from './qemu-args.ts';
import { spawnQemu } from './qemu.ts';

/** An initramfs of busybox (from busybox-static) and an /init script that powers off. */
export function prepareFloorInitramfs(cacheDir: string, busybox = '/bin/busybox'): string {
  if (!existsSync(busybox)) throw new NotFoundError(`${busybox} not found`, 'apt-get install busybox-static');
  const archive = cpioArchive([
    { type: 'dir', path: 'dev' },
    { type: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { type: 'dir', path: 'bin' },
    { type: 'file', path: 'bin/busybox', data: readFileSync(busybox), mode: 0o755 },
    { type: 'file', path: 'init', data: Buffer.from('#!/bin/busybox sh\nexec /bin/busybox poweroff -f\n'), mode: 0o755 },
  ]);
  const file = path.join(ensureDir(path.join(cacheDir, 'initramfs')), `floor-${sha256(archive)}.cpio`);
  if (!existsSync(file)) writeFileAtomic(file, archive);
  return file;
}

export interface FloorBoot {
  ok: boolean;
  ms: number;
}

/** Boots the floor once; `ok` if QEMU exited cleanly within `timeoutMs`. */
export async function bootFloor(qemu: string, cfg: Omit<QemuConfig, 'agentSocket' | 'rootfs'>, timeoutMs: number): Promise<FloorBoot> {
  const t0 = performance.now();
  const q = spawnQemu(qemu, qemuArgs(cfg));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    q.kill('SIGKILL');
  }, timeoutMs);
  const r = await q.exited;
  clearTimeout(timer);
  return { ok: !timedOut && r.code === 0, ms: performance.now() - t0 };
}
