/**
 * The library's shared state and the one lock around it. Every decision that other berth processes
 * could race on (the default network's creation, a subnet, a host port, a requested IP, who is on
 * which network) is read, decided and written under an exclusive flock(2) of
 * `<root>/networks/.lock`, which the kernel drops if the process dies. The slow parts (plugins,
 * namespaces) run outside it: host-local has its own lock, and the records say what is in flight.
 */
import type { Subnet } from './ipnet.ts';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { withFlock } from '../store/lock.ts';
import { writeJsonAtomic } from '../store/atomic.ts';
import type { Sys } from '../sys/index.ts';
import type { HostRules } from './host-net.ts';
import type { ExecOptions } from './cni/exec.ts';
import type { NetworkOptions } from './definitions.ts';
import type { NetworkLayout } from './layout.ts';
import type { AttachmentRecord } from './types.ts';

/** Everything the library's functions need, built once by `NetworkManager`. */
export interface NetContext {
  layout: NetworkLayout;
  options: NetworkOptions;
  sys: Sys;
  exec: ExecOptions;
  /** The host's files the containers' files derive from. */
  hostResolvConf: string;
  hostHosts: string;
  /** The host's IPv4 routes, that automatic subnets keep off (a fixed list in unit tests). */
  hostRoutes?: () => Subnet[];
  /** Per-network host rules (masquerading): iptables, or a fake in unit tests. */
  hostRules: HostRules;
}

export function withStateLock<T>(ctx: NetContext, fn: () => Promise<T> | T): Promise<T> {
  mkdirSync(ctx.layout.networksDir, { recursive: true });
  return withFlock(ctx.sys, ctx.layout.lockFile, 'exclusive', fn);
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Container IDs become file names and CNI_CONTAINERID: keep them to a safe alphabet. */
export function validContainerId(id: string): boolean {
  return ID_RE.test(id);
}

export function readRecord(ctx: NetContext, containerId: string): AttachmentRecord | undefined {
  try {
    return JSON.parse(readFileSync(ctx.layout.container(containerId), 'utf8')) as AttachmentRecord;
  } catch {
    return undefined;
  }
}

export function writeRecord(ctx: NetContext, rec: AttachmentRecord): void {
  mkdirSync(ctx.layout.containersDir, { recursive: true });
  writeJsonAtomic(ctx.layout.container(rec.containerId), rec);
}

export function deleteRecord(ctx: NetContext, containerId: string): void {
  rmSync(ctx.layout.container(containerId), { force: true });
}

export function listRecords(ctx: NetContext): AttachmentRecord[] {
  let names: string[];
  try {
    names = readdirSync(ctx.layout.containersDir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => readRecord(ctx, n.slice(0, -5)))
    .filter((r): r is AttachmentRecord => r !== undefined);
}

/** Start time of a process (clock ticks since boot), to tell a live owner from a reused PID. */
export function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}

export function selfOwner(): { pid: number; start: number } {
  return { pid: process.pid, start: processStart(process.pid) ?? 0 };
}

/** True while the process that began an attach or detach still runs. */
export function ownerAlive(owner: { pid: number; start: number } | undefined): boolean {
  return owner !== undefined && processStart(owner.pid) === owner.start;
}
