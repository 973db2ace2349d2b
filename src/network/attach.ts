/**
 * attach / detach: a container's whole networking, in three steps so the state lock is never held
 * while plugins run:
 *
 *   1. under the lock: decide (networks, interface names, host ports, requested IPs) and write the
 *      record as 'attaching', owned by this process;
 *   2. unlocked: pin a namespace, bring up lo, CNI ADD per network (results cached);
 *   3. under the lock: record the interfaces, mark 'attached', write this container's files and
 *      refresh its peers' /etc/hosts.
 *
 * A failure in 2 is undone at once (DEL, unpin, forget); a crash in 2 leaves an 'attaching' record
 * whose owner is dead, which the sweep undoes the same way.
 */
import { AlreadyExistsError, BadStateError, InvalidArgumentError, NotFoundError } from '../common/errors.ts';
import { addEndpoint, delEndpoint, loopbackUp } from './endpoint.ts';
import { filePaths, peersOf, refreshHosts, removeContainerFiles, writeContainerFiles, type FilePaths } from './container-files.ts';
import { findNetwork, listNetworks, planNetwork, writeNetwork, hostRoutes } from './definitions.ts';
import { parseAddHost } from './files.ts';
import { bareIp, contains, parseSubnet } from './ipnet.ts';
import { createNetns, removeNetns } from './netns.ts';
import { allocatePorts } from './port-alloc.ts';
import { deleteRecord, listRecords, readRecord, selfOwner, ownerAlive, validContainerId, withStateLock, writeRecord, type NetContext } from './state.ts';
import type { AttachRequest, Attachment, AttachmentRecord, Endpoint, NetworkMode, NetworkRecord } from './types.ts';

export function parseMode(network: string | undefined): { mode: NetworkMode; target?: string } {
  const n = network ?? 'bridge';
  if (n === 'none' || n === 'host') return { mode: n };
  if (n.startsWith('container:')) {
    const target = n.slice('container:'.length);
    if (!target) throw new InvalidArgumentError('--network container: needs a container ID');
    return { mode: 'container', target };
  }
  return { mode: 'bridge' };
}

/** The default network, created on first use (under the state lock). */
export function ensureDefault(ctx: NetContext): NetworkRecord {
  const all = listNetworks(ctx.layout);
  const found = all.find((n) => n.name === ctx.options.defaultName);
  if (found) return found;
  const rec = planNetwork({ name: ctx.options.defaultName, subnet: ctx.options.defaultSubnet, dns: false }, all, ctx.options, true, ctx.hostRoutes?.() ?? hostRoutes());
  writeNetwork(ctx.layout, rec);
  return rec;
}

function netMap(ctx: NetContext): Map<string, NetworkRecord> {
  return new Map(listNetworks(ctx.layout).map((n) => [n.name, n]));
}

export function toAttachment(ctx: NetContext, rec: AttachmentRecord, warnings: string[] = []): Attachment {
  const filesOf = rec.mode === 'container' && rec.sharedWith ? rec.sharedWith : rec.containerId;
  const interfaces = rec.endpoints.flatMap((e) => (e.iface ? [e.iface] : []));
  return {
    containerId: rec.containerId,
    mode: rec.mode,
    netnsPath: rec.netnsPath,
    interfaces,
    ips: interfaces.flatMap((i) => i.addresses.map(bareIp)),
    ports: rec.ports,
    ...filePaths(ctx, filesOf),
    hostname: rec.hostname,
    warnings,
  };
}

function checkIp(net: NetworkRecord, ip: string, all: readonly AttachmentRecord[], self: string): void {
  if (!contains(parseSubnet(net.subnet), ip)) throw new InvalidArgumentError(`address ${ip} is not in network ${net.name}'s subnet ${net.subnet}`);
  if (ip === net.gateway) throw new InvalidArgumentError(`address ${ip} is the gateway of network ${net.name}`);
  const user = all.find((r) => r.containerId !== self && r.endpoints.some((e) => e.network === net.name && (e.ip === ip || e.iface?.addresses.some((a) => bareIp(a) === ip))));
  if (user) throw new AlreadyExistsError(`address ${ip} is already in use by container ${user.name || user.containerId.slice(0, 12)}`);
}

function baseRecord(containerId: string, req: AttachRequest, mode: NetworkMode): AttachmentRecord {
  for (const h of req.extraHosts ?? []) parseAddHost(h); // fail before anything exists
  const rec: AttachmentRecord = {
    containerId,
    name: req.name,
    hostname: req.hostname ?? containerId.slice(0, 12),
    mode,
    state: 'attaching',
    owner: selfOwner(),
    netnsPath: null,
    endpoints: [],
    ports: [],
    extraHosts: [...(req.extraHosts ?? [])],
    created: new Date().toISOString(),
  };
  if (req.dns?.length) rec.dns = [...req.dns];
  if (req.dnsSearch?.length) rec.dnsSearch = [...req.dnsSearch];
  if (req.dnsOptions?.length) rec.dnsOptions = [...req.dnsOptions];
  if (req.domainname) rec.hostname = `${rec.hostname}.${req.domainname}`;
  return rec;
}

/**
 * An attach whose namespace is pinned (a container can be created in it) while its plugins may
 * still run: `finished` settles when the interfaces, addresses and files are in place. The
 * container must not run its process before (the engine sends *go* only then).
 */
export interface EarlyAttachment {
  netnsPath: string | null;
  files: FilePaths;
  finished: Promise<Attachment>;
}

export async function attach(ctx: NetContext, containerId: string, req: AttachRequest): Promise<Attachment> {
  return (await attachEarly(ctx, containerId, req)).finished;
}

export async function attachEarly(ctx: NetContext, containerId: string, req: AttachRequest): Promise<EarlyAttachment> {
  if (!validContainerId(containerId)) throw new InvalidArgumentError(`invalid container ID "${containerId}"`);
  const { mode, target } = parseMode(req.network);
  const warnings: string[] = [];
  if (mode !== 'bridge') {
    if (req.aliases?.length || req.ip || req.extraNetworks?.length) throw new InvalidArgumentError(`--network-alias, --ip and more networks need a bridge network, not "${req.network}"`);
    if (req.ports?.length) {
      if (mode === 'container') throw new InvalidArgumentError('conflicting options: port publishing and the container network mode');
      warnings.push(`published ports are discarded when using ${mode} network mode`);
    }
  }
  const rec = baseRecord(containerId, req, mode);
  // 1. decide and record
  await withStateLock(ctx, async () => {
    if (readRecord(ctx, containerId)) throw new AlreadyExistsError(`container ${containerId.slice(0, 12)} already has networking`);
    const all = listRecords(ctx);
    if (mode === 'container') {
      let t = all.find((r) => r.containerId === target) ?? all.find((r) => r.name === target);
      if (t?.mode === 'container') t = all.find((r) => r.containerId === t!.sharedWith);
      if (!t || t.state !== 'attached') throw new NotFoundError(`cannot join the network of container ${target}: it has no network namespace`);
      rec.sharedWith = t.containerId;
      rec.netnsPath = t.netnsPath;
      rec.hostname = t.hostname;
      rec.state = 'attached';
      delete rec.owner;
      writeRecord(ctx, rec);
      return;
    }
    if (mode === 'bridge') {
      const first = req.network === undefined || req.network === 'bridge' ? ensureDefault(ctx) : findNetwork(ctx.layout, req.network, ctx.options);
      const nets = [first, ...(req.extraNetworks ?? []).map((n) => findNetwork(ctx.layout, n, ctx.options))];
      if (new Set(nets.map((n) => n.name)).size !== nets.length) throw new InvalidArgumentError('a network is listed twice');
      const isDefault = first.name === ctx.options.defaultName;
      if (req.aliases?.length && isDefault) throw new InvalidArgumentError('network-scoped aliases are supported only on user-defined networks');
      if (req.ip) {
        if (isDefault) throw new InvalidArgumentError('user-specified IP addresses are supported only on user-defined networks');
        checkIp(first, req.ip, all, containerId);
      }
      rec.endpoints = nets.map((n, i): Endpoint => ({
        network: n.name,
        ifName: `eth${i}`,
        aliases: i === 0 ? [...(req.aliases ?? [])] : [],
        publishes: i === 0,
        ...(i === 0 && req.ip ? { ip: req.ip } : {}),
      }));
      if (req.ports?.length) {
        if (first.internal) warnings.push(`published ports are discarded on internal network ${first.name}`);
        else rec.ports = await allocatePorts(req.ports, { taken: all.flatMap((r) => r.ports) });
      }
    }
    if (mode !== 'host') rec.netnsPath = ctx.layout.netns(containerId);
    writeRecord(ctx, rec);
  });
  if (mode === 'container') {
    const a = toAttachment(ctx, rec, warnings);
    return { netnsPath: a.netnsPath, files: { hostsFile: a.hostsFile, hostnameFile: a.hostnameFile, resolvConf: a.resolvConf }, finished: Promise.resolve(a) };
  }
  // 2. pin the namespace: from here a container can be created in it
  try {
    if (rec.netnsPath) createNetns(ctx.sys, rec.netnsPath);
  } catch (err) {
    await teardown(ctx, rec).catch(() => {}); // the sweep retries whatever this leaves
    throw err;
  }
  const finished = build(ctx, rec, warnings);
  finished.catch(() => {}); // the caller's to observe; never an unhandled rejection meanwhile
  return { netnsPath: rec.netnsPath, files: filePaths(ctx, rec.containerId), finished };
}

/** Steps 2 (the plugins) and 3 (publish) of an attach whose namespace is pinned. */
async function build(ctx: NetContext, rec: AttachmentRecord, warnings: string[]): Promise<Attachment> {
  const containerId = rec.containerId;
  let lo: Promise<void> = Promise.resolve();
  try {
    // lo and the first network touch different interfaces: bring them up concurrently
    if (rec.netnsPath) lo = loopbackUp(ctx, containerId, rec.netnsPath);
    lo.catch(() => {}); // awaited below; never an unhandled rejection meanwhile
    const nets = netMap(ctx);
    for (const ep of rec.endpoints) {
      const net = nets.get(ep.network);
      if (!net) throw new NotFoundError(`network ${ep.network} was removed while attaching`);
      ep.iface = await addEndpoint(ctx, net, { containerId, netnsPath: rec.netnsPath!, ifName: ep.ifName, ...(ep.ip ? { ip: ep.ip } : {}), ports: ep.publishes ? rec.ports : [] });
    }
    await lo;
  } catch (err) {
    await lo.catch(() => {});
    await teardown(ctx, rec).catch(() => {}); // the sweep retries whatever this leaves
    throw err;
  }
  // 3. publish
  return withStateLock(ctx, () => {
    rec.state = 'attached';
    delete rec.owner;
    writeRecord(ctx, rec);
    const all = listRecords(ctx);
    const nets = netMap(ctx);
    writeContainerFiles(ctx, rec, all, nets);
    refreshHosts(ctx, peersOf(rec, all, nets), all, nets);
    return toAttachment(ctx, rec, warnings);
  });
}

/** Undoes everything of a record (CNI DEL per endpoint, the namespace, the files, the record). */
export async function teardown(ctx: NetContext, rec: AttachmentRecord, fromDefinition = false): Promise<void> {
  let first: unknown;
  if (rec.mode === 'bridge' || rec.mode === 'none') {
    for (const ep of [...rec.endpoints].reverse()) {
      try {
        await delEndpoint(ctx, rec.containerId, ep.network, ep.ifName, rec.netnsPath, fromDefinition);
      } catch (err) {
        first ??= err;
      }
    }
    if (rec.netnsPath && !first) removeNetns(ctx.sys, rec.netnsPath);
  }
  if (first) throw first; // keep the record: the sweep retries the DEL
  removeContainerFiles(ctx, rec.containerId);
  await withStateLock(ctx, () => deleteRecord(ctx, rec.containerId));
}

/**
 * Removes a container's networking. Idempotent: a container without a record is fine. Peers stop
 * listing it before its interfaces go, so nobody resolves a name to a dead address.
 */
export async function detach(ctx: NetContext, containerId: string): Promise<void> {
  // Two detaches of one container can race (`rm -f` and the container's own cleanup when it dies):
  // concurrent CNI DELs of the same chain leave rules behind, so the second waits for the first.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const step = await withStateLock(ctx, () => {
      const r = readRecord(ctx, containerId);
      if (!r) return { done: true as const };
      const me = selfOwner();
      if (r.state === 'detaching' && r.owner && (r.owner.pid !== me.pid || r.owner.start !== me.start) && ownerAlive(r.owner) && Date.now() < deadline)
        return { wait: true as const };
      r.state = 'detaching';
      r.owner = me;
      writeRecord(ctx, r);
      const all = listRecords(ctx);
      const nets = netMap(ctx);
      refreshHosts(ctx, peersOf(r, all, nets), all, nets);
      return { rec: r };
    });
    if ('done' in step) return;
    if ('rec' in step) return teardown(ctx, step.rec!);
    await new Promise((res) => setTimeout(res, 50));
  }
}

export function assertBridge(rec: AttachmentRecord | undefined, ref: string): AttachmentRecord {
  if (!rec) throw new NotFoundError(`no such container: ${ref}`);
  if (rec.mode !== 'bridge') throw new BadStateError(`container ${rec.name || ref} uses the ${rec.mode} network mode and cannot be connected to networks`);
  if (rec.state !== 'attached') throw new BadStateError(`container ${rec.name || ref} is ${rec.state}`);
  return rec;
}
