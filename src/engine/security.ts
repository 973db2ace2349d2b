/**
 * Docker's default security profile, as data: the capability set, the masked and read-only
 * /proc and /sys paths. The seccomp profile lives in src/seccomp/default-profile.ts.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '../common/errors.ts';
import { CAPABILITIES } from '../runtime/linux-constants.ts';
import { DOCKER_DEFAULT_CAPABILITIES } from '../seccomp/default-profile.ts';

/** Docker's default capability set (one list, kept with Docker's seccomp profile it goes with). */
export const DEFAULT_CAPABILITIES: readonly string[] = DOCKER_DEFAULT_CAPABILITIES;

export const DOCKER_MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const DOCKER_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

function normalizeCap(c: string): string {
  const up = c.toUpperCase();
  const name = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (up !== 'ALL' && !(CAPABILITIES as readonly string[]).includes(name)) throw new InvalidArgumentError(`unknown capability "${c}"`);
  return up === 'ALL' ? 'ALL' : name;
}

/** The capabilities this process may hand on (its bounding set): no container can get more. */
export function hostCapabilities(status?: string): string[] {
  let text = status;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch {
      return [...CAPABILITIES];
    }
  }
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(text);
  if (!m) return [...CAPABILITIES];
  const mask = BigInt(`0x${m[1]}`);
  return CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

/**
 * Docker's rule: start from the default set (or all with --privileged), add, then drop; "ALL"
 * works on both sides. "All" means all that this host allows (here, for example, CAP_SYS_RESOURCE
 * is outside the bounding set); asking for one it does not allow by name is an error.
 */
export function effectiveCapabilities(opts: { privileged?: boolean; capAdd?: string[]; capDrop?: string[] }, host: string[] = hostCapabilities()): string[] {
  if (opts.privileged) return [...host];
  const add = (opts.capAdd ?? []).map(normalizeCap);
  const drop = (opts.capDrop ?? []).map(normalizeCap);
  let caps = new Set(drop.includes('ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => host.includes(c)));
  if (add.includes('ALL')) caps = new Set(host);
  for (const c of add) {
    if (c === 'ALL') continue;
    if (!host.includes(c)) throw new InvalidArgumentError(`capability ${c} is not available on this host (not in its bounding set)`);
    caps.add(c);
  }
  for (const c of drop) if (c !== 'ALL') caps.delete(c);
  return [...caps];
}
