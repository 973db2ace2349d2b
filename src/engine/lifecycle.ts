/** `run`, `stop`, `kill`, `restart`, `rm`, `wait`, `cleanup`: the verbs that change a container's life. */
import { BadStateError } from '../common/errors.ts';
import { mark } from '../common/trace.ts';
import { parseSignal } from '../runtime/kill.ts';
import { sleep } from '../runtime/process-wait.ts';
import { createContainer } from './create.ts';
import type { Engine } from './engine.ts';
import type { CreateOptions } from './options.ts';
import type { ContainerRecord } from './record.ts';
import { startContainer, waitAttached, type StartIO } from './start.ts';
import { containerState, type ContainerState } from './state.ts';

export interface RunResult {
  id: string;
  /** The container's exit status, for attached runs. */
  exitCode?: number;
}

export async function runContainer(engine: Engine, opts: CreateOptions & { detach?: boolean }, io: Omit<StartIO, 'attach'> = { stdin: false }): Promise<RunResult> {
  const rec = await createContainer(engine, opts);
  mark('created');
  let started;
  try {
    started = await startContainer(engine, rec, { attach: !opts.detach, stdin: io.stdin });
  } catch (err) {
    if (rec.HostConfig.AutoRemove) await engine.destroy(rec);
    throw err;
  }
  if (opts.detach || !started) {
    started?.session.detach();
    return { id: rec.Id };
  }
  const exitCode = await waitAttached(started);
  mark('exited');
  await afterExit(engine, rec.Id);
  mark('cleaned');
  return { id: rec.Id, exitCode };
}

/** What the monitor's exit command (and an attached run) does once the process has ended. */
export async function afterExit(engine: Engine, id: string): Promise<void> {
  const rec = engine.records.get(id);
  if (!rec) return;
  if (containerState(engine, rec).Running) return;
  if (rec.HostConfig.AutoRemove) await engine.destroy(rec);
  else {
    await engine.releaseRuntime(id);
    await engine.detachNetwork(rec); // as Docker: a stopped container holds no address or port
  }
}

async function waitNotRunning(engine: Engine, rec: ContainerRecord, ms: number): Promise<ContainerState> {
  const end = Date.now() + ms;
  let delay = 2;
  for (;;) {
    const st = containerState(engine, rec);
    if (!st.Running || Date.now() >= end) return st;
    await sleep(Math.min(delay, Math.max(1, end - Date.now())));
    delay = Math.min(delay * 2, 50);
  }
}

export async function killContainer(engine: Engine, rec: ContainerRecord, signal = 'SIGKILL'): Promise<void> {
  const st = containerState(engine, rec);
  if (!st.Running) throw new BadStateError(`Cannot kill container: ${rec.Id.slice(0, 12)}: container is not running`);
  const sig = parseSignal(signal);
  if (rec.HostConfig.Isolation === 'vm') return (await import('./vm-start.ts')).signalVm(engine, rec, sig);
  if (st.Paused && (sig === 'SIGKILL' || sig === 9)) engine.runtime.cgroups({ cgroupsPath: `berth/${rec.Id}` }).thaw();
  process.kill(st.Pid, sig);
}

/** Docker's stop: the stop signal, the timeout, then SIGKILL to every process of the container. */
export async function stopContainer(engine: Engine, rec: ContainerRecord, timeoutSec?: number): Promise<void> {
  let st = containerState(engine, rec);
  if (!st.Running) return;
  const timeout = timeoutSec ?? rec.Config.StopTimeout ?? 10;
  if (rec.HostConfig.Isolation === 'vm') {
    await (await import('./vm-start.ts')).stopVm(engine, rec, timeout);
    await waitExitRecorded(engine, rec);
    await afterExit(engine, rec.Id);
    return;
  }
  const cg = engine.runtime.cgroups({ cgroupsPath: `berth/${rec.Id}` });
  if (st.Paused) cg.thaw();
  try {
    process.kill(st.Pid, parseSignal(rec.Config.StopSignal));
  } catch {
    /* gone already */
  }
  st = await waitNotRunning(engine, rec, timeout * 1000);
  if (st.Running) {
    try {
      cg.killAll('SIGKILL');
    } catch {
      /* exited meanwhile */
    }
    st = await waitNotRunning(engine, rec, 10_000);
  }
  await waitExitRecorded(engine, rec);
  await afterExit(engine, rec.Id);
}

/** The monitor writes exit.json right after reaping; give it a moment so the status is exact. */
async function waitExitRecorded(engine: Engine, rec: ContainerRecord): Promise<void> {
  const end = Date.now() + 2000;
  while (Date.now() < end) {
    const st = containerState(engine, rec);
    if (st.Status === 'exited' && !st.Error) return;
    await sleep(5);
  }
}

export async function removeContainer(engine: Engine, rec: ContainerRecord, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
  const st = containerState(engine, rec);
  if (st.Running) {
    if (!opts.force)
      throw new BadStateError(
        `You cannot remove a running container ${rec.Id}. Stop the container before attempting removal or force remove`,
      );
  }
  if (rec.HostConfig.Isolation === 'vm') {
    const vm = await import('./vm-start.ts');
    await vm.forceStopVm(engine, rec); // QEMU killed through its monitor, which cleans up
    await vm.vmLeftovers(engine, rec);
  } else if (st.Running) {
    const cg = engine.runtime.cgroups({ cgroupsPath: `berth/${rec.Id}` });
    if (st.Paused) cg.thaw();
    try {
      cg.killAll('SIGKILL');
    } catch {
      /* already gone */
    }
    await waitNotRunning(engine, rec, 10_000);
  }
  await engine.destroy(rec, { volumes: opts.volumes });
}

export async function restartContainer(engine: Engine, rec: ContainerRecord, timeoutSec?: number): Promise<void> {
  await stopContainer(engine, rec, timeoutSec);
  const fresh = engine.records.get(rec.Id) ?? rec;
  fresh.RestartCount += 1;
  const started = await startContainer(engine, fresh, { attach: false, stdin: false });
  started?.session.detach();
}

/** `wait`: blocks until the container is not running; its exit code. */
export async function waitContainer(engine: Engine, rec: ContainerRecord): Promise<number> {
  let delay = 5;
  for (;;) {
    const st = containerState(engine, rec);
    if (!st.Running && (st.Status !== 'exited' || st.FinishedAt !== '0001-01-01T00:00:00Z' || st.Error)) return st.ExitCode;
    if (st.Status === 'created') return st.ExitCode;
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
}
