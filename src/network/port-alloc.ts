/**
 * Host ports for published ports. portmap only writes DNAT rules and never binds the port, so berth
 * checks what a bind would: a port another berth container publishes (from the records, under the
 * state lock, so two concurrent `run`s cannot both take it) or that a host process listens on is
 * refused with Docker's message. Free ports (`-p 80`, `-P`) come from the kernel's ephemeral range.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { AlreadyExistsError, InvalidArgumentError } from '../common/errors.ts';
import type { PortBinding, PortSpec, Protocol } from './types.ts';

function sameAddress(a: string, b: string): boolean {
  return a === '' || b === '' || a === b;
}

function clashes(b: { hostIP: string; hostPort: number; protocol: Protocol }, taken: readonly PortBinding[]): boolean {
  return taken.some((t) => t.hostPort === b.hostPort && t.protocol === b.protocol && sameAddress(t.hostIP, b.hostIP));
}

/** Whether a host process could bind the port right now (true for sctp, which Node cannot probe). */
export function canBind(hostIP: string, port: number, protocol: Protocol): Promise<boolean> {
  const host = hostIP || '0.0.0.0';
  if (protocol === 'udp') {
    return new Promise((resolve) => {
      const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      s.once('error', () => resolve(false));
      s.bind({ address: host, port, exclusive: true }, () => s.close(() => resolve(true)));
    });
  }
  if (protocol === 'sctp') return Promise.resolve(true);
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export function ephemeralRange(): [number, number] {
  try {
    const [a, b] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (a && b && a <= b) return [a, b];
  } catch {
    // fall through to Linux's default
  }
  return [32768, 60999];
}

export interface AllocOptions {
  /** Ports already published by other containers. */
  taken: readonly PortBinding[];
  /** Where free ports come from (default: the ephemeral range). */
  range?: [number, number];
  probe?: (hostIP: string, port: number, protocol: Protocol) => Promise<boolean>;
}

function inUse(hostIP: string, port: number, protocol: Protocol): AlreadyExistsError {
  return new AlreadyExistsError(`Bind for ${hostIP || '0.0.0.0'}:${port}/${protocol} failed: port is already allocated`);
}

export async function allocatePorts(specs: readonly PortSpec[], opts: AllocOptions): Promise<PortBinding[]> {
  const probe = opts.probe ?? canBind;
  const out: PortBinding[] = [];
  const taken = () => [...opts.taken, ...out];
  for (const s of specs) {
    if (s.hostIP.includes(':')) throw new InvalidArgumentError(`cannot publish on IPv6 address ${s.hostIP}: berth networks are IPv4 only`);
    const ok = async (port: number) => !clashes({ hostIP: s.hostIP, hostPort: port, protocol: s.protocol }, taken()) && (await probe(s.hostIP, port, s.protocol));
    let port = 0;
    if (s.hostPort && !s.hostPortEnd) {
      if (!(await ok(s.hostPort))) throw inUse(s.hostIP, s.hostPort, s.protocol);
      port = s.hostPort;
    } else {
      const [lo, hi] = s.hostPort ? [s.hostPort, s.hostPortEnd!] : (opts.range ?? ephemeralRange());
      // random start so concurrent engines on other roots rarely race for the same port
      const span = hi - lo + 1;
      const start = s.hostPort ? 0 : Math.floor(Math.random() * span);
      for (let i = 0; i < span && !port; i++) {
        const cand = lo + ((start + i) % span);
        if (await ok(cand)) port = cand;
      }
      if (!port) throw new AlreadyExistsError(`no free host port in ${lo}-${hi} for ${s.containerPort}/${s.protocol}`);
    }
    out.push({ hostIP: s.hostIP, hostPort: port, containerPort: s.containerPort, protocol: s.protocol });
  }
  return out;
}
