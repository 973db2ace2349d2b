/**
 * The records the network library keeps on disk and the shapes the engine sees. Everything the
 * library needs to undo an attachment after a crash is in these records (and in the CNI cache),
 * never only in memory: berth has no daemon, so the next process must be able to finish the job.
 */

/** A network definition, stored as `<root>/networks/<name>.json`. */
export interface NetworkRecord {
  name: string;
  /** 64 hex digits, like Docker's network IDs. */
  id: string;
  driver: 'bridge';
  /** Linux bridge device the CNI bridge plugin creates on first use (≤ 15 characters). */
  bridge: string;
  subnet: string;
  gateway: string;
  /** No gateway, no masquerading, no default route: containers reach only each other. */
  internal: boolean;
  /** Peers resolve each other by name (false for the default network, as in Docker and Podman). */
  dnsEnabled: boolean;
  labels: Record<string, string>;
  created: string;
}

export type Protocol = 'tcp' | 'udp' | 'sctp';

/** One `-p` request after parsing; ranges are already expanded to one entry per container port. */
export interface PortSpec {
  /** '' for all host addresses. */
  hostIP: string;
  /** 0 asks for a free port (from `hostPortEnd`'s range when that is set, else the ephemeral range). */
  hostPort: number;
  /** With `hostPort`, a range of host ports to pick a free one from (`-p 8000-8010:80`). */
  hostPortEnd?: number;
  containerPort: number;
  protocol: Protocol;
}

/** A published port as it is in effect: the host port is always concrete. */
export interface PortBinding {
  hostIP: string;
  hostPort: number;
  containerPort: number;
  protocol: Protocol;
}

/** What the engine asks for one container. */
export interface AttachRequest {
  /** Container name: peers on user-defined networks resolve it. */
  name: string;
  /** Hostname inside the container (defaults to the first 12 characters of the ID). */
  hostname?: string;
  domainname?: string;
  /**
   * `bridge` (the default network), `none`, `host`, `container:<id>` (the engine resolves names to
   * IDs first), or the name of a user-defined network.
   */
  network?: string;
  /** Additional networks for a bridge-mode container (Docker allows several `--network`). */
  extraNetworks?: string[];
  /** `--network-alias`, applied to user-defined networks. */
  aliases?: string[];
  /** `--ip` on the first network. */
  ip?: string;
  ports?: PortSpec[];
  /** `--dns`, `--dns-search`, `--dns-option`. */
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** `--add-host NAME:IP` (IP may be `host-gateway`). */
  extraHosts?: string[];
}

export type NetworkMode = 'bridge' | 'none' | 'host' | 'container';

/** A container's interface as the CNI result described it. */
export interface ContainerInterface {
  network: string;
  /** Name inside the container (eth0, eth1, ...). */
  name: string;
  mac: string;
  /** Addresses in CIDR form, e.g. "10.89.0.2/24". */
  addresses: string[];
  gateway?: string;
  /** The host side of the veth pair, for sweeping. */
  hostVeth?: string;
}

/** One network a container is on, with the options it was attached with. */
export interface Endpoint {
  network: string;
  ifName: string;
  aliases: string[];
  /** Requested address (`--ip`), if any. */
  ip?: string;
  /** The container's published ports are DNATed to this endpoint (the first network). */
  publishes: boolean;
  /** Filled once CNI ADD succeeded. */
  iface?: ContainerInterface;
}

/** The record of a container's networking, `<root>/network-state/containers/<id>.json`. */
export interface AttachmentRecord {
  containerId: string;
  name: string;
  hostname: string;
  mode: NetworkMode;
  /** `container:` mode: whose namespace this container shares. */
  sharedWith?: string;
  /** 'attaching' until every CNI ADD succeeded; 'detaching' once teardown began. */
  state: 'attaching' | 'attached' | 'detaching';
  /** The process running an attach or detach, so the sweep leaves work in flight alone. */
  owner?: { pid: number; start: number };
  netnsPath: string | null;
  endpoints: Endpoint[];
  ports: PortBinding[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  extraHosts: string[];
  created: string;
}

/** What `attach` returns to the engine: what to put in the OCI spec. */
export interface Attachment {
  containerId: string;
  mode: NetworkMode;
  /**
   * The network namespace to join (`linux.namespaces: [{type: 'network', path}]`); null for `host`
   * mode, where the container has no network namespace of its own.
   */
  netnsPath: string | null;
  interfaces: ContainerInterface[];
  /** Bare IPv4 addresses of the container, first network first. */
  ips: string[];
  ports: PortBinding[];
  /** Files to bind-mount at /etc/hosts, /etc/resolv.conf and /etc/hostname. */
  hostsFile: string;
  resolvConf: string;
  hostnameFile: string;
  hostname: string;
  /** Things the user should be told but that are not errors (ports ignored in host mode...). */
  warnings: string[];
}

/** What `sweep` found and removed. */
export interface SweepReport {
  attachments: string[];
  cacheEntries: string[];
  allocations: string[];
  netns: string[];
  veths: string[];
  bridges: string[];
}
