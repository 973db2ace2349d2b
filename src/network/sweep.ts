/**
 * The sweep behind `system prune`: finds and removes networking whose container is gone, whatever
 * point a crash stopped at. Resources are listed *before* the records are read: attach, connect and
 * every ADD write the record first, so anything listed that no record explains is truly a stray and
 * not something a concurrent `run` is building.
 *
 *   records        'attached' for a dead container, or in flight with a dead owner → full teardown
 *   CNI cache      entries no record endpoint explains → DEL from the cache
 *   host-local     allocations no record explains → DEL from the definition (releases the address,
 *                  port mappings and firewall rules by container ID)
 *   netns pins     files no record explains → unmount
 *   masquerading   the bridge plugin's per-container chains of the containers found above → removed
 *   veths          ports of berth bridges no live record owns → deleted
 *   bridges        of networks this root removed but could not clean up → deleted with their rules
 */
import { readdirSync, readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import path from 'node:path';
import { teardown } from './attach.ts';
import { listCache } from './cni/cache.ts';
import { listNetworks } from './definitions.ts';
import { delEndpoint } from './endpoint.ts';
import { bridgePorts, deleteLink, removeMasqChains } from './host-net.ts';
import { cleanupRetired } from './networks.ts';
import { listNetns, removeNetns } from './netns.ts';
import { listRecords, ownerAlive, type NetContext } from './state.ts';
import type { AttachmentRecord, SweepReport } from './types.ts';

export type IsAlive = (containerId: string) => boolean | Promise<boolean>;

interface Allocation {
  network: string;
  ip: string;
  containerId: string;
  ifName: string;
}

/** host-local's files: `<dataDir>/<network>/<ip>` holding "<container id>\r\n<ifname>". */
function listAllocations(ipamDir: string): Allocation[] {
  const out: Allocation[] = [];
  let nets: string[] = [];
  try {
    nets = readdirSync(ipamDir);
  } catch {
    return out;
  }
  for (const network of nets) {
    let files: string[] = [];
    try {
      files = readdirSync(path.join(ipamDir, network));
    } catch {
      continue;
    }
    for (const ip of files.filter((f) => isIPv4(f))) {
      try {
        const [containerId = '', ifName = 'eth0'] = readFileSync(path.join(ipamDir, network, ip), 'utf8').split(/\r?\n/);
        if (containerId) out.push({ network, ip, containerId: containerId.trim(), ifName: ifName.trim() });
      } catch {
        // released meanwhile
      }
    }
  }
  return out;
}

function explains(records: readonly AttachmentRecord[], containerId: string, network?: string): boolean {
  return records.some((r) => r.containerId === containerId && (network === undefined || r.endpoints.some((e) => e.network === network)));
}

export async function sweep(ctx: NetContext, isAlive: IsAlive): Promise<SweepReport> {
  const report: SweepReport = { attachments: [], cacheEntries: [], allocations: [], netns: [], veths: [], bridges: [] };
  // snapshot first (see the module comment), then the records
  const cache = listCache(ctx.layout);
  const allocations = listAllocations(ctx.layout.ipamDir);
  const pins = listNetns(ctx.layout.runDir);
  const nets = listNetworks(ctx.layout);
  const before = listRecords(ctx);

  for (const rec of before) {
    const stale = rec.state === 'attached' ? !(await isAlive(rec.containerId)) : !ownerAlive(rec.owner) && !(await isAlive(rec.containerId));
    if (!stale) continue;
    try {
      await teardown(ctx, rec, true);
      report.attachments.push(rec.containerId);
    } catch {
      // left for the next sweep; the error is the DEL's and was already as good as it gets
    }
  }
  const records = listRecords(ctx);
  const done = new Set(report.attachments);
  for (const e of cache) {
    if (done.has(e.containerId) || explains(records, e.containerId, e.network)) continue;
    await delEndpoint(ctx, e.containerId, e.network, e.ifName, e.netns, false).catch(() => {});
    report.cacheEntries.push(`${e.containerId}/${e.network}`);
  }
  for (const a of allocations) {
    if (done.has(a.containerId) || explains(records, a.containerId, a.network) || report.cacheEntries.includes(`${a.containerId}/${a.network}`)) continue;
    if (nets.some((n) => n.name === a.network)) await delEndpoint(ctx, a.containerId, a.network, a.ifName, null, true).catch(() => {});
    report.allocations.push(`${a.network}/${a.ip}`);
  }
  for (const id of pins) {
    if (done.has(id) || explains(records, id)) continue;
    removeNetns(ctx.sys, ctx.layout.netns(id));
    report.netns.push(id);
  }
  // only pairs this root has evidence of: another engine root may use the same network names
  const strays = new Set([...report.attachments, ...report.cacheEntries.map((k) => k.split('/')[0]!), ...allocations.map((a) => a.containerId)]);
  removeMasqChains((network, id) => strays.has(id) && nets.some((n) => n.name === network) && !explains(records, id, network));
  // veths: only when nothing is being built right now (an ADD in flight has a veth not yet recorded)
  const building = records.some((r) => r.state !== 'attached' && ownerAlive(r.owner));
  if (!building) {
    const owned = new Set(records.flatMap((r) => r.endpoints.map((e) => e.iface?.hostVeth).filter(Boolean)));
    for (const n of nets) {
      for (const port of bridgePorts(n.bridge)) {
        if (owned.has(port)) continue;
        if (deleteLink(port)) report.veths.push(port);
      }
    }
  }
  report.bridges.push(...(await cleanupRetired(ctx)));
  return report;
}
