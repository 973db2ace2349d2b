/**
 * One container on one network, through CNI: ADD with the result cached before and after, DEL from
 * the cache. This is the only place that turns network records into plugin invocations.
 */
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CNI_ERR, CniError } from './cni/exec.ts';
import { readCache, removeCache, writeCache, type CacheEntry } from './cni/cache.ts';
import { addList, delList, type CniResult } from './cni/runtime.ts';
import { buildConfList, loopbackConfList } from './conflist.ts';
import { readNetwork } from './definitions.ts';
import type { NetContext } from './state.ts';
import type { ContainerInterface, NetworkRecord, PortBinding } from './types.ts';

/** portmap's runtimeConfig entries. */
export function portMappings(ports: readonly PortBinding[]): Record<string, unknown>[] {
  return ports.map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol, ...(p.hostIP ? { hostIP: p.hostIP } : {}) }));
}

/** The container-side interface of a bridge result, with its addresses and the host-side veth. */
export function interfaceFromResult(network: string, ifName: string, result: CniResult, bridge: string): ContainerInterface {
  const ifaces = result.interfaces ?? [];
  const idx = ifaces.findIndex((i) => i.name === ifName && i.sandbox);
  const mine = (result.ips ?? []).filter((ip) => ip.interface === undefined || ip.interface === idx);
  const veth = ifaces.find((i) => !i.sandbox && i.name !== bridge);
  const iface: ContainerInterface = { network, name: ifName, mac: ifaces[idx]?.mac ?? '', addresses: mine.map((i) => i.address) };
  const gw = mine.find((i) => i.gateway)?.gateway;
  if (gw) iface.gateway = gw;
  if (veth) iface.hostVeth = veth.name;
  return iface;
}

async function withRetry<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      // CNI's "try again later"; anything else is final
      if (!(err instanceof CniError) || err.cniCode !== CNI_ERR.TRY_AGAIN_LATER || attempt >= 4) throw err;
      await sleep(50 * 2 ** attempt);
    }
  }
}

export interface EndpointRequest {
  containerId: string;
  netnsPath: string;
  ifName: string;
  ip?: string;
  ports: readonly PortBinding[];
}

export async function addEndpoint(ctx: NetContext, net: NetworkRecord, req: EndpointRequest): Promise<ContainerInterface> {
  const entry: CacheEntry = {
    kind: 'berth-cni-cache/1',
    containerId: req.containerId,
    network: net.name,
    ifName: req.ifName,
    netns: req.netnsPath,
    args: [['IgnoreUnknown', '1'], ...(req.ip ? ([['IP', req.ip]] as [string, string][]) : [])],
    capabilityArgs: req.ports.length ? { portMappings: portMappings(req.ports) } : {},
    config: buildConfList(net, ctx.layout.ipamDir, req.ports.length > 0),
  };
  // The network's host rules, under the host-wide iptables lock (the network's first containers,
  // started together, add them once), alongside the ADD: they name the bridge, not the container,
  // and both are in place before the container runs.
  const serialize = ctx.exec.serialize ?? (<T>(fn: () => Promise<T>) => fn());
  const rules = serialize(() => ctx.hostRules.ensure(net.bridge, net.subnet, net.internal));
  rules.catch(() => {}); // awaited below
  writeCache(ctx.layout, entry); // before ADD: a crash mid-ADD still leaves DEL something to run
  const rt = { containerId: entry.containerId, netns: entry.netns, ifName: entry.ifName, args: entry.args, capabilityArgs: entry.capabilityArgs };
  let result: CniResult;
  try {
    result = await withRetry(() => addList(entry.config, rt, ctx.exec));
  } finally {
    await rules.catch(() => {}); // settled before anyone tears this down
  }
  writeCache(ctx.layout, { ...entry, result });
  await rules;
  return interfaceFromResult(net.name, req.ifName, result, net.bridge);
}

/**
 * DEL for one endpoint from its cache entry; with no entry, nothing (an ADD that never began) unless
 * `fromDefinition` asks for a DEL from the current definition (the sweep's last resort). The
 * namespace path is passed only while it still exists: plugins treat an empty CNI_NETNS as "the
 * interface is gone" and release the rest.
 */
export async function delEndpoint(
  ctx: NetContext,
  containerId: string,
  network: string,
  ifName: string,
  netnsPath: string | null,
  fromDefinition: boolean,
): Promise<boolean> {
  const entry = readCache(ctx.layout, containerId, network);
  const net = entry || !fromDefinition ? undefined : readNetwork(ctx.layout, network);
  const config = entry?.config ?? (net ? buildConfList(net, ctx.layout.ipamDir) : undefined);
  if (!config) return false;
  const netns = netnsPath && existsSync(netnsPath) ? netnsPath : '';
  const rt = { containerId, netns, ifName: entry?.ifName ?? ifName, args: entry?.args ?? [['IgnoreUnknown', '1']], capabilityArgs: entry?.capabilityArgs ?? {} };
  await withRetry(() => delList(config, rt, entry?.result, ctx.exec));
  removeCache(ctx.layout, containerId, network);
  return true;
}

/** Brings `lo` up in a fresh namespace with the loopback plugin. */
export async function loopbackUp(ctx: NetContext, containerId: string, netnsPath: string): Promise<void> {
  await addList(loopbackConfList(), { containerId, netns: netnsPath, ifName: 'lo' }, ctx.exec);
}
