/**
 * `network create|ls|inspect|rm|prune` over the definitions. Removing a network also removes what
 * the plugins leave behind per network: its bridge, its isolation rules and host-local's data.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { BadStateError, InvalidArgumentError } from '../common/errors.ts';
import { ensureDefault } from './attach.ts';
import { deleteNetworkRecord, findNetwork, listNetworks, planNetwork, writeNetwork, type CreateRequest, hostRoutes } from './definitions.ts';
import { deleteLink, removeIsolationRules } from './host-net.ts';
import { writeJsonAtomic } from '../store/atomic.ts';
import { listRecords, withStateLock, type NetContext } from './state.ts';
import type { NetworkRecord } from './types.ts';

export function createNetwork(ctx: NetContext, req: CreateRequest): Promise<NetworkRecord> {
  return withStateLock(ctx, () => {
    ensureDefault(ctx);
    const rec = planNetwork(req, listNetworks(ctx.layout), ctx.options, false, ctx.hostRoutes?.() ?? hostRoutes());
    writeNetwork(ctx.layout, rec);
    return rec;
  });
}

export function listAll(ctx: NetContext): Promise<NetworkRecord[]> {
  return withStateLock(ctx, () => {
    ensureDefault(ctx);
    return listNetworks(ctx.layout);
  });
}

/** Docker's `network inspect` document, plus berth's DNSEnabled. */
export interface NetworkInspect {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: 'bridge';
  EnableIPv6: false;
  IPAM: { Driver: 'default'; Options: Record<string, string>; Config: { Subnet: string; Gateway: string }[] };
  Internal: boolean;
  Attachable: false;
  Ingress: false;
  ConfigOnly: false;
  DNSEnabled: boolean;
  Containers: Record<string, { Name: string; MacAddress: string; IPv4Address: string; IPv6Address: string; Aliases: string[] }>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

export function inspectNetwork(ctx: NetContext, ref: string): Promise<NetworkInspect> {
  return withStateLock(ctx, () => {
    ensureDefault(ctx);
    const net = findNetwork(ctx.layout, ref, ctx.options);
    const containers: NetworkInspect['Containers'] = {};
    for (const r of listRecords(ctx)) {
      const ep = r.endpoints.find((e) => e.network === net.name);
      if (!ep) continue;
      containers[r.containerId] = { Name: r.name, MacAddress: ep.iface?.mac ?? '', IPv4Address: ep.iface?.addresses[0] ?? '', IPv6Address: '', Aliases: ep.aliases };
    }
    return {
      Name: net.name,
      Id: net.id,
      Created: net.created,
      Scope: 'local',
      Driver: 'bridge',
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: net.subnet, Gateway: net.gateway }] },
      Internal: net.internal,
      Attachable: false,
      Ingress: false,
      ConfigOnly: false,
      DNSEnabled: net.dnsEnabled,
      Containers: containers,
      Options: { 'com.docker.network.bridge.name': net.bridge },
      Labels: net.labels,
    };
  });
}

type Retired = Pick<NetworkRecord, 'name' | 'bridge'>;

/**
 * Networks removed from the definitions whose host side is not cleaned yet. Bridges are host-wide
 * and another engine root may own `berth3`, so only a bridge this root retired is ever deleted by
 * the sweep, never one found by its name alone. Callers hold the state lock.
 */
export function readRetired(ctx: NetContext): Retired[] {
  try {
    return JSON.parse(readFileSync(ctx.layout.retiredFile, 'utf8')) as Retired[];
  } catch {
    return [];
  }
}

function writeRetired(ctx: NetContext, list: Retired[]): void {
  mkdirSync(ctx.layout.stateDir, { recursive: true });
  writeJsonAtomic(ctx.layout.retiredFile, list);
}

/** Host-side leftovers of a removed network: bridge, its isolation and masquerading rules (berth's, and the firewall plugin's from before), host-local's data. */
export function cleanupNetworkHost(ctx: NetContext, net: Retired): void {
  deleteLink(net.bridge);
  removeIsolationRules(net.bridge);
  ctx.hostRules.remove(net.bridge);
  rmSync(path.join(ctx.layout.ipamDir, net.name), { recursive: true, force: true });
}

/** Cleans up retired networks and forgets them (the removal path and the sweep). */
export async function cleanupRetired(ctx: NetContext, only?: readonly string[]): Promise<string[]> {
  const list = await withStateLock(ctx, () => readRetired(ctx));
  const todo = list.filter((r) => !only || only.includes(r.name));
  for (const r of todo) cleanupNetworkHost(ctx, r);
  await withStateLock(ctx, () => writeRetired(ctx, readRetired(ctx).filter((r) => !todo.some((t) => t.name === r.name && t.bridge === r.bridge))));
  return todo.map((r) => r.bridge);
}

function retire(ctx: NetContext, nets: readonly NetworkRecord[]): void {
  writeRetired(ctx, [...readRetired(ctx), ...nets.map((n) => ({ name: n.name, bridge: n.bridge }))]);
  for (const n of nets) deleteNetworkRecord(ctx.layout, n.name);
}

export async function removeNetwork(ctx: NetContext, ref: string): Promise<NetworkRecord> {
  const net = await withStateLock(ctx, () => {
    const net = findNetwork(ctx.layout, ref, ctx.options);
    if (net.name === ctx.options.defaultName) throw new InvalidArgumentError(`${net.name} is the default network and cannot be removed`);
    const users = listRecords(ctx).filter((r) => r.endpoints.some((e) => e.network === net.name));
    if (users.length)
      throw new BadStateError(`network ${net.name} has active endpoints (${users.map((u) => u.name || u.containerId.slice(0, 12)).join(', ')})`, 'stop and remove those containers, or disconnect them');
    retire(ctx, [net]);
    return net;
  });
  await cleanupRetired(ctx, [net.name]);
  return net;
}

/** Removes every user-defined network without containers; returns their names. */
export async function pruneNetworks(ctx: NetContext): Promise<string[]> {
  const gone = await withStateLock(ctx, () => {
    const inUse = new Set(listRecords(ctx).flatMap((r) => r.endpoints.map((e) => e.network)));
    const out = listNetworks(ctx.layout).filter((n) => n.name !== ctx.options.defaultName && !inUse.has(n.name));
    retire(ctx, out);
    return out;
  });
  await cleanupRetired(ctx, gone.map((n) => n.name));
  return gone.map((n) => n.name);
}

/**
 * `system reset`: every network of this root leaves the host, the default one included (its
 * bridge, isolation and masquerading rules, IPAM data); refused while any container is attached.
 */
export async function resetNetworks(ctx: NetContext): Promise<string[]> {
  const gone = await withStateLock(ctx, () => {
    const users = listRecords(ctx);
    if (users.length) throw new BadStateError(`${users.length} container(s) still have networking; remove them first`);
    const all = listNetworks(ctx.layout);
    retire(ctx, all);
    return all;
  });
  await cleanupRetired(ctx);
  return gone.map((n) => n.name);
}
