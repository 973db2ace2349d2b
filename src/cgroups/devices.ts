/**
 * The OCI device allow/deny list, validated once and rendered for v1 (devices.allow/deny lines).
 * The v2 eBPF program (device-filter.ts) consumes the same normalized rules, so both drivers
 * agree on what "type a", missing major/minor and missing access mean.
 */
import { InvalidConfigError } from '../common/errors.ts';
import type { DeviceCgroupRule } from '../oci/runtime-spec.ts';

export interface DeviceRule {
  allow: boolean;
  type: 'a' | 'c' | 'b';
  /** -1 = any. */
  major: number;
  /** -1 = any. */
  minor: number;
  /** Subset of "rwm" in that order; never empty. */
  access: string;
}

function number(rule: DeviceCgroupRule, v: number | null | undefined, what: string): number {
  if (v === undefined || v === null || v === -1) return -1;
  // Fits a signed 32-bit eBPF immediate; the kernel's majors (12 bits) and minors (20 bits) are far below.
  if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
    throw new InvalidConfigError(`device rule ${JSON.stringify(rule)}: invalid ${what} ${v}`);
  }
  return v;
}

/** Validates and fills defaults: type "a", any major/minor, access "rwm" (as the spec says for unset). */
export function normalizeDeviceRules(rules: DeviceCgroupRule[]): DeviceRule[] {
  return rules.map((rule) => {
    const type = rule.type ?? 'a';
    if (type !== 'a' && type !== 'c' && type !== 'b') {
      throw new InvalidConfigError(`device rule ${JSON.stringify(rule)}: type must be "a", "c" or "b"`);
    }
    const raw = rule.access ?? '';
    if (!/^[rwm]*$/.test(raw)) {
      throw new InvalidConfigError(`device rule ${JSON.stringify(rule)}: access must be made of r, w and m`);
    }
    const access = raw === '' ? 'rwm' : ['r', 'w', 'm'].filter((c) => raw.includes(c)).join('');
    return {
      allow: rule.allow === true,
      type,
      major: number(rule, rule.major, 'major'),
      minor: number(rule, rule.minor, 'minor'),
      access,
    };
  });
}

export interface V1DeviceWrite {
  file: 'devices.allow' | 'devices.deny';
  line: string;
}

function num(n: number): string {
  return n < 0 ? '*' : String(n);
}

/**
 * v1 writes: first "a" to devices.deny (back to deny-all, whatever an earlier apply allowed),
 * then each rule in order, so the kernel's own last-write-wins bookkeeping decides.
 * "a" with specific numbers or partial access cannot be said in one v1 line ("a" always means
 * everything), so it is written as one "c" and one "b" line.
 */
export function v1DeviceWrites(rules: DeviceRule[]): V1DeviceWrite[] {
  const out: V1DeviceWrite[] = [{ file: 'devices.deny', line: 'a' }];
  for (const r of rules) {
    const file = r.allow ? 'devices.allow' : 'devices.deny';
    if (r.type === 'a' && r.major < 0 && r.minor < 0 && r.access === 'rwm') {
      out.push({ file, line: 'a' });
      continue;
    }
    const types = r.type === 'a' ? (['c', 'b'] as const) : [r.type];
    for (const t of types) out.push({ file, line: `${t} ${num(r.major)}:${num(r.minor)} ${r.access}` });
  }
  return out;
}
