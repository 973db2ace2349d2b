/** `create`: a container record and its root filesystem, ready to start; nothing runs yet. */
import { InvalidArgumentError } from '../common/errors.ts';
import { engineConfig } from './config.ts';
import type { Engine, ImageConfig } from './engine.ts';
import { generateName, newContainerId } from './names.ts';
import { isolationOf, vmHostConfig } from './vm-config.ts';
import type { CreateOptions } from './options.ts';
import type { ContainerRecord, MountRecord } from './record.ts';

function mountRecords(engine: Engine, opts: CreateOptions, imageConfig: ImageConfig): MountRecord[] {
  const out: MountRecord[] = [];
  for (const m of opts.mounts ?? []) {
    if (m.type === 'tmpfs') {
      const o: string[] = [];
      if (m.tmpfsSize) o.push(`size=${m.tmpfsSize}`);
      if (m.tmpfsMode !== undefined) o.push(`mode=${m.tmpfsMode.toString(8)}`);
      out.push({ Type: 'tmpfs', Source: '', Destination: m.target, Mode: '', RW: !m.readonly, Propagation: '', Options: o });
    } else if (m.type === 'volume') {
      const name = m.source || (globalThis.crypto.randomUUID().replaceAll('-', '') + globalThis.crypto.randomUUID().replaceAll('-', ''));
      out.push({ Type: 'volume', Name: name, Source: `${engine.layout.volume(name)}/_data`, Destination: m.target, Mode: '', RW: !m.readonly, Propagation: '' });
    } else {
      if (!m.source) throw new InvalidArgumentError(`bind mount on ${m.target} needs a source`);
      out.push({ Type: 'bind', Source: m.source, Destination: m.target, Mode: m.readonly ? 'ro' : '', RW: !m.readonly, Propagation: m.propagation ?? 'rprivate' });
    }
  }
  // the image's VOLUMEs become anonymous volumes unless something is mounted there already
  for (const target of Object.keys(imageConfig.Volumes ?? {})) {
    if (out.some((m) => m.Destination === target)) continue;
    const name = globalThis.crypto.randomUUID().replaceAll('-', '') + globalThis.crypto.randomUUID().replaceAll('-', '');
    out.push({ Type: 'volume', Name: name, Source: `${engine.layout.volume(name)}/_data`, Destination: target, Mode: '', RW: true, Propagation: '' });
  }
  return out;
}

/**
 * The image a container is made from, pulled as Docker does when it is not here. The default
 * policy comes from BERTH_PULL_POLICY (the test suite sets "never", so that a test naming an image
 * that does not exist never reaches out of this machine), else Docker's "missing".
 */
async function imageFor(engine: Engine, opts: CreateOptions) {
  const store = await engine.store();
  const { resolveImage } = await import('../image/resolve.ts');
  const env = process.env.BERTH_PULL_POLICY;
  const policy = opts.pull ?? (env === 'always' || env === 'never' || env === 'missing' ? env : 'missing');
  if (!['missing', 'always', 'never'].includes(policy)) throw new InvalidArgumentError(`invalid --pull policy "${policy}": missing, always or never`);
  if (policy === 'always') await engine.pullImage(opts.image);
  try {
    return resolveImage(store, opts.image).record;
  } catch (err) {
    if (policy !== 'missing' || (err as { code?: string }).code !== 'not-found') throw err;
    process.stderr.write(`Unable to find image '${opts.image}' locally\n`);
    await engine.pullImage(opts.image);
    return resolveImage(store, opts.image).record;
  }
}

export async function createContainer(engine: Engine, opts: CreateOptions): Promise<ContainerRecord> {
  const image = await imageFor(engine, opts);
  const ic = await engine.imageConfig(image.id);
  const id = newContainerId();
  const name = opts.name ?? generateName();
  if (opts.isolation && opts.isolation !== 'process' && opts.isolation !== 'vm')
    throw new InvalidArgumentError(`--isolation must be process or vm, not "${opts.isolation}"`);
  let network = opts.network ?? engineConfig(engine.root).network ?? 'bridge';
  const isolation = isolationOf(opts, engineConfig(engine.root));
  const vmHc = isolation === 'vm' ? vmHostConfig(opts, engineConfig(engine.root)) : undefined;
  if (vmHc) network = 'none';
  if (network.startsWith('container:')) network = `container:${engine.records.resolve(network.slice(10)).Id}`;
  const publish = opts.publish ?? [];
  const { parsePublishList } = publish.length ? await import('../network/ports.ts') : { parsePublishList: () => [] };
  const portSpecs = parsePublishList(publish); // validates -p now, not at start
  if ((network === 'host' || network === 'none') && (publish.length || opts.publishAll))
    process.stderr.write(`WARNING: published ports are discarded when using ${network} network mode\n`);
  const entrypoint = opts.entrypoint !== undefined ? (opts.entrypoint.length ? opts.entrypoint : null) : (ic.Entrypoint ?? null);
  // Docker: an --entrypoint given on the command line resets the image's Cmd
  const cmd = opts.cmd?.length ? opts.cmd : opts.entrypoint !== undefined ? null : (ic.Cmd ?? null);
  const env = [...(ic.Env ?? [])];
  for (const e of opts.env ?? []) {
    const k = e.split('=', 1)[0]!;
    const i = env.findIndex((x) => x.split('=', 1)[0] === k);
    if (i >= 0) env[i] = e;
    else env.push(e);
  }
  const rec: ContainerRecord = {
    Id: id,
    Name: `/${name}`,
    Created: new Date().toISOString(),
    Image: image.id,
    Path: (entrypoint ?? cmd ?? [''])[0] ?? '',
    Args: [...(entrypoint ?? []), ...(cmd ?? [])].slice(1),
    Config: {
      Hostname: opts.hostname ?? id.slice(0, 12),
      Domainname: '',
      User: opts.user ?? ic.User ?? '',
      AttachStdin: !!opts.interactive,
      AttachStdout: true,
      AttachStderr: true,
      Tty: !!opts.tty,
      OpenStdin: !!opts.interactive,
      Env: env,
      Cmd: cmd,
      Entrypoint: entrypoint,
      Image: opts.image,
      WorkingDir: opts.workdir ?? ic.WorkingDir ?? '',
      Labels: { ...(ic.Labels ?? {}), ...(opts.labels ?? {}) },
      StopSignal: opts.stopSignal ?? ic.StopSignal ?? 'SIGTERM',
      ...(opts.stopTimeout !== undefined ? { StopTimeout: opts.stopTimeout } : {}),
      Volumes: ic.Volumes ?? null,
      ExposedPorts: ic.ExposedPorts ?? null,
    },
    HostConfig: {
      Binds: opts.binds ?? [],
      NetworkMode: network,
      AutoRemove: !!opts.autoRemove,
      Privileged: !!opts.privileged,
      ReadonlyRootfs: !!opts.readOnly,
      CapAdd: opts.capAdd ?? [],
      CapDrop: opts.capDrop ?? [],
      SecurityOpt: opts.securityOpt ?? [],
      Tmpfs: Object.fromEntries((opts.mounts ?? []).filter((m) => m.type === 'tmpfs').map((m) => [m.target, ''])),
      Memory: opts.memory ?? 0,
      MemorySwap: opts.memorySwap ?? (opts.memory ? opts.memory * 2 : 0),
      MemoryReservation: opts.memoryReservation ?? 0,
      NanoCpus: opts.cpus ? Math.round(opts.cpus * 1e9) : 0,
      CpuShares: opts.cpuShares ?? 0,
      CpusetCpus: opts.cpusetCpus ?? '',
      PidsLimit: opts.pidsLimit ?? null,
      Ulimits: (opts.ulimits ?? []).map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
      Init: !!opts.init,
      Isolation: isolation,
      ...vmHc,
      OomKillDisable: !!opts.oomKillDisable,
      PortBindings: Object.fromEntries(
        portSpecs.map((p) => [`${p.containerPort}/${p.protocol}`, [{ HostIp: p.hostIP, HostPort: p.hostPort ? String(p.hostPort) : '' }]]),
      ),
      PublishAllPorts: !!opts.publishAll,
      Dns: opts.dns ?? [],
      DnsSearch: opts.dnsSearch ?? [],
      DnsOptions: opts.dnsOptions ?? [],
      ExtraHosts: opts.extraHosts ?? [],
    },
    NetworkRequest: { aliases: opts.networkAliases ?? [], ...(opts.ip ? { ip: opts.ip } : {}), publish },
    Mounts: [],
    Driver: 'overlay',
    RestartCount: 0,
  };
  rec.Mounts = mountRecords(engine, opts, ic);
  if (!rec.Config.Entrypoint?.length && !rec.Config.Cmd?.length)
    throw new InvalidArgumentError('no command specified', 'the image has no Cmd or Entrypoint: give one');
  engine.records.claimName(name, id);
  try {
    const rm = await engine.rootfsManager();
    const prepared = await rm.prepare(id, image.id);
    rec.Driver = prepared.driver;
    engine.records.save(rec);
  } catch (err) {
    engine.records.releaseName(name, id);
    engine.records.remove(id);
    try {
      await (await engine.rootfsManager()).remove(id);
    } catch {
      /* nothing was prepared */
    }
    throw err;
  }
  return rec;
}
