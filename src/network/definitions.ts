/**
 * Network definitions: validation, subnet and bridge-name allocation, and their JSON records.
 * Callers hold the state lock (see state.ts) around anything that reads, decides and writes, so two
 * concurrent `network create` never pick the same subnet or bridge.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from '../common/errors.ts';
import { writeJsonAtomic } from '../store/atomic.ts';
import { contains, defaultGateway, formatSubnet, isHostOf, overlaps, parseSubnet, type Subnet } from './ipnet.ts';
import type { NetworkLayout } from './layout.ts';
import type { NetworkRecord } from './types.ts';

export const DEFAULT_NETWORK = 'berth';
/** Mode names that are not networks; `bridge` means the default network, as in Docker. */
export const RESERVED_NAMES = ['bridge', 'host', 'none', 'default'];

export interface NetworkOptions {
  /** Name of the default network (`berth`). */
  defaultName: string;
  /** Subnet of the default network. */
  defaultSubnet: string;
  /** Pool that user networks without `--subnet` get a /24 from. */
  pool: string;
  /** Bridge devices are `<prefix>0` (default network), `<prefix>1`, ... */
  bridgePrefix: string;
}

/**
 * 10.88.0.0/16 is Podman's default and podman0 uses it whenever a Podman container runs on the same
 * host (Podman is berth's reference here), so berth takes the neighbouring /16s: the default network
 * on 10.87.0.0/16 and user networks from 10.90.0.0/16.
 */
export const DEFAULT_OPTIONS: NetworkOptions = {
  defaultName: DEFAULT_NETWORK,
  defaultSubnet: '10.87.0.0/16',
  pool: '10.90.0.0/16',
  bridgePrefix: 'berth',
};

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

export function validateName(name: string): void {
  if (!NAME_RE.test(name)) throw new InvalidArgumentError(`invalid network name "${name}"`, 'use letters, digits, "_", "." and "-", starting with a letter or digit');
  if (RESERVED_NAMES.includes(name)) throw new InvalidArgumentError(`"${name}" is a network mode, not a name you can create`);
}

export function readNetwork(layout: NetworkLayout, name: string): NetworkRecord | undefined {
  try {
    return JSON.parse(readFileSync(layout.network(name), 'utf8')) as NetworkRecord;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function listNetworks(layout: NetworkLayout): NetworkRecord[] {
  let names: string[];
  try {
    names = readdirSync(layout.networksDir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
    .map((n) => readNetwork(layout, n.slice(0, -5)))
    .filter((r): r is NetworkRecord => r !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function writeNetwork(layout: NetworkLayout, rec: NetworkRecord): void {
  mkdirSync(layout.networksDir, { recursive: true });
  writeJsonAtomic(layout.network(rec.name), rec);
}

export function deleteNetworkRecord(layout: NetworkLayout, name: string): void {
  rmSync(layout.network(name), { force: true });
}

/** Name, full ID or unique ID prefix → record, as Docker resolves network arguments. */
export function findNetwork(layout: NetworkLayout, ref: string, opts: NetworkOptions): NetworkRecord {
  const name = ref === 'bridge' || ref === 'default' ? opts.defaultName : ref;
  const exact = readNetwork(layout, name);
  if (exact) return exact;
  const all = listNetworks(layout);
  const byId = all.filter((n) => n.id === ref || (ref.length >= 3 && n.id.startsWith(ref)));
  if (byId.length === 1) return byId[0]!;
  if (byId.length > 1) throw new InvalidArgumentError(`network ID prefix "${ref}" is ambiguous`);
  throw new NotFoundError(`network ${ref} not found`);
}

/** IPv4 routes of the host (from /proc/net/route), to keep automatic subnets off them. */
export function hostRoutes(): Subnet[] {
  let text: string;
  try {
    text = readFileSync('/proc/net/route', 'utf8');
  } catch {
    return [];
  }
  const out: Subnet[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const le = (hex: string) => Buffer.from(hex, 'hex').readUInt32LE(0);
    const dest = le(f[1]!);
    const mask = le(f[7]!);
    if (mask === 0) continue; // the default route overlaps everything and says nothing
    const prefix = Math.clz32(~mask >>> 0); // contiguous mask: its leading ones
    out.push({ base: ((dest >>> 0) & mask) >>> 0, prefix });
  }
  return out;
}

function bridgeInUse(name: string, taken: Set<string>): boolean {
  return taken.has(name) || existsSync(`/sys/class/net/${name}`);
}

export interface CreateRequest {
  name: string;
  subnet?: string;
  gateway?: string;
  internal?: boolean;
  labels?: Record<string, string>;
  /** Name resolution between containers; defaults to true (false for the default network). */
  dns?: boolean;
}

/** Decides subnet, gateway and bridge for a new network; the caller writes the record. */
export function planNetwork(
  req: CreateRequest,
  existing: readonly NetworkRecord[],
  opts: NetworkOptions,
  isDefault = false,
  routes: readonly Subnet[] = hostRoutes(),
): NetworkRecord {
  if (!isDefault) validateName(req.name);
  if (existing.some((n) => n.name === req.name)) throw new AlreadyExistsError(`network with name ${req.name} already exists`);
  const used = existing.map((n) => parseSubnet(n.subnet));
  let subnet: Subnet | undefined;
  if (req.subnet) {
    const want = parseSubnet(req.subnet);
    const clash = existing.find((n) => overlaps(parseSubnet(n.subnet), want));
    // the default network yields to a host route (another engine root's default network, say)
    if (isDefault && (clash || routes.some((r) => overlaps(r, want)))) subnet = undefined;
    else if (clash) throw new InvalidArgumentError(`subnet ${req.subnet} overlaps with network ${clash.name} (${clash.subnet})`);
    else subnet = want;
  }
  if (!subnet) {
    const pool = parseSubnet(opts.pool);
    const size = 2 ** (32 - 24);
    for (let base = pool.base; contains(pool, base) && !subnet; base += size) {
      const cand = { base, prefix: 24 };
      if (!used.some((u) => overlaps(u, cand)) && !routes.some((r) => overlaps(r, cand))) subnet = cand;
    }
    if (!subnet) throw new InvalidArgumentError(`no free subnet left in ${opts.pool}`, 'pass --subnet');
  }
  const gateway = req.gateway ?? defaultGateway(subnet);
  if (!isHostOf(subnet, gateway)) throw new InvalidArgumentError(`gateway ${gateway} is not a host address of ${formatSubnet(subnet)}`);
  // bridges are host-wide: one another engine root (or a leftover) holds is never shared
  const taken = new Set(existing.map((n) => n.bridge));
  let bridge = '';
  for (let i = isDefault ? 0 : 1; ; i++) {
    bridge = `${opts.bridgePrefix}${i}`;
    if (!bridgeInUse(bridge, taken)) break;
  }
  if (bridge.length > 15) throw new InvalidArgumentError(`bridge name ${bridge} is longer than 15 characters`, 'use a shorter bridge prefix');
  return {
    name: req.name,
    id: randomBytes(32).toString('hex'),
    driver: 'bridge',
    bridge,
    subnet: formatSubnet(subnet),
    gateway,
    internal: req.internal ?? false,
    dnsEnabled: req.dns ?? !isDefault,
    labels: req.labels ?? {},
    created: new Date().toISOString(),
  };
}
