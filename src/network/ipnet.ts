/**
 * IPv4 addresses and subnets as plain numbers. Networks are IPv4-only for now (see
 * docs/networking.md), so this is all the address arithmetic the library needs: parse, contain,
 * overlap, and pick the first usable host as the gateway, as Docker and Podman do.
 */
import { isIPv4 } from 'node:net';
import { InvalidArgumentError } from '../common/errors.ts';

export interface Subnet {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

export function ipToNum(ip: string): number {
  if (!isIPv4(ip)) throw new InvalidArgumentError(`invalid IPv4 address "${ip}"`);
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

export function numToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** "10.89.0.0/24" → Subnet. Host bits must be zero, as Docker requires. */
export function parseSubnet(cidr: string): Subnet {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m) throw new InvalidArgumentError(`invalid subnet "${cidr}"`, 'use CIDR notation, e.g. 10.89.0.0/24');
  const prefix = Number(m[2]);
  if (prefix > 30 || prefix < 8) throw new InvalidArgumentError(`subnet "${cidr}" must have a prefix between /8 and /30`);
  const addr = ipToNum(m[1]!);
  const base = (addr & mask(prefix)) >>> 0;
  if (base !== addr) throw new InvalidArgumentError(`invalid subnet "${cidr}": host bits are set`, `did you mean ${numToIp(base)}/${prefix}?`);
  return { base, prefix };
}

export function formatSubnet(s: Subnet): string {
  return `${numToIp(s.base)}/${s.prefix}`;
}

export function contains(s: Subnet, ip: string | number): boolean {
  const n = typeof ip === 'number' ? ip : ipToNum(ip);
  return ((n & mask(s.prefix)) >>> 0) === s.base;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/** First and last addresses a container may get (network and broadcast excluded). */
export function hostRange(s: Subnet): { first: number; last: number } {
  const size = 2 ** (32 - s.prefix);
  return { first: s.base + 1, last: s.base + size - 2 };
}

/** The conventional gateway: the first host address of the subnet. */
export function defaultGateway(s: Subnet): string {
  return numToIp(hostRange(s).first);
}

/** True when `ip` is a usable host address of `s` (not the network or broadcast address). */
export function isHostOf(s: Subnet, ip: string): boolean {
  const n = ipToNum(ip);
  const { first, last } = hostRange(s);
  return n >= first && n <= last;
}

/** Strip a "/prefix" suffix from a CNI address ("10.89.0.2/24" → "10.89.0.2"). */
export function bareIp(address: string): string {
  const i = address.indexOf('/');
  return i < 0 ? address : address.slice(0, i);
}
