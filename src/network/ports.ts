/**
 * `-p/--publish` and `-P/--publish-all` in Docker's syntax, and the `berth port` output. Pure: the
 * engine parses flags with this before anything is created, so a typo fails fast with one line.
 *
 *   -p 80                     container 80, a free host port on every address
 *   -p 8080:80                host 8080 → container 80
 *   -p 127.0.0.1:8080:80      only on 127.0.0.1
 *   -p 127.0.0.1::80          a free host port on 127.0.0.1
 *   -p 8000-8002:80-82        pairwise ranges of equal length
 *   -p 8000-8010:80           one free host port out of the range
 *   -p 53:53/udp              protocol tcp (default), udp or sctp
 *   -p [::1]:8080:80          IPv6 host addresses in brackets
 */
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../common/errors.ts';
import type { PortBinding, PortSpec, Protocol } from './types.ts';

const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp', 'sctp'];

function parsePort(s: string, what: string, spec: string): number {
  if (!/^\d{1,5}$/.test(s)) throw new InvalidArgumentError(`invalid ${what} "${s}" in "${spec}"`);
  const n = Number(s);
  if (n < 1 || n > 65535) throw new InvalidArgumentError(`invalid ${what} ${n} in "${spec}": ports are 1-65535`);
  return n;
}

function parseRange(s: string, what: string, spec: string): [number, number] {
  const [a, b, ...rest] = s.split('-');
  if (rest.length || a === undefined) throw new InvalidArgumentError(`invalid ${what} range "${s}" in "${spec}"`);
  const start = parsePort(a, what, spec);
  const end = b === undefined ? start : parsePort(b, what, spec);
  if (end < start) throw new InvalidArgumentError(`invalid ${what} range "${s}" in "${spec}": end is before start`);
  return [start, end];
}

function parseProtocol(s: string, spec: string): Protocol {
  const p = s.toLowerCase() as Protocol;
  if (!PROTOCOLS.includes(p)) throw new InvalidArgumentError(`invalid protocol "${s}" in "${spec}"`, 'use tcp, udp or sctp');
  return p;
}

/** Splits "[ip:][hostPort:]containerPort" honouring an IPv6 address in brackets. */
function splitFields(s: string, spec: string): { ip: string; host: string; container: string } {
  let ip = '';
  let rest = s;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') throw new InvalidArgumentError(`invalid address in "${spec}"`);
    ip = rest.slice(1, close);
    rest = rest.slice(close + 2);
    const parts = rest.split(':');
    if (parts.length !== 2) throw new InvalidArgumentError(`invalid port specification "${spec}"`);
    return { ip, host: parts[0]!, container: parts[1]! };
  }
  const parts = rest.split(':');
  if (parts.length === 1) return { ip: '', host: '', container: parts[0]! };
  if (parts.length === 2) return { ip: '', host: parts[0]!, container: parts[1]! };
  if (parts.length === 3) return { ip: parts[0]!, host: parts[1]!, container: parts[2]! };
  throw new InvalidArgumentError(`invalid port specification "${spec}"`, 'use [ip:][hostPort:]containerPort[/protocol]; IPv6 addresses go in brackets');
}

/** One `-p` value → one PortSpec per container port. */
export function parsePublish(spec: string): PortSpec[] {
  const slash = spec.lastIndexOf('/');
  const hasProto = slash > spec.lastIndexOf(']') && slash >= 0;
  const protocol = hasProto ? parseProtocol(spec.slice(slash + 1), spec) : 'tcp';
  const body = hasProto ? spec.slice(0, slash) : spec;
  if (!body) throw new InvalidArgumentError(`invalid port specification "${spec}"`);
  const f = splitFields(body, spec);
  let hostIP = f.ip;
  if (hostIP === '0.0.0.0' || hostIP === '::') hostIP = hostIP === '::' ? '::' : '';
  if (hostIP && !isIP(hostIP)) throw new InvalidArgumentError(`invalid host address "${hostIP}" in "${spec}"`);
  const [cStart, cEnd] = parseRange(f.container, 'container port', spec);
  const count = cEnd - cStart + 1;
  const out: PortSpec[] = [];
  if (!f.host) {
    for (let p = cStart; p <= cEnd; p++) out.push({ hostIP, hostPort: 0, containerPort: p, protocol });
    return out;
  }
  const [hStart, hEnd] = parseRange(f.host, 'host port', spec);
  const hCount = hEnd - hStart + 1;
  if (count === 1 && hCount > 1) return [{ hostIP, hostPort: hStart, hostPortEnd: hEnd, containerPort: cStart, protocol }];
  if (hCount !== count)
    throw new InvalidArgumentError(`invalid port range in "${spec}": ${hCount} host ports for ${count} container ports`);
  for (let i = 0; i < count; i++) out.push({ hostIP, hostPort: hStart + i, containerPort: cStart + i, protocol });
  return out;
}

/** All `-p` values of a command line, with duplicates of the same host endpoint refused. */
export function parsePublishList(specs: readonly string[]): PortSpec[] {
  const all = specs.flatMap(parsePublish);
  const seen = new Set<string>();
  for (const p of all) {
    if (!p.hostPort || p.hostPortEnd) continue;
    const key = `${p.hostIP}|${p.hostPort}|${p.protocol}`;
    if (seen.has(key)) throw new InvalidArgumentError(`host port ${p.hostPort}/${p.protocol} is published twice`);
    seen.add(key);
  }
  return all;
}

/**
 * `-P`: every port the image exposes (`Config.ExposedPorts` keys such as "80/tcp" or "53/udp")
 * gets a free host port, unless an explicit `-p` already publishes it.
 */
export function publishAll(exposed: Record<string, unknown> | readonly string[] | undefined, explicit: readonly PortSpec[] = []): PortSpec[] {
  const keys = Array.isArray(exposed) ? exposed : Object.keys(exposed ?? {});
  const out: PortSpec[] = [];
  for (const key of keys as string[]) {
    const [port = '', proto = 'tcp'] = key.split('/');
    const protocol = parseProtocol(proto, key);
    const [start, end] = parseRange(port, 'exposed port', key);
    for (let p = start; p <= end; p++) {
      if (explicit.some((e) => e.containerPort === p && e.protocol === protocol)) continue;
      out.push({ hostIP: '', hostPort: 0, containerPort: p, protocol });
    }
  }
  return out.sort((a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol));
}

function hostAddr(b: PortBinding): string {
  const ip = b.hostIP || '0.0.0.0';
  return ip.includes(':') ? `[${ip}]:${b.hostPort}` : `${ip}:${b.hostPort}`;
}

/**
 * `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`, in Docker's format: "80/tcp -> 0.0.0.0:8080" per
 * binding, or only "0.0.0.0:8080" when a private port is given.
 */
export function formatPorts(bindings: readonly PortBinding[], filter?: string): string[] {
  const sorted = [...bindings].sort((a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol) || a.hostPort - b.hostPort);
  if (filter === undefined) return sorted.map((b) => `${b.containerPort}/${b.protocol} -> ${hostAddr(b)}`);
  const [port = '', proto = 'tcp'] = filter.split('/');
  const n = parsePort(port, 'port', filter);
  const protocol = parseProtocol(proto, filter);
  return sorted.filter((b) => b.containerPort === n && b.protocol === protocol).map(hostAddr);
}
