/**
 * The per-container files, derived from the records alone: each container's /etc/hosts is rebuilt
 * from its own record, its `--add-host`s and the records of its peers (the containers that share a
 * user-defined network with it), so any process holding the state lock can bring every file up to
 * date, and a crash between two writes heals on the next attach or detach.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import { bareIp } from './ipnet.ts';
import { buildHosts, buildResolvConf, parseAddHost, writeInPlace, type HostEntry } from './files.ts';
import type { NetContext } from './state.ts';
import type { AttachmentRecord, NetworkRecord } from './types.ts';

export interface FilePaths {
  hostsFile: string;
  resolvConf: string;
  hostnameFile: string;
}

export function filePaths(ctx: NetContext, containerId: string): FilePaths {
  const dir = ctx.layout.files(containerId);
  return { hostsFile: path.join(dir, 'hosts'), resolvConf: path.join(dir, 'resolv.conf'), hostnameFile: path.join(dir, 'hostname') };
}

function readHostFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Names a peer answers to on a network: container name, aliases, short ID. */
function peerNames(rec: AttachmentRecord, aliases: readonly string[]): string[] {
  return [...new Set([rec.name, ...aliases, rec.containerId.slice(0, 12)].filter(Boolean))];
}

/** The containers whose /etc/hosts lists `rec` (and that `rec`'s lists): same DNS-enabled network. */
export function peersOf(rec: AttachmentRecord, all: readonly AttachmentRecord[], nets: ReadonlyMap<string, NetworkRecord>): AttachmentRecord[] {
  const mine = new Set(rec.endpoints.filter((e) => nets.get(e.network)?.dnsEnabled).map((e) => e.network));
  return all.filter((o) => o.containerId !== rec.containerId && o.endpoints.some((e) => mine.has(e.network)));
}

export function hostsContent(ctx: NetContext, rec: AttachmentRecord, all: readonly AttachmentRecord[], nets: ReadonlyMap<string, NetworkRecord>): string {
  const gateway = rec.endpoints.map((e) => nets.get(e.network)?.gateway).find(Boolean);
  const extraHosts: HostEntry[] = rec.extraHosts.map((s) => {
    const h = parseAddHost(s);
    return { ip: h.ip === 'host-gateway' ? (gateway ?? '127.0.0.1') : h.ip, names: [h.name] };
  });
  if (rec.mode === 'host') return buildHosts({ base: readHostFile(ctx.hostHosts), extraHosts, self: [], peers: [] });
  const fqdn = rec.hostname.includes('.') ? [rec.hostname, rec.hostname.split('.')[0]!] : [rec.hostname];
  const self: HostEntry[] = [];
  for (const ep of rec.endpoints) {
    for (const a of ep.iface?.addresses ?? []) {
      const dns = nets.get(ep.network)?.dnsEnabled;
      self.push({ ip: bareIp(a), names: [...fqdn, ...(rec.name ? [rec.name] : []), ...(dns ? ep.aliases : [])] });
    }
  }
  const peers: HostEntry[] = [];
  const mineDns = new Set(rec.endpoints.filter((e) => nets.get(e.network)?.dnsEnabled).map((e) => e.network));
  for (const o of peersOf(rec, all, nets)) {
    if (o.state === 'detaching') continue;
    for (const ep of o.endpoints) {
      if (!mineDns.has(ep.network) || !ep.iface) continue;
      for (const a of ep.iface.addresses) peers.push({ ip: bareIp(a), names: peerNames(o, ep.aliases) });
    }
  }
  return buildHosts({ extraHosts, self, peers });
}

/** Writes all three files of a freshly attached container. */
export function writeContainerFiles(ctx: NetContext, rec: AttachmentRecord, all: readonly AttachmentRecord[], nets: ReadonlyMap<string, NetworkRecord>): FilePaths {
  const p = filePaths(ctx, rec.containerId);
  mkdirSync(ctx.layout.files(rec.containerId), { recursive: true, mode: 0o755 });
  const host = rec.mode === 'host';
  writeInPlace(p.hostnameFile, `${host ? osHostname() : rec.hostname}\n`);
  const resolv = buildResolvConf({
    host: readHostFile(ctx.hostResolvConf),
    dns: rec.dns ?? [],
    search: rec.dnsSearch ?? [],
    options: rec.dnsOptions ?? [],
    keepLoopback: host,
  });
  writeInPlace(p.resolvConf, resolv);
  writeInPlace(p.hostsFile, hostsContent(ctx, rec, all, nets));
  return p;
}

/** Rewrites /etc/hosts of the given containers (those that still have files). */
export function refreshHosts(ctx: NetContext, targets: readonly AttachmentRecord[], all: readonly AttachmentRecord[], nets: ReadonlyMap<string, NetworkRecord>): void {
  for (const t of targets) {
    if (t.mode !== 'bridge' || t.state === 'detaching') continue;
    try {
      writeInPlace(filePaths(ctx, t.containerId).hostsFile, hostsContent(ctx, t, all, nets));
    } catch {
      // its files are being removed by a concurrent detach: nothing to keep current
    }
  }
}

export function removeContainerFiles(ctx: NetContext, containerId: string): void {
  rmSync(ctx.layout.files(containerId), { recursive: true, force: true });
}
