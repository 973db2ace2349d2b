/**
 * config.json → the helper's plan. Pure: every decision about namespaces, mounts, devices,
 * capabilities, limits and seccomp is made here and can be unit-tested without root.
 */
import path from 'node:path';
import { InvalidConfigError } from '../common/errors.ts';
import type { Hook, IdMapping, Mount, Namespace, NamespaceType, Process, Spec } from '../oci/runtime-spec.ts';
import { DEFAULT_DEVICES, DEV_SYMLINKS } from './devices.ts';
import { CAPABILITIES, CLONE_NEW, MS, NS_PROC_NAME, RLIMITS, S_IFBLK, S_IFCHR, S_IFIFO } from './linux-constants.ts';
import { parseMountOptions, propagationFlags } from './mount-options.ts';
import type { PlanOp } from './plan-encode.ts';

export interface CgroupView {
  /** 'v1' and 'hybrid' put controllers on v1 hierarchies; 'v2' is the unified hierarchy. */
  mode: 'v1' | 'hybrid' | 'v2';
  /** controller (or "unified" on v2) → the container's cgroup directory on the host. */
  paths: Record<string, string>;
}

/** The engine's per-container monitor (native/monitor.c): the helper stays, logs and reaps. */
export interface MonitorPlan {
  /** Docker json-file log of stdout/stderr. */
  logPath: string;
  /** Where the exit status (and OOM kill count) is written when the container ends. */
  exitPath: string;
  /** A file with an `oom_kill N` line (memory.oom_control on v1, memory.events on v2). */
  oomFile?: string;
  /** Attached: also copy output to the monitor's own stdout/stderr (and relay stdin to a pty). */
  tee?: boolean;
  /** Relay our stdin to the container's pseudo-terminal (`-it`). */
  ptyIn?: boolean;
  /** Run when the container has ended and nobody waits for the monitor any more (cleanup). */
  exitCommand?: { argv: string[]; env: string[] };
}

/** An overlay root mounted by the helper inside the container's own mount namespace. */
export interface OverlayPlan {
  /** Top-most first, as overlayfs lists them. */
  lowerdirs: string[];
  upper: string;
  work: string;
}

/** linux.seccomp compiled to BPF (src/seccomp), see `compileSpecSeccomp`. */
export interface CompiledFilter {
  filter: Buffer;
  flags: number;
}

/**
 * Compiles a spec's linux.seccomp, loading the compiler (and its syscall tables) only when the
 * spec has one: a bundle without seccomp never pays for it.
 */
export async function compileSpecSeccomp(spec: Spec): Promise<CompiledFilter | undefined> {
  if (!spec.linux?.seccomp) return undefined;
  const { compileSeccomp } = await import('../seccomp/index.ts');
  return compileSeccomp(spec.linux.seccomp);
}

export interface InitPlanInput {
  spec: Spec;
  /** Required when spec.linux.seccomp is set. */
  seccomp?: CompiledFilter;
  monitor?: MonitorPlan;
  overlay?: OverlayPlan;
  bundle: string;
  /** Foreground `run`: the helper stays, relays signals and returns the exit status. */
  wait: boolean;
  /** `create`: the process blocks on this fifo until `start`. */
  fifoPath?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  preserveFds?: number;
  cgroup: CgroupView;
}

export interface ExecPlanInput {
  spec: Spec;
  /** Required when spec.linux.seccomp is set. */
  seccomp?: CompiledFilter;
  process: Process;
  /** pid of the container's init, whose namespaces the new process joins. */
  initPid: number;
  wait: boolean;
  consoleSocket?: string;
  preserveFds?: number;
  /** A monitor relays a terminal (the engine's `exec -t`). */
  monitor?: MonitorPlan;
  /** Inode of each of our own namespaces, to skip joining one we are already in (setns on one's own userns fails). */
  sameNamespace?: (type: NamespaceType) => boolean;
}

const NS_TYPES = Object.keys(CLONE_NEW) as NamespaceType[];
/** Join order: user first (it owns the others), mount last (it changes our root). */
const JOIN_ORDER: NamespaceType[] = ['user', 'ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'mount'];

function checkNamespaces(list: Namespace[]): Map<NamespaceType, Namespace> {
  const seen = new Map<NamespaceType, Namespace>();
  for (const ns of list) {
    if (!NS_TYPES.includes(ns.type)) throw new InvalidConfigError(`unknown namespace type "${String(ns.type)}"`);
    if (seen.has(ns.type)) throw new InvalidConfigError(`namespace "${ns.type}" is listed twice`);
    if (ns.path !== undefined && !path.isAbsolute(ns.path))
      throw new InvalidConfigError(`namespace path "${ns.path}" must be absolute`);
    seen.set(ns.type, ns);
  }
  return seen;
}

function idMap(maps: IdMapping[] | undefined): string | undefined {
  if (!maps?.length) return undefined;
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

export function capMask(names: readonly string[] | undefined): bigint {
  let mask = 0n;
  for (const name of names ?? []) {
    const i = (CAPABILITIES as readonly string[]).indexOf(name.toUpperCase());
    // runc warns and goes on for names this kernel/table does not know; so do we
    if (i >= 0) mask |= 1n << BigInt(i);
  }
  return mask;
}

function hookOps(stage: string, hooks: Hook[] | undefined): PlanOp[] {
  return (hooks ?? []).map((h) => {
    if (!path.isAbsolute(h.path)) throw new InvalidConfigError(`${stage} hook path "${h.path}" must be absolute`);
    const args = h.args?.length ? h.args : [h.path];
    const env = h.env ?? [];
    return ['hook', stage, h.timeout ?? 0, h.path, args.length, ...args, env.length, ...env];
  });
}

/** The part of the plan that describes the process itself: shared by container init and exec. */
function processOps(proc: Process, spec: Spec, preserveFds: number, seccomp: CompiledFilter | undefined): PlanOp[] {
  const ops: PlanOp[] = [];
  if (!proc.args?.length) throw new InvalidConfigError('process.args must name the program to run');
  for (const a of proc.args) ops.push(['arg', a]);
  for (const e of proc.env ?? []) ops.push(['env', e]);
  if (!proc.cwd || !path.isAbsolute(proc.cwd)) throw new InvalidConfigError(`process.cwd "${proc.cwd ?? ''}" must be an absolute path`);
  ops.push(['cwd', proc.cwd]);
  const u = proc.user ?? { uid: 0, gid: 0 };
  ops.push(['user', u.uid, u.gid]);
  for (const g of u.additionalGids ?? []) ops.push(['group', g]);
  if (u.umask !== undefined) ops.push(['umask', u.umask.toString(8)]);
  const caps = proc.capabilities ?? {};
  ops.push([
    'caps',
    ...[caps.bounding, caps.effective, caps.inheritable, caps.permitted, caps.ambient].map((s) => capMask(s).toString(16)),
  ] as unknown as PlanOp);
  for (const r of proc.rlimits ?? []) {
    const n = RLIMITS[r.type];
    if (n === undefined) throw new InvalidConfigError(`unknown rlimit type "${r.type}"`);
    ops.push(['rlimit', n, BigInt(r.soft), BigInt(r.hard)]);
  }
  if (proc.noNewPrivileges) ops.push(['nnp']);
  if (proc.oomScoreAdj !== undefined) ops.push(['oom', proc.oomScoreAdj]);
  if (spec.linux?.seccomp) {
    if (!seccomp) throw new Error('internal: linux.seccomp was not compiled (call compileSpecSeccomp)');
    ops.push(['seccomp', seccomp.flags, seccomp.filter.toString('hex')]);
  }
  if (preserveFds) ops.push(['preserve', preserveFds]);
  return ops;
}

/** sysctls that belong to a namespace the container has: anything else would change the host. */
function checkSysctl(key: string, ns: Map<NamespaceType, Namespace>): void {
  const ipc = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];
  if (ipc.includes(key) || key.startsWith('fs.mqueue.')) {
    if (!ns.has('ipc')) throw new InvalidConfigError(`sysctl "${key}" needs an IPC namespace`);
    return;
  }
  if (key.startsWith('net.')) {
    if (!ns.has('network')) throw new InvalidConfigError(`sysctl "${key}" needs a network namespace`);
    return;
  }
  if (key === 'kernel.hostname' || key === 'kernel.domainname') {
    if (!ns.has('uts')) throw new InvalidConfigError(`sysctl "${key}" needs a UTS namespace`);
    return;
  }
  throw new InvalidConfigError(`sysctl "${key}" is not namespaced: it would change the host`);
}

function resolveSource(src: string | undefined, bundle: string): string {
  if (!src) return '';
  return path.isAbsolute(src) ? src : path.join(bundle, src);
}

/** A `cgroup` mount becomes what the host's cgroup layout needs (a tmpfs of hierarchies on v1). */
function cgroupMountOps(m: Mount, cg: CgroupView, privateNs: boolean): PlanOp[] {
  const { flags } = parseMountOptions(m.options);
  const base = MS.NOSUID | MS.NODEV | MS.NOEXEC;
  const ro = flags & MS.RDONLY;
  const dst = m.destination;
  if (cg.mode === 'v2') {
    const unified = cg.paths.unified;
    if (privateNs || !unified) return [['mount', 'cgroup2', dst, 'cgroup2', base | ro | MS.RELATIME, 0, '']];
    return [['mount', unified, dst, '', MS.BIND | MS.REC | base | ro, 0, '']];
  }
  const ops: PlanOp[] = [['mount', 'tmpfs', dst, 'tmpfs', base, 0, 'mode=755']];
  for (const [controller, hostDir] of Object.entries(cg.paths)) {
    if (controller === 'unified') continue;
    const name = controller.startsWith('name=') ? controller.slice(5) : controller;
    const sub = path.posix.join(dst, name);
    if (privateNs) {
      const data = controller.startsWith('name=') ? `none,${controller}` : controller;
      ops.push(['mount', 'cgroup', sub, 'cgroup', base | ro | MS.RELATIME, 0, data]);
    } else {
      ops.push(['mount', hostDir, sub, '', MS.BIND | MS.REC | base | ro, 0, '']);
    }
    if (name.includes(',')) for (const part of name.split(',')) ops.push(['symlink', name, path.posix.join(dst, part)]);
  }
  if (ro) ops.push(['mount', '', dst, 'tmpfs', MS.REMOUNT | MS.RDONLY | base, 0, 'mode=755']);
  return ops;
}

function deviceMode(type: string): number {
  switch (type) {
    case 'c':
    case 'u':
      return S_IFCHR;
    case 'b':
      return S_IFBLK;
    case 'p':
      return S_IFIFO;
    default:
      throw new InvalidConfigError(`device type "${type}" is not one of c, u, b, p`);
  }
}

function monitorOps(m: MonitorPlan): PlanOp[] {
  const ops: PlanOp[] = [['monitor', m.logPath, m.exitPath]];
  if (m.tee) ops.push(['tee']);
  if (m.ptyIn) ops.push(['ptyin']);
  if (m.oomFile) ops.push(['oomfile', m.oomFile]);
  if (m.exitCommand) ops.push(['exitcmd', m.exitCommand.argv.length, ...m.exitCommand.argv, m.exitCommand.env.length, ...m.exitCommand.env]);
  return ops;
}

export function buildInitPlan(input: InitPlanInput): PlanOp[] {
  const { spec, bundle } = input;
  const linux = spec.linux ?? {};
  const ops: PlanOp[] = [];
  if (input.wait) ops.push(['wait']);
  if (!spec.process) throw new InvalidConfigError('config.json has no "process" to run');
  if (!spec.root?.path) throw new InvalidConfigError('config.json has no "root.path"');

  const ns = checkNamespaces(linux.namespaces ?? []);
  const mountNs = ns.get('mount');
  if (!mountNs || mountNs.path) throw new InvalidConfigError('the container needs a new mount namespace');
  let clone = 0;
  for (const t of JOIN_ORDER) {
    const n = ns.get(t);
    if (!n) continue;
    if (n.path) ops.push(['setns', n.path]);
    else if (t !== 'cgroup') clone |= CLONE_NEW[t];
  }
  ops.push(['clone', clone]);
  const newUser = ns.has('user') && !ns.get('user')!.path;
  if (newUser) {
    const u = idMap(linux.uidMappings);
    const g = idMap(linux.gidMappings);
    if (!u || !g) throw new InvalidConfigError('a new user namespace needs uidMappings and gidMappings');
    ops.push(['uidmap', u], ['gidmap', g]);
  } else if (linux.uidMappings?.length || linux.gidMappings?.length) {
    throw new InvalidConfigError('uidMappings/gidMappings need a new user namespace');
  }
  if (input.monitor) ops.push(...monitorOps(input.monitor));
  if (spec.process.terminal) {
    if (input.monitor) ops.push(['ptyrelay']);
    else if (!input.consoleSocket) throw new InvalidConfigError('process.terminal is set: pass --console-socket');
    else ops.push(['console', input.consoleSocket]);
  }
  const privateCgroupNs = ns.has('cgroup') && !ns.get('cgroup')!.path;
  if (privateCgroupNs) ops.push(['cgroupns']);
  if (spec.hostname) {
    if (!ns.has('uts')) throw new InvalidConfigError('hostname is set but there is no UTS namespace');
    ops.push(['hostname', spec.hostname]);
  }
  if (spec.domainname) {
    if (!ns.has('uts')) throw new InvalidConfigError('domainname is set but there is no UTS namespace');
    ops.push(['domainname', spec.domainname]);
  }
  if (ns.has('network') && !ns.get('network')!.path) ops.push(['loopback']);

  const rootfs = path.resolve(bundle, spec.root.path);
  if (input.overlay) {
    const o = input.overlay;
    if (!o.lowerdirs.length) throw new InvalidConfigError('an overlay root needs at least one lower directory');
    ops.push(['overlay', rootfs, o.upper, o.work, o.lowerdirs.length, ...o.lowerdirs]);
  }
  ops.push(['rootfs', rootfs]);
  const rootProp = linux.rootfsPropagation ? propagationFlags(linux.rootfsPropagation) : undefined;
  if (linux.rootfsPropagation && rootProp === undefined)
    throw new InvalidConfigError(`rootfsPropagation "${linux.rootfsPropagation}" is not a propagation type`);
  // "/" becomes a slave (or private) first so nothing we mount reaches the host; shared is applied after pivot_root
  const sharedRoot = rootProp !== undefined && (rootProp & MS.SHARED) !== 0;
  ops.push(['propagation', rootProp !== undefined && !sharedRoot ? rootProp : MS.SLAVE | MS.REC]);

  let devFromHost = false;
  let hasDevpts = false;
  for (const m of spec.mounts ?? []) {
    if (!m.destination || !path.isAbsolute(m.destination))
      throw new InvalidConfigError(`mount destination "${m.destination ?? ''}" must be an absolute path`);
    const dest = path.posix.normalize(m.destination);
    if (m.type === 'cgroup') {
      ops.push(...cgroupMountOps(m, input.cgroup, privateCgroupNs));
      continue;
    }
    const { flags, propagation, data } = parseMountOptions(m.options);
    const isBind = m.type === 'bind' || (flags & MS.BIND) !== 0;
    if (isBind && dest === '/dev') devFromHost = true;
    if (m.type === 'devpts' && dest === '/dev/pts') hasDevpts = true;
    if (isBind) {
      const src = resolveSource(m.source, bundle);
      if (!src) throw new InvalidConfigError(`bind mount on ${dest} has no source`);
      ops.push(['mount', src, dest, '', flags | MS.BIND, propagation, '']);
    } else {
      ops.push(['mount', m.source ?? m.type ?? 'none', dest, m.type ?? '', flags, propagation, data.join(',')]);
    }
  }
  if (!devFromHost) {
    const byPath = new Map<string, { type: string; path: string; major: number; minor: number; fileMode: number; uid: number; gid: number }>();
    for (const d of DEFAULT_DEVICES) byPath.set(d.path, { ...d, uid: 0, gid: 0 });
    for (const d of linux.devices ?? []) {
      if (!d.path || !path.isAbsolute(d.path)) throw new InvalidConfigError(`device path "${d.path ?? ''}" must be absolute`);
      if (d.type !== 'p' && (d.major === undefined || d.minor === undefined))
        throw new InvalidConfigError(`device ${d.path} needs major and minor numbers`);
      byPath.set(d.path, { type: d.type, path: d.path, major: d.major ?? 0, minor: d.minor ?? 0, fileMode: d.fileMode ?? 0o666, uid: d.uid ?? 0, gid: d.gid ?? 0 });
    }
    for (const d of byPath.values()) {
      const mode = deviceMode(d.type) | (d.fileMode & 0o7777);
      // mknod is refused in a user namespace: bind the host's node instead, as runc does
      if (newUser && d.type !== 'p') ops.push(['binddev', d.path, d.path]);
      else ops.push(['mkdev', d.path, mode, d.major, d.minor, d.uid, d.gid]);
    }
    for (const [target, link] of DEV_SYMLINKS) ops.push(['symlink', target, link]);
    if (hasDevpts) ops.push(['symlink', 'pts/ptmx', '/dev/ptmx']);
  }
  for (const [key, value] of Object.entries(linux.sysctl ?? {})) {
    checkSysctl(key, ns);
    const file = key.includes('/') ? key : key.replaceAll('.', '/');
    ops.push(['sysctl', path.posix.join('/proc/sys', file), value]);
  }
  for (const p of linux.readonlyPaths ?? []) ops.push(['rofs', p]);
  for (const p of linux.maskedPaths ?? []) ops.push(['mask', p]);
  ops.push(['mkcwd']);
  if (spec.root.readonly) ops.push(['rootro']);
  if (sharedRoot) ops.push(['rootprop', rootProp!]);
  if (input.noPivot) ops.push(['nopivot']);
  ops.push(...hookOps('createContainer', spec.hooks?.createContainer));
  ops.push(...hookOps('startContainer', spec.hooks?.startContainer));
  if (input.fifoPath) ops.push(['fifo', input.fifoPath]);
  ops.push(...processOps(spec.process, spec, input.preserveFds ?? 0, input.seccomp));
  return ops;
}

export function buildExecPlan(input: ExecPlanInput): PlanOp[] {
  const { spec } = input;
  const ops: PlanOp[] = [];
  if (input.wait) ops.push(['wait']);
  const ns = checkNamespaces(spec.linux?.namespaces ?? []);
  for (const t of JOIN_ORDER) {
    if (!ns.has(t)) continue;
    if (input.sameNamespace?.(t)) continue;
    ops.push(['setns', `/proc/${input.initPid}/ns/${NS_PROC_NAME[t]}`]);
  }
  ops.push(['clone', 0], ['dumpable0']);
  if (input.monitor) ops.push(...monitorOps(input.monitor));
  if (input.process.terminal) {
    if (input.monitor) ops.push(['ptyrelay']);
    else if (!input.consoleSocket) throw new InvalidConfigError('the process wants a terminal: pass --console-socket');
    else ops.push(['console', input.consoleSocket]);
  }
  ops.push(...processOps(input.process, spec, input.preserveFds ?? 0, input.seccomp));
  return ops;
}
