/**
 * The VM backend's library calls: `startVm` boots a microVM whose root is a host directory
 * (the container's prepared rootfs, shared over virtio-9p) and starts the main process in it;
 * `exec` runs more processes in the same VM; `runVm` is start + stdio + wait. Everything a VM
 * leaves on the host (socket, console log, QEMU, the cgroup) is removed when it ends.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { cgroupManager, type CgroupManager } from '../cgroups/index.ts';
import { InvalidArgumentError, NotFoundError, SystemError } from '../common/errors.ts';
import { helperPath } from '../runtime/helper-process.ts';
import { chooseAccel, fileVerdicts, probeKey, type AccelRequest } from './accel.ts';
import { AGENT_PORT, ROOT_TAG } from './boot-script.ts';
import { defaultCacheDir, ensureDir } from './cache.ts';
import { bootFloor, prepareFloorInitramfs } from './floor.ts';
import { hostCpuModel, hostTscKhz, kvmUsable, qemuBinary } from './host.ts';
import { prepareInitramfs } from './initramfs.ts';
import { findKernel, kernelHz, prepareKernel, type GuestKernel } from './kernel.ts';
import { AgentChannel, VmProcess } from './agent-channel.ts';
import type { GuestProcess, SetupOp } from './protocol.ts';
import { DEFAULT_TUNING, qemuArgs, type Accel, type GuestTuning, type QemuConfig } from './qemu-args.ts';
import { spawnQemu, type QemuExit, type QemuProcess } from './qemu.ts';

const TB_SIZE_MIB = 64;
/**
 * QEMU's own memory beyond guest RAM, allowed for in its cgroup: the device model (~30 MiB),
 * the ELF kernel it keeps mapped (~60 MiB of page cache for Debian's), and under TCG the
 * translation cache (tb-size). Measured RSS of an idle TCG VM: ~100 MiB of guest RAM + these.
 */
export function qemuOverheadMiB(accel: Accel): number {
  return 128 + (accel === 'tcg' ? TB_SIZE_MIB : 0);
}
const PROBE_TIMEOUT_MS = 10_000;

export interface VmOptions extends GuestProcess {
  /** Host directory that becomes the guest's `/` (the container's prepared root filesystem). */
  rootfs: string;
  memoryMiB?: number;
  cpus?: number;
  accel?: AccelRequest;
  /** A bzImage or vmlinux; default the newest /boot/vmlinuz-*. */
  kernel?: string;
  cacheDir?: string;
  /** Put QEMU in this cgroup (created, limited to guest RAM + overhead, removed at the end). */
  cgroupPath?: string;
  tuning?: Partial<GuestTuning>;
  bootTimeoutMs?: number;
  /** QEMU's seccomp sandbox (default on). */
  sandbox?: boolean;
  /** Keep the guest's console output (kernel and agent messages) in this file; default: a temp file, removed. */
  consoleLog?: string;
  /** One-line notices for the user (e.g. the fall back to TCG); default: stderr. */
  onNotice?: (line: string) => void;
}

export interface VmExit {
  exitCode: number;
  qemu: QemuExit;
}

/** What a boot needs, resolved and cached: kernel, initramfs, accelerator, QEMU config. */
export interface Prepared {
  kernel: GuestKernel;
  initrd: string;
  accel: Accel;
  cfgBase: Omit<QemuConfig, 'serialLog' | 'agentSocket' | 'rootfs' | 'initrd'>;
}

export async function prepareVm(o: VmOptions): Promise<Prepared> {
  if (!statSync(o.rootfs, { throwIfNoEntry: false })?.isDirectory()) throw new NotFoundError(`root filesystem ${o.rootfs} is not a directory`);
  const cacheDir = ensureDir(o.cacheDir ?? defaultCacheDir());
  const kernel = await prepareKernel(findKernel(o.kernel), cacheDir);
  const initrd = prepareInitramfs({ agent: helperPath(), release: kernel.release }, cacheDir);
  const memoryMiB = o.memoryMiB ?? 256;
  const cpus = o.cpus ?? 1;
  if (!Number.isInteger(memoryMiB) || memoryMiB < 64) throw new InvalidArgumentError('a VM needs at least 64 MiB of memory');
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64) throw new InvalidArgumentError('--cpus for a VM must be a whole number from 1 to 64');
  const base = (accel: Accel): Prepared['cfgBase'] => ({
    accel,
    memoryMiB,
    cpus,
    vmlinux: kernel.vmlinux,
    tscKhz: hostTscKhz(),
    hz: kernelHz(kernel.release),
    tuning: { ...DEFAULT_TUNING, ...o.tuning },
    agentPort: AGENT_PORT,
    rootTag: ROOT_TAG,
    tbSizeMiB: TB_SIZE_MIB,
    sandbox: o.sandbox ?? true,
  });
  const choice = await chooseAccel(o.accel ?? 'auto', probeKey(kernel.digest, hostCpuModel()), {
    kvmUsable: () => kvmUsable(),
    probe: async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-kvm-probe-'));
      try {
        const cfg = { ...base('kvm'), memoryMiB: 128, cpus: 1, initrd: prepareFloorInitramfs(cacheDir), serialLog: path.join(dir, 'console.log') };
        return (await bootFloor(qemuBinary(), cfg, PROBE_TIMEOUT_MS)).ok;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    ...fileVerdicts(cacheDir),
  });
  if (choice.notice) (o.onNotice ?? ((l: string) => process.stderr.write(`${l}\n`)))(choice.notice);
  return { kernel, initrd, accel: choice.accel, cfgBase: base(choice.accel) };
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** A running VM. */
export class VmHandle {
  readonly main: VmProcess;
  readonly accel: Accel;
  readonly kernelRelease: string;
  readonly qemuPid: number;
  /** The VM's host-side temp directory (agent socket, console log): removed when it ends. */
  readonly runDir: string;
  /** Milliseconds from spawning QEMU to the agent's hello (kernel boot + root mount). */
  readonly bootMs: number;
  readonly #channel: AgentChannel;
  readonly #qemu: QemuProcess;
  readonly #done: Promise<VmExit>;

  /** @internal */
  constructor(a: { channel: AgentChannel; qemu: QemuProcess; main: VmProcess; accel: Accel; release: string; bootMs: number; runDir: string; cleanup: () => void }) {
    this.#channel = a.channel;
    this.#qemu = a.qemu;
    this.main = a.main;
    this.accel = a.accel;
    this.kernelRelease = a.release;
    this.qemuPid = a.qemu.pid;
    this.runDir = a.runDir;
    this.bootMs = a.bootMs;
    this.#done = (async () => {
      let exitCode = 255;
      let failure: unknown;
      try {
        exitCode = await a.main.exit;
      } catch (err) {
        failure = err;
      }
      a.channel.powerOff();
      const qemu = await a.qemu.stop(5000);
      a.channel.destroy();
      a.cleanup();
      if (failure) throw failure;
      return { exitCode, qemu };
    })();
    this.#done.catch(() => {});
  }

  /** Another process in the running VM (`berth exec`). */
  exec(p: GuestProcess): VmProcess {
    return this.#channel.run(p);
  }

  /** mkdir/write operations in the guest, in order (a cgroup's files, for instance). */
  setup(ops: SetupOp[]): Promise<void> {
    return this.#channel.setup(ops);
  }

  /** The main process's exit status, once the VM is powered off and cleaned up. */
  wait(): Promise<VmExit> {
    return this.#done;
  }

  /** Stops the VM now (the main process reports 137-like failure through wait()). */
  kill(): void {
    this.#qemu.kill('SIGKILL');
  }
}

function listen(server: Server, sock: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(sock, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Run directories of live VMs: removed if the process exits first (QEMU is killed by qemu.ts). */
const liveRunDirs = new Set<string>();
process.on('exit', () => {
  for (const d of liveRunDirs) rmSync(d, { recursive: true, force: true });
});

/** A boot that hung before the guest agent connected: nothing of the workload has started yet. */
class BootHang extends SystemError {}

/**
 * Boots a VM and starts `o`'s process as its main process. Under software emulation a microvm
 * boot occasionally hangs in the guest kernel (seen here about once in tens of boots, with the
 * console stopping early); such a boot is retried once, which is safe because the agent never
 * connected, so no stdin was read and no process ran.
 */
export async function startVm(o: VmOptions): Promise<VmHandle> {
  const p = await prepareVm(o);
  const perAttempt = o.bootTimeoutMs ?? (p.accel === 'tcg' ? 60_000 : 30_000);
  try {
    return await startVmOnce(o, p, perAttempt);
  } catch (err) {
    if (!(err instanceof BootHang)) throw err;
    return startVmOnce(o, p, perAttempt);
  }
}

async function startVmOnce(o: VmOptions, p: Prepared, timeoutMs: number): Promise<VmHandle> {
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'berth-vm-'));
  liveRunDirs.add(runDir);
  const sockPath = path.join(runDir, 'agent.sock');
  const serialLog = o.consoleLog ?? path.join(runDir, 'console.log');
  const server = createServer();
  let cgroup: CgroupManager | undefined;
  let qemu: QemuProcess | undefined;
  const cleanup = (): void => {
    server.close();
    try {
      cgroup?.destroy();
    } catch {
      // a cgroup that cannot go yet is reported by the engine's own cleanup
    }
    rmSync(runDir, { recursive: true, force: true });
    liveRunDirs.delete(runDir);
  };
  try {
    await listen(server, sockPath);
    const connected = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const cfg: QemuConfig = { ...p.cfgBase, initrd: p.initrd, serialLog, agentSocket: sockPath, rootfs: path.resolve(o.rootfs) };
    const t0 = performance.now();
    qemu = spawnQemu(qemuBinary(), qemuArgs(cfg));
    const q = qemu;
    if (o.cgroupPath) {
      cgroup = cgroupManager(o.cgroupPath);
      cgroup.create();
      cgroup.apply({ memory: { limit: (cfg.memoryMiB + qemuOverheadMiB(p.accel)) * 1024 * 1024 } });
      cgroup.addProcess(q.pid);
    }
    let timer: NodeJS.Timeout | undefined;
    let agentConnected = false;
    void connected.then(() => (agentConnected = true));
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const msg = `the VM did not boot within ${timeoutMs / 1000} s`;
        reject(agentConnected ? new SystemError(msg) : new BootHang(msg));
      }, timeoutMs);
      void q.exited.then((r) => reject(new SystemError(`QEMU exited during boot (${r.signal ?? `status ${r.code}`})`)));
    });
    failed.catch(() => {});
    let channel: AgentChannel;
    let main: VmProcess;
    let release: string;
    try {
      channel = new AgentChannel(await Promise.race([connected, failed]));
      // queued now, read by the agent as soon as it has booted: no round trip after the hello
      main = channel.run({ ...o, powerOffOnExit: true });
      release = await Promise.race([channel.hello, failed]);
    } catch (err) {
      // one line for the user: QEMU's own complaint if it had one, the guest console's last lines as the hint
      const qemuSays = q.stderr().split('\n').filter(Boolean).at(-1)?.replace(/^qemu-system-\w+: /, '');
      const console = tail(serialLog, 3).split('\n').filter(Boolean).join(' | ');
      const Err = err instanceof BootHang ? BootHang : SystemError;
      throw new Err(`the VM did not boot: ${qemuSays ?? (err as Error).message}`, { cause: err, hint: console ? `guest console: ${console}` : undefined });
    } finally {
      clearTimeout(timer);
    }
    const bootMs = performance.now() - t0;
    return new VmHandle({ channel, qemu: q, main, accel: p.accel, release, bootMs, runDir, cleanup });
  } catch (err) {
    if (qemu) {
      qemu.kill('SIGKILL');
      await qemu.exited;
    }
    cleanup();
    throw err;
  }
}

export interface RunVmOptions extends VmOptions {
  /** Fed to the main process's stdin, then EOF; nothing means EOF at once. */
  stdin?: Readable | Buffer | string;
  /** Where output goes; without them it is collected and returned. */
  stdout?: Writable;
  stderr?: Writable;
}

export interface RunVmResult extends VmExit {
  stdout: Buffer;
  stderr: Buffer;
  bootMs: number;
  totalMs: number;
  kernelRelease: string;
  accel: Accel;
}

function collect(stream: Readable, into?: Writable): Promise<Buffer> {
  if (into) {
    stream.pipe(into, { end: false });
    return new Promise((resolve) => stream.on('end', () => resolve(Buffer.alloc(0))));
  }
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => stream.on('end', () => resolve(Buffer.concat(chunks))));
}

/** Boots, runs the process to its end with the given stdio, powers off; like `berth run --rm`. */
export async function runVm(o: RunVmOptions): Promise<RunVmResult> {
  const t0 = performance.now();
  const vm = await startVm(o);
  const out = collect(vm.main.stdout, o.stdout);
  const err = collect(vm.main.stderr, o.stderr);
  if (o.stdin === undefined) vm.main.stdin.end();
  else if (typeof o.stdin === 'string' || Buffer.isBuffer(o.stdin)) vm.main.stdin.end(o.stdin);
  else o.stdin.pipe(vm.main.stdin);
  const r = await vm.wait();
  return { ...r, stdout: await out, stderr: await err, bootMs: vm.bootMs, totalMs: performance.now() - t0, kernelRelease: vm.kernelRelease, accel: vm.accel };
}
