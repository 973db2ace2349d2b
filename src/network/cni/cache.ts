/**
 * The CNI result cache: what ADD was given and what it returned, written before and after each
 * ADD, so DEL gets the same configuration and `prevResult` even when the process that ran ADD died
 * or the network definition changed since (libcni keeps /var/lib/cni/results for the same reason).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic } from '../../store/atomic.ts';
import type { NetConfList } from '../conflist.ts';
import type { NetworkLayout } from '../layout.ts';
import type { CniResult } from './runtime.ts';

export interface CacheEntry {
  kind: 'berth-cni-cache/1';
  containerId: string;
  network: string;
  ifName: string;
  netns: string;
  args: [string, string][];
  capabilityArgs: Record<string, unknown>;
  config: NetConfList;
  /** Absent while ADD is in flight (or if it failed): DEL then runs without a prevResult. */
  result?: CniResult;
}

export function writeCache(layout: NetworkLayout, entry: CacheEntry): void {
  const file = layout.cache(entry.containerId, entry.network);
  mkdirSync(path.dirname(file), { recursive: true });
  writeJsonAtomic(file, entry);
}

export function readCache(layout: NetworkLayout, containerId: string, network: string): CacheEntry | undefined {
  try {
    return JSON.parse(readFileSync(layout.cache(containerId, network), 'utf8')) as CacheEntry;
  } catch {
    return undefined;
  }
}

export function removeCache(layout: NetworkLayout, containerId: string, network?: string): void {
  if (network === undefined) rmSync(path.join(layout.cacheDir, containerId), { recursive: true, force: true });
  else rmSync(layout.cache(containerId, network), { force: true });
}

/** Every cached entry, for the sweep. */
export function listCache(layout: NetworkLayout): CacheEntry[] {
  const out: CacheEntry[] = [];
  let ids: string[] = [];
  try {
    ids = readdirSync(layout.cacheDir);
  } catch {
    return out;
  }
  for (const id of ids) {
    let files: string[] = [];
    try {
      files = readdirSync(path.join(layout.cacheDir, id));
    } catch {
      continue;
    }
    for (const f of files) {
      if (!f.endsWith('.json')) continue;
      const e = readCache(layout, id, f.slice(0, -5));
      if (e) out.push(e);
    }
  }
  return out;
}
