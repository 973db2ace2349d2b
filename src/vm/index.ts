/** Hypervisor isolation (`--isolation vm`): QEMU microVMs with berth-helper as the guest agent. */
export { runVm, startVm, VmHandle, qemuOverheadMiB, prepareVm, type Prepared, type VmOptions, type RunVmOptions, type RunVmResult, type VmExit } from './vm.ts';
export { VmProcess } from './agent-channel.ts';
export { parseAccel, type AccelRequest } from './accel.ts';
export { DEFAULT_TUNING, type GuestTuning, type Accel } from './qemu-args.ts';
export type { GuestProcess, SetupOp } from './protocol.ts';
