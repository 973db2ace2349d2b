/**
 * The shape of `berth compare`'s result: one entry per mode, every figure measured on this host
 * during the run (nothing here has a default value that could pass for a measurement). The JSON
 * output is this object as is, so the field names are the interface scripts and tests rely on.
 */

export type ModeName = 'host' | 'chroot' | 'process' | 'vm';

/** The order of the columns: the seed's starting point first, the host last as the reference. */
export const MODE_ORDER: readonly ModeName[] = ['chroot', 'process', 'vm', 'host'];

export interface Latency {
  /** Start-to-exit of `true`, one sample per run, in the order they were taken. */
  runsMs: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
}

export interface MemoryOverhead {
  /** Resident set of the per-instance process (monitor, VMM) while the workload idles; 0 when there is none. */
  idleKiB: number;
  /** Its high-water mark (VmHWM) over the instance's life so far, start-up included. */
  peakKiB: number;
  /** Which process was measured, e.g. "monitor (berth-helper, pid 1234)", or why there is none. */
  of: string;
}

/** private: a different namespace than the host's; shared: the same; n/a: a different kernel's namespace, not comparable. */
export type NsStatus = 'private' | 'shared' | 'n/a';

export interface Namespaces {
  /** Namespace → `type:[inode]` as the workload read it from /proc/self/ns. */
  inside: Record<string, string>;
  /** The same links of `berth compare` itself on the host. */
  host: Record<string, string>;
  status: Record<string, NsStatus>;
  private: string[];
  note: string;
}

export interface LimitCheck {
  /** The limit asked for (-m), MiB. */
  limitMiB: number;
  /** The bounded hog's size, MiB: it ends by itself when nothing stops it. */
  hogMiB: number;
  enforced: boolean;
  exitCode: number;
  detail: string;
}

export interface HostProcesses {
  /** A marker process started on the host for the measurement was seen from inside. */
  visible: boolean;
  /** /proc/[0-9]* entries the workload saw (0: no /proc). */
  inside: number;
  /** The same count on the host, at the same time. */
  host: number;
}

export interface ModeFacts {
  memory: MemoryOverhead;
  kernel: string;
  namespaces: Namespaces;
  memoryLimit: LimitCheck;
  hostProcesses: HostProcesses;
  /** "native" (the host's own CPU, no virtualisation), "kvm" or "tcg" (software emulation). */
  accel: string;
}

export interface AvailableMode extends ModeFacts {
  mode: ModeName;
  label: string;
  available: true;
  /** What one latency sample runs, as a user would type it. */
  command: string;
  latency: Latency;
}

export interface UnavailableMode {
  mode: ModeName;
  label: string;
  available: false;
  reason: string;
}

export type ModeResult = AvailableMode | UnavailableMode;

export interface CompareReport {
  image: string;
  runs: number;
  generatedAt: string;
  host: { kernel: string; cpu: string; cpus: number; loadAverage: number[] };
  modes: ModeResult[];
}
