/**
 * What a VM container's monitor records for other berth processes: `containers/<id>/vm.json`
 * (its pid and start time, QEMU's pid, the backend's temp dir, the guest kernel and the
 * accelerator) and the control socket `containers/<id>/vm.sock`. Like process isolation's
 * runtime state, "running" is derived: the monitor's pid is alive with the recorded start time.
 */
import { closeSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { processStartTime } from '../runtime/container-state.ts';
import type { Engine } from './engine.ts';
import type { ContainerRecord } from './record.ts';

export interface VmState {
  /** 0 once the monitor has finished (exit.json written, everything cleaned up). */
  monitorPid: number;
  monitorStart: string;
  qemuPid: number;
  /** The backend's temp dir (/tmp/berth-vm-*): agent socket, console log. */
  runDir: string;
  kernelRelease: string;
  accel: string;
  bootMs: number;
  startedAt: string;
}

export function isVm(rec: ContainerRecord): boolean {
  return rec.HostConfig.Isolation === 'vm';
}

export function vmStateFile(engine: Engine, id: string): string {
  return path.join(engine.layout.container(id), 'vm.json');
}

export function vmSocketFile(engine: Engine, id: string): string {
  return path.join(engine.layout.container(id), 'vm.sock');
}

export function readVmState(engine: Engine, id: string): VmState | undefined {
  try {
    return JSON.parse(readFileSync(vmStateFile(engine, id), 'utf8')) as VmState;
  } catch {
    return undefined;
  }
}

export function writeVmState(engine: Engine, id: string, st: VmState): void {
  const file = vmStateFile(engine, id);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(st), { mode: 0o600 });
  renameSync(tmp, file);
}

/** The VM state if its monitor is alive (the container is running), else undefined. */
export function liveVm(engine: Engine, id: string): VmState | undefined {
  const st = readVmState(engine, id);
  return st && st.monitorPid > 0 && processStartTime(st.monitorPid) === st.monitorStart ? st : undefined;
}

/**
 * A unix socket address for `file`: sun_path holds 108 bytes, and a container dir under a long
 * --root exceeds it, so longer paths go through an fd on the directory (/proc/self/fd/N/name),
 * which resolves to the same inode for bind and connect. `done` closes that fd.
 */
export function socketAddress(file: string): { address: string; done: () => void } {
  if (file.length < 100) return { address: file, done: () => {} };
  const fd = openSync(path.dirname(file), 'r');
  let open = true;
  return {
    address: `/proc/self/fd/${fd}/${path.basename(file)}`,
    done: () => {
      if (open) closeSync(fd);
      open = false;
    },
  };
}
