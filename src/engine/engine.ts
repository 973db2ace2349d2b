/**
 * The engine: Docker-like containers over the image store (src/store) and the OCI runtime
 * (src/runtime). No daemon: every berth process opens the same root; per-container monitors
 * (native/monitor.c) keep containers, their logs and exit statuses alive without us.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BadStateError, InvalidArgumentError } from '../common/errors.ts';
import type { EarlyAttachment } from '../network/attach.ts';
import type { Seccomp } from '../oci/runtime-spec.ts';
import { RuntimeContext } from '../runtime/context.ts';
import { helperPath } from '../runtime/helper-process.ts';
import type { Store } from '../store/store.ts';
import type { PreparedRootfs } from '../store/rootfs.ts';
import { readRootfsFile } from './image-files.ts';
import { EngineLayout } from './layout.ts';
import { ContainerRecords, type ContainerRecord } from './record.ts';
import { effectiveCapabilities } from './security.ts';
import { buildContainerSpec } from './spec.ts';
import { resolveUser } from './user.ts';
import { writeContainerFiles } from './files.ts';

export interface ImageConfig {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Volumes?: Record<string, object>;
  ExposedPorts?: Record<string, object>;
}

/** Where the `berth` CLI is, for the exit command the monitor runs (`berth container cleanup`). */
export function berthCli(): string {
  if (process.env.BERTH_CLI) return process.env.BERTH_CLI;
  for (const rel of ['../bin/berth', '../../bin/berth']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return 'berth';
}

export class Engine {
  readonly root: string;
  readonly layout: EngineLayout;
  readonly records: ContainerRecords;
  readonly runtime: RuntimeContext;
  private storeP: Promise<Store> | undefined;
  private netP: Promise<import('../network/manager.ts').NetworkManager> | undefined;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.layout = new EngineLayout(this.root);
    this.records = new ContainerRecords(this.layout);
    this.runtime = new RuntimeContext({ root: this.layout.runtimeRoot, warn: () => {} });
  }

  /** The image store, opened on first use (it loads the FFI seam, which commands like `ps` never need). */
  store(): Promise<Store> {
    this.storeP ??= import('../store/store.ts').then((m) => m.Store.open(this.root));
    return this.storeP;
  }

  /** The network library (CNI), opened on first use. */
  network() {
    this.netP ??= import('../network/manager.ts').then((m) => m.NetworkManager.open(this.root));
    return this.netP;
  }

  /** Whether a container's network mode goes through CNI (and so needs attach/detach). */
  static usesCni(rec: ContainerRecord): boolean {
    return rec.HostConfig.NetworkMode !== 'host' && rec.HostConfig.NetworkMode !== 'none';
  }

  /**
   * Connects a container to its networks for this start: resolves with the namespace and files to
   * give it once the namespace is pinned; `finished` settles when the plugins are done.
   */
  async attachNetwork(rec: ContainerRecord): Promise<EarlyAttachment> {
    const net = await this.network();
    const { parsePublishList, publishAll } = await import('../network/ports.ts');
    const req = rec.NetworkRequest ?? { aliases: [], publish: [] };
    const explicit = parsePublishList(req.publish);
    const ports = rec.HostConfig.PublishAllPorts ? [...explicit, ...publishAll(rec.Config.ExposedPorts ?? undefined, explicit)] : explicit;
    const early = await net.attachEarly(rec.Id, {
      name: rec.Name.replace(/^\//, ''),
      hostname: rec.Config.Hostname,
      network: rec.HostConfig.NetworkMode,
      aliases: req.aliases,
      ...(req.ip ? { ip: req.ip } : {}),
      ports,
      dns: rec.HostConfig.Dns ?? [],
      dnsSearch: rec.HostConfig.DnsSearch ?? [],
      dnsOptions: rec.HostConfig.DnsOptions ?? [],
      extraHosts: rec.HostConfig.ExtraHosts ?? [],
    });
    const finished = early.finished.then((a) => {
      for (const w of a.warnings) process.stderr.write(`WARNING: ${w}\n`);
      return a;
    });
    finished.catch(() => {}); // observed by the start; never an unhandled rejection meanwhile
    return { ...early, finished };
  }

  /** Releases a container's addresses, veths and port mappings; idempotent, works after a crash. */
  async detachNetwork(rec: ContainerRecord): Promise<void> {
    if (!Engine.usesCni(rec)) return;
    await (await this.network()).detach(rec.Id);
  }

  /** Pulls with the default registries configuration and credentials, progress on stderr. */
  async pullImage(ref: string): Promise<void> {
    const { pullImage } = await import('../distribution/pull.ts');
    const { RegistryConfig } = await import('../distribution/registries.ts');
    const { authFilePath } = await import('../distribution/authfile.ts');
    const { createProgress, progressMode } = await import('../distribution/progress.ts');
    await pullImage(await this.store(), ref, {
      config: RegistryConfig.load(undefined),
      authFile: authFilePath(undefined),
      progress: createProgress(progressMode(false, process.stderr), process.stderr),
    });
  }

  async rootfsManager() {
    const { RootfsManager } = await import('../store/rootfs.ts');
    return new RootfsManager(await this.store());
  }

  async imageConfig(imageId: string): Promise<ImageConfig> {
    const store = await this.store();
    const rec = store.images.get(imageId as never);
    if (!rec) throw new BadStateError(`image ${imageId.slice(7, 19)} of this container is gone`);
    const doc = JSON.parse(store.content.readBuffer(rec.config.digest).toString('utf8')) as { config?: ImageConfig };
    return doc.config ?? {};
  }

  async prepared(rec: ContainerRecord): Promise<PreparedRootfs> {
    const rm = await this.rootfsManager();
    return rm.get(rec.Id) ?? rm.prepare(rec.Id, rec.Image as never);
  }

  /** The seccomp profile a container gets: Docker's default for its capabilities, a file, or none. */
  seccompFor(rec: ContainerRecord, caps: string[], defaultProfile: (caps: string[]) => Seccomp): Seccomp | undefined {
    if (rec.HostConfig.Privileged) return undefined;
    for (const o of rec.HostConfig.SecurityOpt) {
      const m = /^seccomp[=:](.*)$/.exec(o);
      if (!m) continue;
      if (m[1] === 'unconfined') return undefined;
      try {
        return JSON.parse(readFileSync(m[1]!, 'utf8')) as Seccomp;
      } catch (e) {
        throw new InvalidArgumentError(`cannot read seccomp profile ${m[1]}: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    return defaultProfile(caps);
  }

  /** Everything the runtime needs to start `rec`: spec, overlay and the files it binds. */
  async startInputs(rec: ContainerRecord) {
    // the CNI plugins run as child processes: the root filesystem, user and seccomp work below
    // proceeds meanwhile, so a bridge network costs a start only what those do not cover
    const attaching = Engine.usesCni(rec) ? this.attachNetwork(rec) : undefined;
    attaching?.catch(() => {}); // awaited below; never an unhandled rejection meanwhile
    try {
      return await this.specInputs(rec, attaching);
    } catch (err) {
      // a start that fails gives back what it took: the address, the veth, the published ports
      if (attaching) await attaching.then((a) => a.finished).then(() => this.detachNetwork(rec), () => {});
      throw err;
    }
  }

  private async specInputs(rec: ContainerRecord, attaching: Promise<EarlyAttachment> | undefined) {
    const prepared = await this.prepared(rec);
    const dir = this.layout.container(rec.Id);
    const user = resolveUser(rec.Config.User, readRootfsFile(prepared, '/etc/passwd'), readRootfsFile(prepared, '/etc/group'));
    const caps = effectiveCapabilities({ privileged: rec.HostConfig.Privileged, capAdd: rec.HostConfig.CapAdd, capDrop: rec.HostConfig.CapDrop });
    const { defaultSeccompProfile } = await import('../seccomp/default-profile.ts');
    const seccomp = this.seccompFor(rec, caps, (c) => defaultSeccompProfile(c));
    let files = writeContainerFiles(dir, rec.Config.Hostname);
    let initPath: string | undefined;
    if (rec.HostConfig.Init) {
      initPath = path.join(dir, 'init');
      if (!existsSync(initPath)) copyFileSync(helperPath(), initPath);
    }
    const rootfs = prepared.driver === 'vfs' ? prepared.rootfs : this.layout.rootfsMount(rec.Id);
    mkdirSync(rootfs, { recursive: true });
    if (rec.Mounts.some((m) => m.Type === 'volume')) {
      const { createVolume } = await import('./volumes.ts');
      for (const m of rec.Mounts) if (m.Type === 'volume' && m.Name) createVolume(this, m.Name);
    }
    let netnsPath: string | undefined;
    let networkReady: Promise<unknown> | undefined;
    if (attaching) {
      const a = await attaching;
      files = { hosts: a.files.hostsFile, hostname: a.files.hostnameFile, resolvConf: a.files.resolvConf };
      netnsPath = a.netnsPath ?? undefined;
      networkReady = a.finished;
    }
    const spec = buildContainerSpec({ rec, rootfs, user, capabilities: caps, seccomp, files, initPath, ...(netnsPath ? { netnsPath } : {}) });
    const overlay = prepared.driver === 'overlay' ? { lowerdirs: prepared.lowerdirs, upper: prepared.upper, work: prepared.work } : undefined;
    return { spec, overlay, dir, networkReady };
  }

  /** Forget the runtime side of a container that has ended: cgroup, runtime state. */
  async releaseRuntime(id: string): Promise<void> {
    const { remove } = await import('../runtime/delete.ts');
    try {
      await remove(this.runtime, id, true);
    } catch (e) {
      if ((e as { code?: string }).code !== 'not-found') throw e;
    }
  }

  /** Removes every trace of a container: runtime, rootfs lease and upper dir, logs, name. */
  async destroy(rec: ContainerRecord, opts: { volumes?: boolean } = {}): Promise<void> {
    await Promise.all([this.releaseRuntime(rec.Id), this.detachNetwork(rec)]); // independent: the process is gone
    const rm = await this.rootfsManager();
    await rm.remove(rec.Id);
    if (opts.volumes) for (const m of rec.Mounts) if (m.Type === 'volume' && m.Name && /^[a-f0-9]{64}$/.test(m.Name)) rmSync(this.layout.volume(m.Name), { recursive: true, force: true });
    this.records.releaseName(rec.Name.replace(/^\//, ''), rec.Id);
    this.records.remove(rec.Id);
  }
}
