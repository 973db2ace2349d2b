/**
 * `network connect` / `network disconnect`: one more (or one less) network for a container that is
 * already attached, into its pinned namespace, so it works whether the container runs or not.
 */
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from '../common/errors.ts';
import { assertBridge, toAttachment } from './attach.ts';
import { peersOf, refreshHosts } from './container-files.ts';
import { findNetwork, listNetworks } from './definitions.ts';
import { addEndpoint, delEndpoint } from './endpoint.ts';
import { bareIp, contains, parseSubnet } from './ipnet.ts';
import { listRecords, readRecord, withStateLock, writeRecord, type NetContext } from './state.ts';
import type { Attachment, AttachmentRecord, Endpoint } from './types.ts';

/** A container by full ID, unique ID prefix or name, among the attached ones. */
export function findContainer(ctx: NetContext, ref: string): AttachmentRecord {
  const all = listRecords(ctx);
  const exact = all.find((r) => r.containerId === ref) ?? all.find((r) => r.name === ref);
  if (exact) return exact;
  const byPrefix = all.filter((r) => ref.length >= 3 && r.containerId.startsWith(ref));
  if (byPrefix.length === 1) return byPrefix[0]!;
  if (byPrefix.length > 1) throw new InvalidArgumentError(`container ID prefix "${ref}" is ambiguous`);
  throw new NotFoundError(`no such container: ${ref}`, 'only containers with a network namespace can be connected');
}

/** Writes the record and rewrites the hosts files of everyone who was or now is a peer. */
function publish(ctx: NetContext, before: AttachmentRecord, rec: AttachmentRecord): void {
  writeRecord(ctx, rec);
  const all = listRecords(ctx);
  const nets = new Map(listNetworks(ctx.layout).map((n) => [n.name, n]));
  const targets = new Map([rec, ...peersOf(before, all, nets), ...peersOf(rec, all, nets)].map((r) => [r.containerId, r]));
  refreshHosts(ctx, [...targets.values()].map((r) => (r.containerId === rec.containerId ? rec : r)), all, nets);
}

export async function connect(ctx: NetContext, containerRef: string, networkRef: string, opts: { aliases?: string[]; ip?: string } = {}): Promise<Attachment> {
  const { rec, ep, net } = await withStateLock(ctx, () => {
    const rec = assertBridge(findContainer(ctx, containerRef), containerRef);
    const net = findNetwork(ctx.layout, networkRef, ctx.options);
    if (rec.endpoints.some((e) => e.network === net.name)) throw new AlreadyExistsError(`container ${rec.name || containerRef} is already connected to network ${net.name}`);
    if (opts.aliases?.length && net.name === ctx.options.defaultName) throw new InvalidArgumentError('network-scoped aliases are supported only on user-defined networks');
    if (opts.ip) {
      if (!contains(parseSubnet(net.subnet), opts.ip) || opts.ip === net.gateway) throw new InvalidArgumentError(`address ${opts.ip} is not usable on network ${net.name} (${net.subnet})`);
      const taken = listRecords(ctx).some((r) => r.endpoints.some((e) => e.network === net.name && e.iface?.addresses.some((a) => bareIp(a) === opts.ip)));
      if (taken) throw new AlreadyExistsError(`address ${opts.ip} is already in use on network ${net.name}`);
    }
    const used = new Set(rec.endpoints.map((e) => e.ifName));
    let i = 0;
    while (used.has(`eth${i}`)) i++;
    const ep: Endpoint = { network: net.name, ifName: `eth${i}`, aliases: [...(opts.aliases ?? [])], publishes: false, ...(opts.ip ? { ip: opts.ip } : {}) };
    rec.endpoints.push(ep); // recorded before ADD, so a crash leaves something for the sweep to find
    writeRecord(ctx, rec);
    return { rec, ep, net };
  });
  try {
    ep.iface = await addEndpoint(ctx, net, { containerId: rec.containerId, netnsPath: rec.netnsPath!, ifName: ep.ifName, ...(ep.ip ? { ip: ep.ip } : {}), ports: [] });
  } catch (err) {
    await delEndpoint(ctx, rec.containerId, net.name, ep.ifName, rec.netnsPath, false).catch(() => {});
    await withStateLock(ctx, () => {
      const cur = readRecord(ctx, rec.containerId);
      if (cur) writeRecord(ctx, { ...cur, endpoints: cur.endpoints.filter((e) => e.network !== net.name) });
    });
    throw err;
  }
  return withStateLock(ctx, () => {
    const cur = readRecord(ctx, rec.containerId) ?? rec;
    cur.endpoints = cur.endpoints.map((e) => (e.network === net.name ? ep : e));
    publish(ctx, cur, cur);
    return toAttachment(ctx, cur);
  });
}

export async function disconnect(ctx: NetContext, containerRef: string, networkRef: string): Promise<Attachment> {
  const { rec, ep } = await withStateLock(ctx, () => {
    const rec = assertBridge(findContainer(ctx, containerRef), containerRef);
    const net = findNetwork(ctx.layout, networkRef, ctx.options);
    const ep = rec.endpoints.find((e) => e.network === net.name);
    if (!ep) throw new NotFoundError(`container ${rec.name || containerRef} is not connected to network ${net.name}`);
    // peers stop listing it first
    const others = rec.endpoints.filter((e) => e !== ep);
    publish(ctx, rec, { ...rec, endpoints: others, ...(ep.publishes ? { ports: [] } : {}) });
    return { rec, ep };
  });
  await delEndpoint(ctx, rec.containerId, ep.network, ep.ifName, rec.netnsPath, true);
  return withStateLock(ctx, () => toAttachment(ctx, readRecord(ctx, rec.containerId) ?? rec));
}
