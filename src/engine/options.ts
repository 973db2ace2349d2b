/** What `berth run`/`create` accept, as a typed object: the library API's input. */
export interface MountSpec {
  type: 'bind' | 'volume' | 'tmpfs';
  source?: string;
  target: string;
  readonly?: boolean;
  /** tmpfs: size in bytes and mode; bind: propagation */
  tmpfsSize?: number;
  tmpfsMode?: number;
  propagation?: string;
}

export type PullPolicy = 'missing' | 'always' | 'never';

export interface CreateOptions {
  image: string;
  /** Docker's --pull: fetch the image when it is not here (default), always, or never. */
  pull?: PullPolicy;
  /** Replaces the image's Cmd; with `entrypoint` set, the arguments to it. */
  cmd?: string[];
  entrypoint?: string[];
  name?: string;
  env?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  labels?: Record<string, string>;
  tty?: boolean;
  interactive?: boolean;
  /** bytes */
  memory?: number;
  memorySwap?: number;
  memoryReservation?: number;
  /** e.g. 0.5 for half a core */
  cpus?: number;
  cpuShares?: number;
  cpusetCpus?: string;
  pidsLimit?: number;
  ulimits?: { name: string; soft: number; hard: number }[];
  /** -v specs and --mount, already parsed */
  mounts?: MountSpec[];
  /** -v strings as typed, for HostConfig.Binds */
  binds?: string[];
  readOnly?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  securityOpt?: string[];
  /** bridge (default), none, host, container:<name|id>, or a user-defined network's name */
  network?: string;
  networkAliases?: string[];
  ip?: string;
  /** -p specs as typed: [ip:][hostPort:]containerPort[/proto], ranges */
  publish?: string[];
  /** -P: publish every port the image exposes on a random host port */
  publishAll?: boolean;
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** --add-host name:ip */
  extraHosts?: string[];
  init?: boolean;
  stopSignal?: string;
  stopTimeout?: number;
  autoRemove?: boolean;
  isolation?: 'process' | 'vm';
  /** --isolation vm: kvm, tcg or auto (the default) */
  accel?: string;
  /** --isolation vm: the guest kernel (a bzImage or vmlinux); default the newest /boot/vmlinuz-* */
  kernel?: string;
  oomKillDisable?: boolean;
}
