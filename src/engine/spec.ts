/**
 * A container's OCI spec from its record and its image's config: Docker's defaults (mounts,
 * capabilities, seccomp, masked paths, environment, cgroup path `berth/<id>`), then the user's
 * flags. Pure: everything it needs is passed in, so it is unit-tested without root.
 */
import { InvalidArgumentError } from '../common/errors.ts';
import type { Mount, Seccomp, Spec } from '../oci/runtime-spec.ts';
import { OCI_VERSION } from '../oci/runtime-spec.ts';
import type { ContainerRecord } from './record.ts';
import { DOCKER_MASKED_PATHS, DOCKER_READONLY_PATHS } from './security.ts';
import type { ExecUser } from './user.ts';

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface SpecInputs {
  rec: ContainerRecord;
  /** Absolute path of the root (the overlay mount point, or the vfs copy). */
  rootfs: string;
  user: ExecUser;
  capabilities: string[];
  /** undefined: unconfined */
  seccomp: Seccomp | undefined;
  /** Generated files bind-mounted over the image's. */
  files: { hosts: string; hostname: string; resolvConf: string };
  /** The init binary to bind at /sbin/berth-init with --init. */
  initPath?: string;
  /** A joined network namespace (CNI); undefined for a private one or the host's. */
  netnsPath?: string;
}

function rlimitName(name: string): string {
  return `RLIMIT_${name.toUpperCase()}`;
}

export function processArgs(rec: ContainerRecord): string[] {
  const ep = rec.Config.Entrypoint ?? [];
  const cmd = rec.Config.Cmd ?? [];
  const args = [...ep, ...cmd];
  if (!args.length) throw new InvalidArgumentError('no command specified', 'the image has no Cmd or Entrypoint: give one');
  return args;
}

/**
 * Sysctls Docker (20.10+) sets in a container's own network namespace: unprivileged ping and
 * ports below 1024 for non-root processes. Namespaced, so the host is untouched.
 */
export const NETWORK_NAMESPACE_SYSCTLS: Readonly<Record<string, string>> = {
  'net.ipv4.ping_group_range': '0 2147483647',
  'net.ipv4.ip_unprivileged_port_start': '0',
};

export function buildContainerSpec(inp: SpecInputs): Spec {
  const { rec } = inp;
  const hc = rec.HostConfig;
  const cfg = rec.Config;
  const env = [...cfg.Env];
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH);
  if (!env.some((e) => e.startsWith('HOSTNAME='))) env.push(`HOSTNAME=${cfg.Hostname}`);
  if (cfg.Tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${inp.user.home}`);

  let args = processArgs(rec);
  if (hc.Init && inp.initPath) args = ['/sbin/berth-init', '--', ...args];

  const readonlyMounts = hc.Privileged ? [] : ['ro'];
  const mounts: Mount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...readonlyMounts] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', ...readonlyMounts] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  ];
  if (hc.NetworkMode === 'host') {
    mounts.push({ destination: '/etc/hosts', type: 'bind', source: '/etc/hosts', options: ['rbind', 'ro'] });
    mounts.push({ destination: '/etc/resolv.conf', type: 'bind', source: '/etc/resolv.conf', options: ['rbind', 'ro'] });
  } else {
    mounts.push({ destination: '/etc/hosts', type: 'bind', source: inp.files.hosts, options: ['rbind', 'rprivate'] });
    mounts.push({ destination: '/etc/resolv.conf', type: 'bind', source: inp.files.resolvConf, options: ['rbind', 'rprivate'] });
  }
  mounts.push({ destination: '/etc/hostname', type: 'bind', source: inp.files.hostname, options: ['rbind', 'rprivate'] });
  for (const m of rec.Mounts) {
    if (m.Type === 'tmpfs') {
      mounts.push({ destination: m.Destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...(m.Options ?? [])] });
    } else {
      const opts = ['rbind', m.RW ? 'rw' : 'ro'];
      if (m.Propagation) opts.push(m.Propagation);
      mounts.push({ destination: m.Destination, type: 'bind', source: m.Source, options: opts });
    }
  }
  if (hc.Init && inp.initPath) mounts.push({ destination: '/sbin/berth-init', type: 'bind', source: inp.initPath, options: ['bind', 'ro'] });

  const namespaces: NonNullable<Spec['linux']>['namespaces'] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }];
  if (hc.NetworkMode !== 'host') namespaces.push(inp.netnsPath ? { type: 'network', path: inp.netnsPath } : { type: 'network' });

  const resources: NonNullable<NonNullable<Spec['linux']>['resources']> = { devices: [{ allow: false, access: 'rwm' }] };
  if (hc.Memory) {
    resources.memory = { limit: hc.Memory };
    if (hc.MemorySwap) resources.memory.swap = hc.MemorySwap;
  }
  if (hc.MemoryReservation) resources.memory = { ...resources.memory, reservation: hc.MemoryReservation };
  if (hc.OomKillDisable) resources.memory = { ...resources.memory, disableOOMKiller: true };
  if (hc.NanoCpus || hc.CpuShares || hc.CpusetCpus) {
    resources.cpu = {};
    if (hc.NanoCpus) {
      resources.cpu.period = 100000;
      resources.cpu.quota = Math.round((hc.NanoCpus / 1e9) * 100000);
    }
    if (hc.CpuShares) resources.cpu.shares = hc.CpuShares;
    if (hc.CpusetCpus) resources.cpu.cpus = hc.CpusetCpus;
  }
  if (hc.PidsLimit !== null && hc.PidsLimit !== undefined && hc.PidsLimit > 0) resources.pids = { limit: hc.PidsLimit };

  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: cfg.Tty,
      user: { uid: inp.user.uid, gid: inp.user.gid, additionalGids: inp.user.additionalGids },
      args,
      env,
      cwd: cfg.WorkingDir || '/',
      capabilities: {
        bounding: inp.capabilities,
        effective: inp.capabilities,
        permitted: inp.capabilities,
      },
      rlimits: hc.Ulimits.map((u) => ({ type: rlimitName(u.Name), soft: u.Soft, hard: u.Hard })),
      noNewPrivileges: hc.SecurityOpt.some((o) => o === 'no-new-privileges' || o === 'no-new-privileges:true' || o === 'no-new-privileges=true'),
    },
    root: { path: inp.rootfs, readonly: hc.ReadonlyRootfs },
    hostname: cfg.Hostname,
    ...(cfg.Domainname ? { domainname: cfg.Domainname } : {}),
    mounts,
    annotations: cfg.Labels,
    linux: {
      cgroupsPath: `berth/${rec.Id}`,
      namespaces,
      ...(hc.NetworkMode !== 'host' ? { sysctl: { ...NETWORK_NAMESPACE_SYSCTLS } } : {}),
      resources,
      ...(inp.seccomp ? { seccomp: inp.seccomp } : {}),
      maskedPaths: hc.Privileged ? [] : DOCKER_MASKED_PATHS,
      readonlyPaths: hc.Privileged ? [] : DOCKER_READONLY_PATHS,
    },
  };
}
