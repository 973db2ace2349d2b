/**
 * The network library: bridge networks through the standard CNI plugins, published ports,
 * per-container /etc/hosts, /etc/hostname and /etc/resolv.conf, and name resolution between the
 * containers of a user-defined network. See docs/networking.md.
 */
export { NetworkManager, hostResolvConfPath, type ManagerOptions } from './manager.ts';
export { parsePublish, parsePublishList, publishAll, formatPorts } from './ports.ts';
export { parseAddHost } from './files.ts';
export { parseMode } from './attach.ts';
export { DEFAULT_NETWORK, DEFAULT_OPTIONS, type CreateRequest, type NetworkOptions } from './definitions.ts';
export type { NetworkInspect } from './networks.ts';
export type { AttachRequest, Attachment, ContainerInterface, NetworkMode, NetworkRecord, PortBinding, PortSpec, Protocol, SweepReport } from './types.ts';
export { CniError } from './cni/exec.ts';
