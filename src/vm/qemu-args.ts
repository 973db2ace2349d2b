/**
 * The QEMU command line and the guest kernel command line, as pure functions of a config.
 * The machine is `microvm`: no PCI, no firmware tables beyond ACPI, virtio-mmio devices only,
 * qboot instead of SeaBIOS; QEMU loads the ELF vmlinux through its PVH entry.
 */

export type Accel = 'kvm' | 'tcg';

/**
 * Trade-offs between boot time and the guest kernel's own hardening. The VM boundary is what
 * isolates the container; these only concern the inside of a guest that runs one container.
 */
export interface GuestTuning {
  /** `quiet`: printk only errors; a chatty serial console costs time under emulation. */
  quiet: boolean;
  /** `cryptomgr.notests`: skip the crypto self-tests run at every boot. */
  skipSelfTests: boolean;
  /** false adds `mitigations=off` (speculative-execution mitigations inside the guest). */
  mitigations: boolean;
  /** Extra kernel parameters, appended last. */
  extra: string[];
}

export const DEFAULT_TUNING: GuestTuning = { quiet: true, skipSelfTests: true, mitigations: true, extra: [] };

export interface KernelCmdlineConfig {
  /** Host TSC frequency in kHz: without it microvm may hang calibrating the TSC. */
  tscKhz?: number;
  /** The guest kernel's CONFIG_HZ, to turn tscKhz into loops-per-jiffy. */
  hz: number;
  tuning: GuestTuning;
  accel: Accel;
}

export function lpjFor(tscKhz: number, hz: number): number {
  return Math.round((tscKhz * 1000) / hz);
}

/**
 * Every parameter has `=` or is one the kernel consumes: bare words would reach /init as
 * arguments, and berth-helper only becomes the agent when it has none.
 */
export function kernelCmdline(c: KernelCmdlineConfig): string {
  const p = ['console=ttyS0', 'reboot=t', 'panic=-1'];
  if (c.tscKhz) p.push(`tsc_early_khz=${c.tscKhz}`, `lpj=${lpjFor(c.tscKhz, c.hz)}`);
  // under emulation the TSC watchdog sees skew and falls back to slower clocksources
  if (c.accel === 'tcg') p.push('tsc=reliable', 'no_timer_check');
  if (c.tuning.quiet) p.push('quiet');
  if (c.tuning.skipSelfTests) p.push('cryptomgr.notests');
  if (!c.tuning.mitigations) p.push('mitigations=off');
  p.push(...c.tuning.extra);
  return p.join(' ');
}

export interface QemuConfig extends KernelCmdlineConfig {
  memoryMiB: number;
  cpus: number;
  /** The uncompressed ELF kernel. */
  vmlinux: string;
  initrd: string;
  /** Where the guest's serial console goes (kernel errors, agent diagnostics). */
  serialLog: string;
  /** Unix socket berth listens on; QEMU connects to it as the agent's virtio-serial port. */
  agentSocket?: string;
  agentPort?: string;
  /** Host directory shared as the container root over virtio-9p. */
  rootfs?: string;
  rootTag?: string;
  /** TCG translation cache in MiB (QEMU's default is 1 GiB of address space per VM). */
  tbSizeMiB?: number;
  /** QEMU's own seccomp sandbox. */
  sandbox: boolean;
}

/** Commas in a QEMU option value are written twice. */
export function qemuEscape(value: string): string {
  return value.replaceAll(',', ',,');
}

export function qemuArgs(c: QemuConfig): string[] {
  const a: string[] = [];
  a.push('-M', 'microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=on');
  a.push('-accel', c.accel === 'kvm' ? 'kvm' : `tcg${c.tbSizeMiB ? `,tb-size=${c.tbSizeMiB}` : ''}`);
  a.push('-cpu', c.accel === 'kvm' ? 'host' : 'max');
  a.push('-m', `${c.memoryMiB}M`, '-smp', String(c.cpus));
  a.push('-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot');
  a.push('-kernel', c.vmlinux, '-initrd', c.initrd, '-append', kernelCmdline(c));
  a.push('-chardev', `file,id=con,path=${qemuEscape(c.serialLog)}`, '-serial', 'chardev:con');
  if (c.agentSocket) {
    a.push('-chardev', `socket,id=agent,path=${qemuEscape(c.agentSocket)}`);
    a.push('-device', 'virtio-serial-device,max_ports=2');
    a.push('-device', `virtserialport,chardev=agent,name=${c.agentPort ?? 'io.berth.agent'}`);
  }
  if (c.rootfs) {
    a.push('-fsdev', `local,id=root,path=${qemuEscape(c.rootfs)},security_model=passthrough`);
    a.push('-device', `virtio-9p-device,fsdev=root,mount_tag=${c.rootTag ?? 'berthroot'}`);
  }
  if (c.sandbox) a.push('-sandbox', 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny');
  return a;
}
