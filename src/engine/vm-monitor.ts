/**
 * The VM monitor: `berth container vm-monitor <id>`, a detached Node process per running VM
 * container, what native/monitor.c is for process isolation. Only the process that booted a VM
 * holds its agent channel, so this one does, for the VM's whole life: it mounts the container's
 * root for virtio-9p, puts itself (and so QEMU, its child) in the container's cgroup, boots the
 * VM, writes the output to json.log, records vm.json for `ps`/`inspect`, serves `exec`, signals
 * and power-off on vm.sock (src/engine/vm-wire.ts), and at the end writes exit.json, removes
 * what it made and runs the same cleanup as `berth container cleanup`.
 *
 * Attached (`run` without -d) it inherits the CLI's stdio, tees the output there, relays the
 * signals the CLI forwards to it to the main process, and exits with the container's status.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { createServer } from 'node:net';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { ExecFailedError, NotFoundError } from '../common/errors.ts';
import { processStartTime } from '../runtime/container-state.ts';
import type { CgroupManager } from '../cgroups/index.ts';
import { LOCK } from '../sys/types.ts';
import { qemuOverheadMiB, startVm, type GuestProcess, type VmHandle, type VmProcess } from '../vm/index.ts';
import type { Engine } from './engine.ts';
import { guestProcess, mainArgs, vmMachine } from './vm-process.ts';
import { cleanVmLeftovers } from './vm-start.ts';
import { socketAddress, vmSocketFile, vmStateFile, writeVmState, type VmState } from './vm-state.ts';
import { C_EXEC, C_MAIN_SIGNAL, C_POWEROFF, C_SIGNAL, C_STDIN, C_WINSIZE, M_DONE, M_EXIT, M_FAILED, M_PID, M_STDERR, M_STDOUT, readFrames, send, type Failure } from './vm-wire.ts';

/** The monitor's own memory (Node), allowed in the container's cgroup beside QEMU's. */
export const MONITOR_MIB = 96;
const DEFAULT_GUEST_MIB = 256;
const READY_FD = 3;
const RELAYED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Docker's json-file log, split at newlines as native/monitor.c does (a partial line waits). */
class JsonLog {
  readonly #fd: number;
  readonly #pending: Record<'stdout' | 'stderr', Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };

  constructor(file: string) {
    this.#fd = openSync(file, 'a', 0o640);
  }

  #entry(stream: 'stdout' | 'stderr', b: Buffer): void {
    const time = `${new Date().toISOString().slice(0, -1)}000000Z`;
    writeSync(this.#fd, `${JSON.stringify({ log: b.toString('utf8'), stream, time })}\n`);
  }

  write(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    let buf = Buffer.concat([this.#pending[stream], chunk]);
    for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10)) {
      this.#entry(stream, buf.subarray(0, nl + 1));
      buf = buf.subarray(nl + 1);
    }
    if (buf.length >= 16384) {
      this.#entry(stream, buf);
      buf = Buffer.alloc(0);
    }
    this.#pending[stream] = Buffer.from(buf);
  }

  close(): void {
    for (const s of ['stdout', 'stderr'] as const) if (this.#pending[s].length) this.#entry(s, this.#pending[s]);
    closeSync(this.#fd);
  }
}

function report(line: string): void {
  try {
    writeSync(READY_FD, `${line.replaceAll('\n', ' ')}\n`);
  } catch {
    /* the starting CLI went away: nobody to tell */
  }
}

function failureOf(err: unknown): Failure {
  if (err instanceof ExecFailedError) return { message: err.message, errno: err.errno ?? '' };
  return { message: (err as Error).message };
}

/** Moves us back to each hierarchy's root so the container's cgroup can be removed. */
function leaveCgroup(cg: CgroupManager): void {
  const rel = `/${cg.path.replace(/^\/+/, '')}`;
  for (const dir of Object.values(cg.paths())) {
    if (!dir.endsWith(rel)) continue;
    try {
      writeFileSync(path.join(dir.slice(0, -rel.length) || '/', 'cgroup.procs'), String(process.pid));
    } catch {
      /* not movable here: destroy() below reports nothing and prune retries */
    }
  }
}

function ttySize(): { rows: number; cols: number } {
  return { rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 };
}

/** Serves one control connection: an exec, or a signal / power-off for the VM. */
function serve(vm: VmHandle, sock: Socket, onPowerOff: () => void): void {
  sock.on('error', () => {});
  let proc: VmProcess | undefined;
  readFrames(sock, (f) => {
    try {
      handle(f.type, f.payload);
    } catch (err) {
      // a malformed request fails that request, never the monitor (and so the VM)
      send(sock, M_FAILED, JSON.stringify({ message: (err as Error).message }));
      sock.end();
    }
  });
  const handle = (type: string, payload: Buffer): void => {
    const text = payload.toString();
    switch (type) {
      case C_EXEC: {
        if (proc) return;
        const p = (proc = vm.exec(JSON.parse(text) as GuestProcess));
        p.pid.then((pid) => send(sock, M_PID, String(pid)), () => {});
        p.stdout.on('data', (c: Buffer) => send(sock, M_STDOUT, c));
        p.stderr.on('data', (c: Buffer) => send(sock, M_STDERR, c));
        const drained = Promise.all([finished(p.stdout), finished(p.stderr)]).catch(() => {});
        p.exit.then(
          async (code) => {
            await drained;
            send(sock, M_EXIT, String(code));
            sock.end();
          },
          (err: unknown) => {
            send(sock, M_FAILED, JSON.stringify(failureOf(err)));
            sock.end();
          },
        );
        break;
      }
      case C_STDIN:
        if (payload.length) proc?.stdin.write(payload);
        else proc?.stdin.end();
        break;
      case C_SIGNAL:
        proc?.signal(Number(text));
        break;
      case C_WINSIZE: {
        const [r, c] = text.split(' ').map(Number);
        proc?.resize(r!, c!);
        break;
      }
      case C_MAIN_SIGNAL:
        vm.main.signal(Number(text));
        send(sock, M_DONE);
        break;
      case C_POWEROFF:
        onPowerOff();
        send(sock, M_DONE);
        break;
    }
  };
  sock.on('close', () => {
    if (proc && !proc.done) proc.stdin.end();
  });
}

/**
 * Runs the container's VM to its end; the container's exit status (125 if it never started,
 * the reason then having gone to the starting CLI on fd 3).
 */
export async function runVmMonitor(engine: Engine, id: string, o: { attached: boolean; stdin: boolean }): Promise<number> {
  const rec = engine.records.get(id);
  if (!rec) {
    report(`error No such container: ${id}`);
    return 125;
  }
  const rm = await engine.rootfsManager();
  // one monitor per container: two racing starts must not boot two VMs on one upper dir.
  // flock: released by the kernel if we die; the fd is close-on-exec, so QEMU does not hold it.
  const lockFd = openSync(path.join(engine.layout.container(id), 'vm.lock'), 'a+', 0o600);
  try {
    await rm.store.sys.flock(lockFd, LOCK.EX | LOCK.NB);
  } catch {
    report(`error container ${id.slice(0, 12)} is already running`);
    return 125;
  }
  cleanVmLeftovers(engine, rec); // of a previous run whose monitor died hard
  const monitorStart = processStartTime(process.pid) ?? '';
  // running from now on (`ps`, and `rm -f` during the boot finds us); the VM's fields come at the hello
  writeVmState(engine, id, { monitorPid: process.pid, monitorStart, qemuPid: 0, runDir: '', kernelRelease: '', accel: '', bootMs: 0, startedAt: new Date().toISOString() });
  const cg = engine.runtime.cgroups({ cgroupsPath: `berth/${id}` });
  const mountPoint = engine.layout.rootfsMount(id);
  let mounted = false;
  let server: Server | undefined;
  const sockFile = vmSocketFile(engine, id);
  const undo = (): void => {
    server?.close();
    rmSync(sockFile, { force: true });
    if (mounted) rm.unmount(mountPoint);
    mounted = false;
    leaveCgroup(cg);
    try {
      cg.destroy();
    } catch {
      /* left for `system prune` */
    }
  };

  let vm: VmHandle;
  let state: VmState;
  try {
    const machine = vmMachine(rec);
    const tty = rec.Config.Tty ? ttySize() : undefined;
    const main = await guestProcess(engine, rec, tty ? { args: mainArgs(rec), tty } : { args: mainArgs(rec) });
    const prepared = await engine.prepared(rec);
    let rootfs: string;
    if (prepared.driver === 'vfs') rootfs = prepared.rootfs;
    else {
      // mounted on the host for the VM's life: QEMU's 9p server shares it; unmounted at the end
      mkdirSync(mountPoint, { recursive: true });
      rm.unmount(mountPoint);
      rm.mount(prepared, mountPoint);
      mounted = true;
      rootfs = mountPoint;
    }
    // QEMU is our child: joining the cgroup first puts it there from its first instruction
    const guestMiB = machine.memoryMiB ?? DEFAULT_GUEST_MIB;
    cg.create();
    cg.apply({ memory: { limit: (guestMiB + qemuOverheadMiB('tcg') + MONITOR_MIB) * 1024 * 1024 } });
    cg.addProcess(process.pid);
    vm = await startVm({ rootfs, ...machine, ...main, onNotice: (l) => (o.attached ? process.stderr.write(`${l}\n`) : undefined) });
    if (vm.accel !== 'tcg') cg.apply({ memory: { limit: (guestMiB + qemuOverheadMiB(vm.accel) + MONITOR_MIB) * 1024 * 1024 } });
  } catch (err) {
    undo();
    rmSync(vmStateFile(engine, id), { force: true });
    report(`error ${(err as Error).message}`);
    return 125;
  }

  let poweredOff = false;
  try {
    const fresh = engine.records.get(id);
    if (!fresh) throw new NotFoundError(`No such container: ${id}`);
    fresh.StartedAt = new Date().toISOString();
    engine.records.save(fresh, { durable: false });
    state = {
      monitorPid: process.pid,
      monitorStart,
      qemuPid: vm.qemuPid,
      runDir: vm.runDir,
      kernelRelease: vm.kernelRelease,
      accel: vm.accel,
      bootMs: Math.round(vm.bootMs),
      startedAt: fresh.StartedAt,
    };
    writeVmState(engine, id, state);
    // which container a /tmp/berth-vm-* belongs to, for `system prune` after a crash (after
    // vm.json names it: prune spares the run dir a live monitor's vm.json names)
    writeFileSync(path.join(vm.runDir, 'container'), JSON.stringify({ root: engine.root, id }));
    rmSync(sockFile, { force: true });
    const srv = (server = createServer((s) => serve(vm, s, () => ((poweredOff = true), vm.kill()))));
    const addr = socketAddress(sockFile);
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(addr.address, () => resolve());
    }).finally(addr.done);
  } catch (err) {
    vm.kill();
    await vm.wait().catch(() => {});
    undo();
    rmSync(vmStateFile(engine, id), { force: true });
    report(`error ${(err as Error).message}`);
    return 125;
  }
  report(`ready ${vm.qemuPid}`);
  try {
    closeSync(READY_FD);
  } catch {
    /* not given one */
  }

  // an attached CLI that went away must not take the monitor (and the VM) with it
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  const log = new JsonLog(engine.layout.log(id));
  vm.main.stdout.on('data', (c: Buffer) => {
    log.write('stdout', c);
    if (o.attached) process.stdout.write(c);
  });
  vm.main.stderr.on('data', (c: Buffer) => {
    log.write('stderr', c);
    if (o.attached) process.stderr.write(c);
  });
  const drained = Promise.all([finished(vm.main.stdout), finished(vm.main.stderr)]).catch(() => {});
  if (o.attached && o.stdin) {
    if (rec.Config.Tty && process.stdin.isTTY) process.stdin.setRawMode(true);
    process.stdin.pipe(vm.main.stdin);
  } else vm.main.stdin.end();
  const relay = (sig: NodeJS.Signals): void => vm.main.signal(sig);
  for (const s of RELAYED) process.on(s, relay);
  const winch = (): void => vm.main.resize(ttySize().rows, ttySize().cols);
  if (rec.Config.Tty) process.on('SIGWINCH', winch);

  let exitCode: number;
  let signal = 0;
  try {
    exitCode = (await vm.wait()).exitCode;
  } catch {
    // the VM ended before the main process did: powered off by stop/rm -f, or QEMU died
    exitCode = 137;
    signal = poweredOff ? 9 : 0;
    if (!poweredOff) exitCode = 255;
  }
  await drained;
  for (const s of RELAYED) process.off(s, relay);
  process.off('SIGWINCH', winch);
  process.stdin.unpipe();
  process.stdin.destroy();
  log.close();
  let oomKill = 0;
  try {
    oomKill = cg.stats().memory.oomKills;
  } catch {
    /* no memory controller */
  }
  const exitFile = engine.layout.exit(id);
  writeFileSync(`${exitFile}.tmp`, JSON.stringify({ exitCode, signal, oomKill, finishedAt: new Date().toISOString() }));
  renameSync(`${exitFile}.tmp`, exitFile);
  undo();
  writeVmState(engine, id, { ...state, monitorPid: 0 });
  const { afterExit } = await import('./lifecycle.ts');
  try {
    await afterExit(engine, id);
  } catch (err) {
    if (o.attached) process.stderr.write(`berth: cleanup of ${id.slice(0, 12)}: ${(err as Error).message}\n`);
  }
  return exitCode;
}
