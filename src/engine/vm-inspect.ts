/** The `Vm` section of `inspect` for `--isolation vm`: what the monitor recorded at boot. */
import type { Engine } from './engine.ts';
import type { ContainerRecord } from './record.ts';
import { liveVm, readVmState } from './vm-state.ts';

export interface VmInspect {
  /** The guest kernel's release (`uname -r` in the VM), empty before the first boot. */
  KernelRelease: string;
  /** kvm or tcg: what `--accel` resolved to. */
  Accel: string;
  BootMs: number;
  /** QEMU's host pid while running, else 0. */
  QemuPid: number;
}

export function vmInspect(engine: Engine, rec: ContainerRecord): VmInspect {
  const st = readVmState(engine, rec.Id);
  return {
    KernelRelease: st?.kernelRelease ?? '',
    Accel: st?.accel ?? rec.HostConfig.VmAccel ?? 'auto',
    BootMs: st?.bootMs ?? 0,
    QemuPid: liveVm(engine, rec.Id)?.qemuPid ?? 0,
  };
}
