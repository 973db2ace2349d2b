/**
 * A network definition → the CNI network configuration list that the standard plugins run from.
 * Pure, so the exact JSON each plugin gets is unit-tested. The chain:
 *
 *   bridge    veth pair into the network's bridge, gateway address on the bridge; IPAM delegated
 *             to host-local, whose per-network lock makes concurrent ADDs safe
 *   portmap   DNAT for published ports (runtimeConfig.portMappings); `snat` also masquerades
 *             hairpin and localhost traffic, so 127.0.0.1:<port> and other containers reach them
 *
 * What the firewall, tuning and the bridge's `ipMasq` did per container is per network here, as
 * Docker and netavark (Podman's network stack) keep it: masquerading, isolation between networks
 * and the FORWARD accepts are added with the network's first container (host-net.ts
 * `ensureNetworkRules`) and removed with the network; the netns sysctls are in the container's OCI
 * spec (engine/spec.ts). Measured on this project's 2-core machine, those three plugins cost a
 * bridged `run --rm` about 250 ms per container (iptables runs, mostly: the firewall plugin's ADD
 * alone runs iptables 20 times), which put berth's network set-up above Podman's; and `ipMasq`'s
 * per-container chain was left behind whenever the namespace went first (its DEL finds the address
 * through the interface inside). Containers attached by earlier versions still DEL through the
 * chain cached with them.
 *
 * Internal networks have no gateway on the host, no masquerading and no default route; with no
 * way in from the host, publishing ports on them is meaningless and portmap is left out.
 */
import type { NetworkRecord } from './types.ts';

export const CNI_VERSION = '1.0.0';

export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface NetConfList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: PluginConf[];
}

/**
 * `withPortmap: false` leaves portmap out for a container that publishes nothing: its ADD would be
 * a no-op, but its DEL always sweeps the NAT chains (hundreds of ms of iptables). The list is cached
 * with the result, so DEL runs exactly the plugins ADD ran.
 */
export function buildConfList(net: NetworkRecord, ipamDataDir: string, withPortmap = true): NetConfList {
  const routed = !net.internal;
  const bridge: PluginConf = {
    type: 'bridge',
    bridge: net.bridge,
    isGateway: routed,
    ipMasq: false,
    hairpinMode: true,
    ipam: {
      type: 'host-local',
      ranges: [[{ subnet: net.subnet, gateway: net.gateway }]],
      routes: routed ? [{ dst: '0.0.0.0/0' }] : [],
      dataDir: ipamDataDir,
    },
  };
  const plugins: PluginConf[] = [bridge];
  if (routed && withPortmap) plugins.push({ type: 'portmap', capabilities: { portMappings: true }, snat: true });
  return { cniVersion: CNI_VERSION, name: net.name, plugins };
}

/** The loopback plugin alone: brings `lo` up in a namespace (every mode but host uses it). */
export function loopbackConfList(): NetConfList {
  return { cniVersion: CNI_VERSION, name: 'berth-loopback', plugins: [{ type: 'loopback' }] };
}
