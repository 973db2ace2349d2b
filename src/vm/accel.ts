/**
 * KVM wherever it works, TCG otherwise. /dev/kvm existing is not enough: under some nested
 * hypervisors (e.g. PVM) a stock kernel hangs at boot with KVM. So `auto` boots a probe VM
 * with a short timeout once per host and kernel and caches the verdict; a failed probe means
 * TCG with a one-line notice.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, NotFoundError } from '../common/errors.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { ensureDir, sha256 } from './cache.ts';
import type { Accel } from './qemu-args.ts';

export type AccelRequest = Accel | 'auto';

export function parseAccel(v: string): AccelRequest {
  if (v === 'kvm' || v === 'tcg' || v === 'auto') return v;
  throw new InvalidArgumentError(`--accel must be kvm, tcg or auto, not "${v}"`);
}

export interface AccelChoice {
  accel: Accel;
  /** One line for the user when auto fell back from a /dev/kvm that does not work. */
  notice?: string;
  probed: boolean;
}

export interface AccelDeps {
  kvmUsable(): boolean;
  /** Boots a throwaway VM with KVM; true if it ran to its end within the probe's timeout. */
  probe(): Promise<boolean>;
  readVerdict(key: string): boolean | undefined;
  writeVerdict(key: string, ok: boolean): void;
}

/** The cache key of a probe verdict: this host (kernel, CPU) and this guest kernel. */
export function probeKey(guestKernelDigest: string, cpuModel: string, hostRelease = os.release()): string {
  return sha256(`${hostRelease}\n${cpuModel}\n${guestKernelDigest}`);
}

export async function chooseAccel(req: AccelRequest, key: string, deps: AccelDeps): Promise<AccelChoice> {
  if (req === 'tcg') return { accel: 'tcg', probed: false };
  if (req === 'kvm') {
    if (!deps.kvmUsable()) throw new NotFoundError('--accel kvm: /dev/kvm is missing or not accessible');
    return { accel: 'kvm', probed: false };
  }
  if (!deps.kvmUsable()) return { accel: 'tcg', probed: false };
  let ok = deps.readVerdict(key);
  const probed = ok === undefined;
  if (ok === undefined) {
    ok = await deps.probe();
    deps.writeVerdict(key, ok);
  }
  return ok
    ? { accel: 'kvm', probed }
    : { accel: 'tcg', probed, notice: 'berth: KVM cannot boot the guest kernel on this host; using software emulation (TCG), which is slower' };
}

/** Verdicts as small JSON files under <cache>/kvm-probe/. */
export function fileVerdicts(cacheDir: string): Pick<AccelDeps, 'readVerdict' | 'writeVerdict'> {
  const dir = path.join(cacheDir, 'kvm-probe');
  return {
    readVerdict(key) {
      try {
        const v = JSON.parse(readFileSync(path.join(dir, `${key}.json`), 'utf8')) as { ok?: unknown };
        return typeof v.ok === 'boolean' ? v.ok : undefined;
      } catch {
        return undefined;
      }
    },
    writeVerdict(key, ok) {
      writeFileAtomic(path.join(ensureDir(dir), `${key}.json`), JSON.stringify({ ok, at: new Date().toISOString() }) + '\n');
    },
  };
}
