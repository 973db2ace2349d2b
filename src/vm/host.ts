/** Facts about the host that the VM backend needs: QEMU's path, the TSC frequency, /dev/kvm. */
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';
import { NotFoundError } from '../common/errors.ts';

/** BERTH_QEMU, else qemu-system-x86_64 on PATH. */
export function qemuBinary(): string {
  const explicit = process.env.BERTH_QEMU;
  if (explicit) return explicit;
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = path.join(dir || '.', 'qemu-system-x86_64');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  throw new NotFoundError('qemu-system-x86_64 not found', 'apt-get install qemu-system-x86');
}

/** The TSC frequency in kHz from /proc/cpuinfo's first "cpu MHz" line (undefined if absent). */
export function parseTscKhz(cpuinfo: string): number | undefined {
  const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo);
  if (!m) return undefined;
  const khz = Math.round(Number(m[1]) * 1000);
  return Number.isFinite(khz) && khz > 0 ? khz : undefined;
}

export function hostTscKhz(): number | undefined {
  try {
    return parseTscKhz(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return undefined;
  }
}

export function hostCpuModel(): string {
  try {
    return /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** /dev/kvm present and openable read-write (a missing node means TCG without a probe). */
export function kvmUsable(dev = '/dev/kvm'): boolean {
  try {
    accessSync(dev, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
