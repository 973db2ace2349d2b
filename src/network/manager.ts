/**
 * The network library's one entry point for the engine and the CLI. berth has no daemon: every
 * method works from the on-disk state under the engine root, any number of berth processes may call
 * them at once, and whatever a killed process left half-done is finished by `detach` or `sweep`.
 *
 *   const nets = await NetworkManager.open(root);
 *   const a = await nets.attach(id, { name, network: 'bridge', ports: parsePublishList(['8080:80']) });
 *   // spec.linux.namespaces: {type: 'network', path: a.netnsPath}; bind-mount a.hostsFile,
 *   // a.resolvConf and a.hostnameFile at /etc/hosts, /etc/resolv.conf, /etc/hostname
 *   await nets.detach(id);                      // on rm (also after a crash)
 *   await nets.sweep((id) => engine.exists(id)); // system prune
 */
import type { Subnet } from './ipnet.ts';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { withFlock } from '../store/lock.ts';
import { getSys, type Sys } from '../sys/index.ts';
import { attach, attachEarly, detach, toAttachment, type EarlyAttachment } from './attach.ts';
import { readCache } from './cni/cache.ts';
import { DEFAULT_PLUGIN_DIRS } from './cni/exec.ts';
import { checkListState } from './cni/runtime.ts';
import { connect, disconnect, findContainer } from './connect.ts';
import { DEFAULT_OPTIONS, type CreateRequest, type NetworkOptions } from './definitions.ts';
import { iptablesHostRules, type HostRules } from './host-net.ts';
import { DEFAULT_RUN_DIR, NetworkLayout, runDirFor } from './layout.ts';
import { createNetwork, inspectNetwork, listAll, pruneNetworks, removeNetwork, resetNetworks, type NetworkInspect } from './networks.ts';
import { releaseRunDir } from './netns.ts';
import { readRecord, withStateLock, type NetContext } from './state.ts';
import { sweep, type IsAlive } from './sweep.ts';
import type { AttachRequest, Attachment, NetworkRecord, SweepReport } from './types.ts';
import { NotFoundError } from '../common/errors.ts';

export interface ManagerOptions extends Partial<NetworkOptions> {
  /** Where namespaces are pinned (a tmpfs; default /run/berth/netns, or a per-root sibling). */
  runDir?: string;
  pluginDirs?: readonly string[];
  pluginTimeoutMs?: number;
  sys?: Sys;
  /** The host's resolv.conf (systemd-resolved's stub file is swapped for the real one). */
  hostResolvConf?: string;
  hostHosts?: string;
  /** The host's routes (default: /proc/net/route); unit tests pass a fixed list. */
  hostRoutes?: () => Subnet[];
  /** Per-network host rules (default: iptables). */
  hostRules?: HostRules;
}

/** When the host's resolv.conf only points at systemd-resolved's stub, use the upstream list it keeps. */
export function hostResolvConfPath(file = '/etc/resolv.conf'): string {
  try {
    const servers = readFileSync(file, 'utf8').split('\n').filter((l) => /^\s*nameserver\s/.test(l));
    const upstream = '/run/systemd/resolve/resolv.conf';
    if (servers.length && servers.every((l) => /127\.0\.0\.53/.test(l)) && existsSync(upstream)) return upstream;
  } catch {
    // no resolv.conf: the fallback nameservers apply
  }
  return file;
}

export class NetworkManager {
  readonly ctx: NetContext;
  private constructor(ctx: NetContext) {
    this.ctx = ctx;
  }

  static async open(root: string, opts: ManagerOptions = {}): Promise<NetworkManager> {
    const options: NetworkOptions = {
      defaultName: opts.defaultName ?? DEFAULT_OPTIONS.defaultName,
      defaultSubnet: opts.defaultSubnet ?? DEFAULT_OPTIONS.defaultSubnet,
      pool: opts.pool ?? DEFAULT_OPTIONS.pool,
      bridgePrefix: opts.bridgePrefix ?? DEFAULT_OPTIONS.bridgePrefix,
    };
    const sys = opts.sys ?? (await getSys());
    // host-wide (every engine root shares the host's iptables); /run is a tmpfs
    const iptablesLock = path.join(path.dirname(DEFAULT_RUN_DIR), 'iptables.lock');
    mkdirSync(path.dirname(iptablesLock), { recursive: true, mode: 0o700 });
    return new NetworkManager({
      layout: new NetworkLayout(root, opts.runDir ?? runDirFor(root)),
      options,
      sys,
      exec: {
        pluginDirs: opts.pluginDirs ?? DEFAULT_PLUGIN_DIRS,
        timeoutMs: opts.pluginTimeoutMs ?? 60_000,
        serialize: (fn) => withFlock(sys, iptablesLock, 'exclusive', fn),
      },
      hostResolvConf: opts.hostResolvConf ?? hostResolvConfPath(),
      hostHosts: opts.hostHosts ?? '/etc/hosts',
      ...(opts.hostRoutes ? { hostRoutes: opts.hostRoutes } : {}),
      hostRules: opts.hostRules ?? iptablesHostRules,
    });
  }

  // --- networks ---------------------------------------------------------------------------------
  create(req: CreateRequest): Promise<NetworkRecord> {
    return createNetwork(this.ctx, req);
  }
  /** All networks; creates the default one on first use. */
  list(): Promise<NetworkRecord[]> {
    return listAll(this.ctx);
  }
  inspect(ref: string): Promise<NetworkInspect> {
    return inspectNetwork(this.ctx, ref);
  }
  remove(ref: string): Promise<NetworkRecord> {
    return removeNetwork(this.ctx, ref);
  }
  prune(): Promise<string[]> {
    return pruneNetworks(this.ctx);
  }
  /** Removes every network from the host, the default one included, and unpins the run dir (`system reset`). */
  async reset(): Promise<string[]> {
    const names = await resetNetworks(this.ctx);
    releaseRunDir(this.ctx.sys, this.ctx.layout.runDir);
    return names;
  }

  // --- containers -------------------------------------------------------------------------------
  /** Gives a container its networking before it is created; see `Attachment` for what to do with it. */
  attach(containerId: string, req: AttachRequest): Promise<Attachment> {
    return attach(this.ctx, containerId, req);
  }
  /** `attach`, resolved as soon as the namespace is pinned; see `EarlyAttachment`. */
  attachEarly(containerId: string, req: AttachRequest): Promise<EarlyAttachment> {
    return attachEarly(this.ctx, containerId, req);
  }
  /** Removes a container's networking; idempotent, and works after a crash (DEL from the cache). */
  detach(containerId: string): Promise<void> {
    return detach(this.ctx, containerId);
  }
  /** Adds a network to an attached container (`berth network connect`). */
  connect(containerRef: string, networkRef: string, opts: { aliases?: string[]; ip?: string } = {}): Promise<Attachment> {
    return connect(this.ctx, containerRef, networkRef, opts);
  }
  disconnect(containerRef: string, networkRef: string): Promise<Attachment> {
    return disconnect(this.ctx, containerRef, networkRef);
  }
  /** The current attachment of a container (by ID, prefix or name), or undefined. */
  get(containerRef: string): Attachment | undefined {
    const rec = readRecord(this.ctx, containerRef) ?? (() => {
      try {
        return findContainer(this.ctx, containerRef);
      } catch {
        return undefined;
      }
    })();
    return rec ? toAttachment(this.ctx, rec) : undefined;
  }
  /** CNI CHECK of every network of a container: throws the first plugin's complaint. */
  async check(containerId: string): Promise<void> {
    const rec = await withStateLock(this.ctx, () => readRecord(this.ctx, containerId));
    if (!rec) throw new NotFoundError(`no such container: ${containerId}`);
    for (const ep of rec.endpoints) {
      const e = readCache(this.ctx.layout, containerId, ep.network);
      if (!e?.result) throw new NotFoundError(`no cached CNI result for ${containerId.slice(0, 12)} on ${ep.network}`);
      // portmap ≤ 1.1 (Debian 12) fails CHECK on IPv4-only containers looking for ip6tables rules
      // it never made (containernetworking/plugins#819): its CHECK is skipped for them
      const v4only = !(e.result.ips ?? []).some((i) => i.address.includes(':'));
      const rt = { containerId, netns: e.netns, ifName: e.ifName, args: e.args, capabilityArgs: e.capabilityArgs };
      await checkListState(e.config, rt, e.result, this.ctx.exec, (p) => v4only && p.type === 'portmap');
    }
  }
  /** Removes networking whose container is gone (`isAlive` answers for the engine's containers). */
  sweep(isAlive: IsAlive): Promise<SweepReport> {
    return sweep(this.ctx, isAlive);
  }
}
