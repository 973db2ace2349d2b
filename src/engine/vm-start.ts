/**
 * `--isolation vm` for the engine's verbs: start spawns the container's VM monitor
 * (src/engine/vm-monitor.ts) and waits until the guest has booted; exec, kill, stop and rm -f
 * reach the VM through the monitor's socket (src/engine/vm-wire.ts). What a monitor that died
 * hard leaves (the root mount, the backend's temp dir, QEMU) is removed by `vmLeftovers`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BadStateError, SystemError } from '../common/errors.ts';
import { parseSignal } from '../runtime/kill.ts';
import { sleep } from '../runtime/process-wait.ts';
import { LOCK } from '../sys/types.ts';
import { berthCli, type Engine } from './engine.ts';
import type { ExecOptions } from './exec.ts';
import type { ContainerRecord } from './record.ts';
import type { Started, StartIO } from './start.ts';
import { guestProcess } from './vm-process.ts';
import { liveVm, readVmState, vmSocketFile } from './vm-state.ts';
import { C_EXEC, C_MAIN_SIGNAL, C_POWEROFF, C_SIGNAL, C_STDIN, C_WINSIZE, dial, failureError, M_EXIT, M_FAILED, M_PID, M_STDERR, M_STDOUT, readFrames, request, send, type Failure } from './vm-wire.ts';

function signalNumber(signal: string | number): number {
  const s = parseSignal(String(signal));
  return typeof s === 'number' ? s : (os.constants.signals[s as NodeJS.Signals] ?? 15);
}

/** Spawns the monitor (detached, its own session) and waits for the guest's hello or a failure. */
export async function startVmContainer(engine: Engine, rec: ContainerRecord, io: StartIO): Promise<Started> {
  rmSync(engine.layout.exit(rec.Id), { force: true });
  const args = ['--root', engine.root, 'container', 'vm-monitor', rec.Id];
  if (io.attach) args.push('--attached');
  if (io.attach && io.stdin) args.push('--stdin');
  const child = spawn(berthCli(), args, {
    detached: true,
    stdio: [io.attach && io.stdin ? 'inherit' : 'ignore', io.attach ? 'inherit' : 'ignore', io.attach ? 'inherit' : 'ignore', 'pipe'],
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const pipe = child.stdio[3]!;
  const line = await new Promise<string>((resolve) => {
    let text = '';
    pipe.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.includes('\n')) resolve(text.slice(0, text.indexOf('\n')));
    });
    pipe.on('close', () => resolve(text));
    pipe.on('error', () => resolve(text));
    child.on('error', (e) => resolve(`error ${e.message}`));
  });
  pipe.destroy();
  if (!line.startsWith('ready')) {
    await exit;
    throw new SystemError(line.replace(/^error /, '') || 'the VM monitor exited before the VM started');
  }
  return { pid: child.pid!, session: { child, exit, detach: () => child.unref() } };
}

/**
 * The control socket once the guest has booted: a container is running from the moment its
 * monitor starts, but the socket exists only after the hello (qemuPid set in vm.json).
 */
async function booted(engine: Engine, rec: ContainerRecord): Promise<string> {
  for (;;) {
    const st = liveVm(engine, rec.Id);
    if (!st) throw new BadStateError(`container ${rec.Id.slice(0, 12)} is not running`);
    if (st.qemuPid) return vmSocketFile(engine, rec.Id);
    await sleep(100);
  }
}

/** `berth exec` in a VM container: the request goes to the monitor, stdio is relayed. */
export async function execInVm(engine: Engine, rec: ContainerRecord, opts: ExecOptions): Promise<number> {
  const tty = opts.tty ? { rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 } : undefined;
  const req: Parameters<typeof guestProcess>[2] = { args: opts.cmd };
  if (opts.env) req.env = opts.env;
  if (opts.workdir) req.workdir = opts.workdir;
  if (opts.user) req.user = opts.user;
  if (tty) req.tty = tty;
  const p = await guestProcess(engine, rec, req);
  const sock = await dial(await booted(engine, rec));
  const relay = (sig: NodeJS.Signals): void => send(sock, C_SIGNAL, String(os.constants.signals[sig]));
  const winch = (): void => send(sock, C_WINSIZE, `${process.stdout.rows || 24} ${process.stdout.columns || 80}`);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
  const raw = !!(tty && opts.interactive && process.stdin.isTTY);
  try {
    return await new Promise<number>((resolve, reject) => {
      readFrames(sock, (f) => {
        if (f.type === M_PID && opts.detach) resolve(0);
        else if (f.type === M_STDOUT) process.stdout.write(f.payload);
        else if (f.type === M_STDERR) process.stderr.write(f.payload);
        else if (f.type === M_EXIT) resolve(Number(f.payload.toString()));
        else if (f.type === M_FAILED) reject(failureError(JSON.parse(f.payload.toString()) as Failure));
      });
      sock.on('close', () => reject(new SystemError('the VM stopped before the process ended')));
      send(sock, C_EXEC, JSON.stringify(p));
      if (opts.detach) return;
      for (const s of signals) process.on(s, relay);
      if (tty) process.on('SIGWINCH', winch);
      if (opts.interactive) {
        if (raw) process.stdin.setRawMode(true);
        process.stdin.on('data', (c: Buffer) => send(sock, C_STDIN, c));
        process.stdin.on('end', () => send(sock, C_STDIN));
      } else send(sock, C_STDIN);
    });
  } finally {
    for (const s of signals) process.off(s, relay);
    process.off('SIGWINCH', winch);
    if (raw) process.stdin.setRawMode(false);
    if (opts.interactive) process.stdin.destroy();
    sock.destroy();
  }
}

/** `kill`: the signal to the workload (the main process in the guest). */
export async function signalVm(engine: Engine, rec: ContainerRecord, signal: string | number): Promise<void> {
  await request(await booted(engine, rec), C_MAIN_SIGNAL, String(signalNumber(signal)));
}

async function waitGone(engine: Engine, rec: ContainerRecord, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (liveVm(engine, rec.Id)) {
    if (Date.now() >= end) return false;
    await sleep(50);
  }
  return true;
}

/**
 * `stop`: the stop signal to the workload, then after the timeout the VM is powered off; a
 * monitor that does not answer is killed with its cgroup (QEMU with it) and cleaned up after.
 */
export async function stopVm(engine: Engine, rec: ContainerRecord, timeoutSec: number): Promise<void> {
  const sock = vmSocketFile(engine, rec.Id);
  try {
    await request(sock, C_MAIN_SIGNAL, String(signalNumber(rec.Config.StopSignal)));
    if (await waitGone(engine, rec, timeoutSec * 1000)) return;
  } catch {
    /* ended meanwhile, or a monitor that does not answer: power off below */
  }
  await forceStopVm(engine, rec);
}

/** `rm -f` and the end of `stop`: QEMU is killed by the monitor, which then cleans up as usual. */
export async function forceStopVm(engine: Engine, rec: ContainerRecord): Promise<void> {
  const live = liveVm(engine, rec.Id);
  if (!live) return;
  try {
    // still booting (no socket yet): straight to the kill below
    if (live.qemuPid) {
      await request(vmSocketFile(engine, rec.Id), C_POWEROFF);
      if (await waitGone(engine, rec, 15_000)) return;
    }
  } catch {
    /* no answer */
  }
  // the monitor itself too: early in its boot it has not joined the cgroup yet
  const again = liveVm(engine, rec.Id);
  try {
    if (again) process.kill(again.monitorPid, 'SIGKILL');
  } catch {
    /* exited meanwhile */
  }
  try {
    engine.runtime.cgroups({ cgroupsPath: `berth/${rec.Id}` }).killAll('SIGKILL');
  } catch {
    /* gone */
  }
  await waitGone(engine, rec, 10_000);
  await vmLeftovers(engine, rec);
}

function mountedAt(target: string): boolean {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === target);
  } catch {
    return false;
  }
}

/** QEMU processes whose command line names `runDir` (the agent socket is in it). */
function qemuOf(runDir: string): number[] {
  const out: number[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const cmd = readFileSync(`/proc/${n}/cmdline`, 'utf8');
      if (cmd.includes('qemu-system') && cmd.includes(`${runDir}/`)) out.push(Number(n));
    } catch {
      /* exited */
    }
  }
  return out;
}

function removeRunDir(runDir: string): void {
  for (const pid of qemuOf(runDir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* exited */
    }
  }
  rmSync(runDir, { recursive: true, force: true });
}

/**
 * What a VM container that is not running may still have on the host after its monitor died
 * hard: the root mount, the socket, QEMU and its temp dir, the cgroup. Idempotent. Skipped
 * while a monitor holds the container's vm.lock (one is running or booting).
 */
export async function vmLeftovers(engine: Engine, rec: ContainerRecord): Promise<void> {
  let fd: number;
  try {
    fd = openSync(path.join(engine.layout.container(rec.Id), 'vm.lock'), 'a+', 0o600);
  } catch {
    return; // no container dir: nothing of it can be left there
  }
  try {
    try {
      await (await engine.rootfsManager()).store.sys.flock(fd, LOCK.EX | LOCK.NB);
    } catch {
      return; // a monitor has it
    }
    cleanVmLeftovers(engine, rec);
  } finally {
    closeSync(fd);
  }
}

/** vmLeftovers for the holder of vm.lock (the monitor, before it boots again). */
export function cleanVmLeftovers(engine: Engine, rec: ContainerRecord): void {
  const mp = engine.layout.rootfsMount(rec.Id);
  if (mountedAt(mp)) spawnUmount(mp);
  rmSync(vmSocketFile(engine, rec.Id), { force: true });
  const st = readVmState(engine, rec.Id);
  if (st?.runDir && path.basename(st.runDir).startsWith('berth-vm-')) removeRunDir(st.runDir);
  try {
    engine.runtime.cgroups({ cgroupsPath: `berth/${rec.Id}` }).destroy();
  } catch {
    /* busy or absent */
  }
}

function spawnUmount(target: string): void {
  // detached, as the store's unmount does; the FFI seam is not loaded for this alone
  spawnSync('umount', ['-l', target], { stdio: 'ignore' });
}

/**
 * `system prune`: /tmp/berth-vm-* dirs of this root's VM containers that are gone or not
 * running (their monitor was killed), with any QEMU still using them.
 */
export function sweepVmRunDirs(engine: Engine): string[] {
  const removed: string[] = [];
  const tmp = os.tmpdir();
  for (const n of readdirSync(tmp)) {
    if (!n.startsWith('berth-vm-')) continue;
    const dir = path.join(tmp, n);
    let owner: { root?: string; id?: string };
    try {
      owner = JSON.parse(readFileSync(path.join(dir, 'container'), 'utf8')) as typeof owner;
    } catch {
      continue; // not a container's (a library user's VM, or one still booting)
    }
    if (owner.root !== engine.root || !owner.id) continue;
    const live = liveVm(engine, owner.id);
    if (live && live.runDir === dir) continue;
    removeRunDir(dir);
    removed.push(dir);
  }
  return removed;
}
