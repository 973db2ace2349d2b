/** Parsing Docker's flag values: sizes, ulimits, -v, --mount, --tmpfs, env files, labels. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from '../../common/errors.ts';
import type { MountSpec } from '../../engine/options.ts';

/** Docker's RAMInBytes: "4MB", "4m", "512k", "1g", plain bytes; the units are binary. */
export function parseSize(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`invalid size: '${v}'`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[m[2]!.toLowerCase() as ''];
  return Math.round(Number(m[1]) * mult);
}

/** --memory-swap: -1 means unlimited */
export function parseSwap(v: string): number {
  return v.trim() === '-1' ? -1 : parseSize(v);
}

export function parseCpus(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`invalid --cpus value "${v}": must be a positive number`);
  return n;
}

export function parseInteger(what: string): (v: string) => number {
  return (v) => {
    if (!/^-?\d+$/.test(v.trim())) throw new InvalidArgumentError(`invalid ${what}: "${v}"`);
    return Number(v);
  };
}

/** nofile=1024:2048, nproc=512 */
export function parseUlimit(v: string): { name: string; soft: number; hard: number } {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`invalid ulimit "${v}": expected name=soft[:hard]`);
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (soft > hard) throw new InvalidArgumentError(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  const inf = (n: number) => (n === -1 ? Number.MAX_SAFE_INTEGER : n);
  return { name: m[1]!, soft: inf(soft), hard: inf(hard) };
}

/** -v host:ctr[:ro|rw][,propagation], -v name:ctr, -v ctr (anonymous volume) */
export function parseVolume(v: string): MountSpec {
  const parts = v.split(':');
  if (parts.length === 1) {
    if (!path.isAbsolute(parts[0]!)) throw new InvalidArgumentError(`invalid volume "${v}": the container path must be absolute`);
    return { type: 'volume', target: parts[0]! };
  }
  if (parts.length > 3) throw new InvalidArgumentError(`invalid volume specification: '${v}'`);
  const [src, target, mode = ''] = parts as [string, string, string?];
  if (!path.isAbsolute(target)) throw new InvalidArgumentError(`invalid volume "${v}": the container path must be absolute`);
  const opts = mode.split(',').filter(Boolean);
  for (const o of opts)
    if (!['ro', 'rw', 'z', 'Z', 'private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'nocopy'].includes(o))
      throw new InvalidArgumentError(`invalid mode "${o}" in volume "${v}"`);
  const readonly = opts.includes('ro');
  const propagation = opts.find((o) => /private|shared|slave/.test(o));
  if (path.isAbsolute(src)) return { type: 'bind', source: src, target, readonly, ...(propagation ? { propagation } : {}) };
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(src)) throw new InvalidArgumentError(`invalid volume name "${src}"`);
  return { type: 'volume', source: src, target, readonly };
}

/** --mount type=bind,source=/a,target=/b,readonly */
export function parseMount(v: string): MountSpec {
  const kv = new Map<string, string>();
  for (const part of v.split(',')) {
    const i = part.indexOf('=');
    kv.set(i < 0 ? part : part.slice(0, i), i < 0 ? 'true' : part.slice(i + 1));
  }
  const type = (kv.get('type') ?? 'volume') as MountSpec['type'];
  if (!['bind', 'volume', 'tmpfs'].includes(type)) throw new InvalidArgumentError(`invalid mount type "${type}"`);
  const target = kv.get('target') ?? kv.get('destination') ?? kv.get('dst');
  if (!target || !path.isAbsolute(target)) throw new InvalidArgumentError(`--mount "${v}" needs an absolute target`);
  const source = kv.get('source') ?? kv.get('src');
  const ro = kv.get('readonly') ?? kv.get('ro');
  const readonly = ro !== undefined && ro !== 'false' && ro !== '0';
  if (type === 'bind' && (!source || !path.isAbsolute(source))) throw new InvalidArgumentError(`--mount "${v}": a bind mount needs an absolute source`);
  const m: MountSpec = { type, target, readonly };
  if (source) m.source = source;
  if (kv.has('bind-propagation')) m.propagation = kv.get('bind-propagation')!;
  if (kv.has('tmpfs-size')) m.tmpfsSize = parseSize(kv.get('tmpfs-size')!);
  if (kv.has('tmpfs-mode')) m.tmpfsMode = parseInt(kv.get('tmpfs-mode')!, 8);
  return m;
}

/** --tmpfs /run[:size=64m,mode=1777] */
export function parseTmpfs(v: string): MountSpec {
  const [target = '', opts = ''] = v.split(/:(.*)/s);
  if (!path.isAbsolute(target)) throw new InvalidArgumentError(`invalid --tmpfs "${v}": the path must be absolute`);
  const m: MountSpec = { type: 'tmpfs', target };
  for (const o of opts.split(',').filter(Boolean)) {
    const [k, val = ''] = o.split('=');
    if (k === 'size') m.tmpfsSize = parseSize(val);
    else if (k === 'mode') m.tmpfsMode = parseInt(val, 8);
    else if (k === 'ro') m.readonly = true;
  }
  return m;
}

/** -e K=V, or -e K to take K from our own environment (skipped when unset, as Docker does). */
export function expandEnv(list: string[]): string[] {
  const out: string[] = [];
  for (const e of list) {
    if (e.includes('=')) out.push(e);
    else if (process.env[e] !== undefined) out.push(`${e}=${process.env[e]}`);
  }
  return out;
}

export function readEnvFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InvalidArgumentError(`cannot read env file ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  return expandEnv(
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#')),
  );
}

export function parseLabels(list: string[]): Record<string, string> {
  return Object.fromEntries(list.map((l) => (l.includes('=') ? [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] : [l, ''])));
}

export const collect = (v: string, prev: string[]) => [...prev, v];
