/**
 * `network create|ls|inspect|rm|prune` over the definitions. Removing a network also removes what
 * the plugins leave behind per network: its bridge, its isolation rules and host-local's data.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { BadStateError, InvalidArgumentError } from '../common/errors.ts';
import { ensureDefault } from './attach.ts';
import { deleteNetworkRecord, findNetwork, listNetworks, planNetwork, writeNetwork, type CreateRequest } from './definitions.ts';
import { deleteLink, removeIsolationRules } from './host-net.ts';
import { listRecords, withStateLock, type NetContext } from './state.ts';
import type { NetworkRecord } from './types.ts';

export function createNetwork(ctx: NetContext, req: CreateRequest): Promise<NetworkRecord> {
  return withStateLock(ctx, () => {
    ensureDefault(ctx);
    const rec = planNetwork(req, listNetworks(ctx.layout), ctx.options);
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

/** Host-side leftovers of a removed network. */
export function cleanupNetworkHost(ctx: NetContext, net: Pick<NetworkRecord, 'name' | 'bridge'>): void {
  deleteLink(net.bridge);
  removeIsolationRules(net.bridge);
  rmSync(path.join(ctx.layout.ipamDir, net.name), { recursive: true, force: true });
}

export async function removeNetwork(ctx: NetContext, ref: string): Promise<NetworkRecord> {
  const net = await withStateLock(ctx, () => {
    const net = findNetwork(ctx.layout, ref, ctx.options);
    if (net.name === ctx.options.defaultName) throw new InvalidArgumentError(`${net.name} is the default network and cannot be removed`);
    const users = listRecords(ctx).filter((r) => r.endpoints.some((e) => e.network === net.name));
    if (users.length)
      throw new BadStateError(`network ${net.name} has active endpoints (${users.map((u) => u.name || u.containerId.slice(0, 12)).join(', ')})`, 'stop and remove those containers, or disconnect them');
    deleteNetworkRecord(ctx.layout, net.name);
    return net;
  });
  cleanupNetworkHost(ctx, net);
  return net;
}

/** Removes every user-defined network without containers; returns their names. */
export async function pruneNetworks(ctx: NetContext): Promise<string[]> {
  const gone = await withStateLock(ctx, () => {
    const inUse = new Set(listRecords(ctx).flatMap((r) => r.endpoints.map((e) => e.network)));
    const out = listNetworks(ctx.layout).filter((n) => n.name !== ctx.options.defaultName && !inUse.has(n.name));
    for (const n of out) deleteNetworkRecord(ctx.layout, n.name);
    return out;
  });
  for (const n of gone) cleanupNetworkHost(ctx, n);
  return gone.map((n) => n.name);
}
