/**
 * A container's live state, derived on every read from the runtime (is the process alive?) and
 * the monitor's exit file, so it is never stale: a container whose monitor died is "exited".
 */
import { readFileSync } from 'node:fs';
import { inspect as runtimeInspect } from '../runtime/status.ts';
import { processStartTime } from '../runtime/container-state.ts';
import type { Engine } from './engine.ts';
import type { ContainerRecord } from './record.ts';
import { liveVm } from './vm-state.ts';

export type Status = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ExitFile {
  exitCode: number;
  signal: number;
  oomKill: number;
  finishedAt: string;
}

export interface ContainerState {
  Status: Status;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

export function readExitFile(engine: Engine, id: string): ExitFile | undefined {
  try {
    return JSON.parse(readFileSync(engine.layout.exit(id), 'utf8')) as ExitFile;
  } catch {
    return undefined;
  }
}

export function containerState(engine: Engine, rec: ContainerRecord): ContainerState {
  const base: ContainerState = {
    Status: 'created',
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 0,
    ExitCode: 0,
    Error: '',
    StartedAt: rec.StartedAt ?? ZERO_TIME,
    FinishedAt: ZERO_TIME,
  };
  let rt;
  try {
    rt = runtimeInspect(engine.runtime, rec.Id);
  } catch {
    rt = undefined;
  }
  if (rt && (rt.status === 'running' || rt.status === 'paused' || rt.status === 'creating' || rt.status === 'created')) {
    return { ...base, Status: rt.status === 'paused' ? 'paused' : 'running', Running: true, Paused: rt.status === 'paused', Pid: rt.rec.pid };
  }
  // a VM container runs while its monitor does; its Pid is QEMU's
  const vm = rec.HostConfig.Isolation === 'vm' ? liveVm(engine, rec.Id) : undefined;
  if (vm) return { ...base, Status: 'running', Running: true, Pid: vm.qemuPid, StartedAt: vm.startedAt || base.StartedAt };
  const exit = readExitFile(engine, rec.Id);
  if (exit) {
    return { ...base, Status: 'exited', ExitCode: exit.exitCode, OOMKilled: exit.oomKill > 0, FinishedAt: exit.finishedAt };
  }
  if (rec.Monitor && rec.Monitor.Pid > 0 && processStartTime(rec.Monitor.Pid) === rec.Monitor.Start) {
    // the process is gone but its monitor is still reaping it: the exit record is a moment away
    return { ...base, Status: 'running', Running: true };
  }
  if (rec.StartedAt) {
    // started, no process, no exit record: the monitor was killed with the container
    return { ...base, Status: 'exited', ExitCode: 255, Error: 'the container monitor exited unexpectedly' };
  }
  return base;
}
