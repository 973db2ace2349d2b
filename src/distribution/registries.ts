/**
 * Where and how to reach a registry. The configuration is one JSON file (env
 * BERTH_REGISTRIES_CONFIG, default /etc/berth/registries.json; absent means defaults), using the
 * keys of Docker's daemon.json where they exist plus a per-registry section:
 *
 *   {
 *     "registry-mirrors": ["https://mirror.example"],      // Docker Hub mirrors, tried first on pull
 *     "insecure-registries": ["127.0.0.1:5000", "10.0.0.0/8"],  // plain HTTP allowed, TLS not verified
 *     "certs-dir": "/etc/berth/certs.d",
 *     "registries": { "reg.example:5443": { "mirrors": ["http://127.0.0.1:5001"], "insecure": false, "ca": "/path/ca.pem" } }
 *   }
 *
 * Per-registry TLS material follows Docker's certs.d convention: `<certs-dir>/<host[:port]>/*.crt`
 * are extra CAs, `*.cert` + `*.key` a client certificate. Mirrors only serve pulls; pushes and
 * logins always go to the registry itself.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { join } from 'node:path';
import { rootCertificates, type ConnectionOptions } from 'node:tls';
import { InvalidArgumentError } from '../common/errors.ts';
import { DOCKER_HUB_API_HOST, DOCKER_HUB_DOMAIN } from '../image/reference.ts';

export interface RegistryEntry {
  mirrors?: string[];
  insecure?: boolean;
  ca?: string | string[];
}

export interface RegistriesFile {
  'registry-mirrors'?: string[];
  'insecure-registries'?: string[];
  'certs-dir'?: string;
  registries?: Record<string, RegistryEntry>;
}

export interface TlsMaterial {
  /** Extra CA certificates (PEM), added to the system's roots. */
  ca: string[];
  cert?: string;
  key?: string;
  /** False only for insecure registries. */
  verify: boolean;
}

/** The TLS options of a connection to a registry (the HTTPS agent's and a blob download's). */
export function tlsOptions(tls: TlsMaterial): ConnectionOptions {
  return {
    ...(tls.ca.length ? { ca: [...rootCertificates, ...tls.ca] } : {}),
    ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
    rejectUnauthorized: tls.verify,
  };
}

/** One place to send requests for a registry: itself or a mirror. */
export interface Endpoint {
  /** host[:port] in URLs. */
  host: string;
  /** Schemes to try, in order: https only, or for insecure registries https (unverified) then http. */
  schemes: ('https' | 'http')[];
  tls: TlsMaterial;
  mirror: boolean;
}

export const DEFAULT_REGISTRIES_CONFIG = '/etc/berth/registries.json';
const DEFAULT_CERTS_DIRS = ['/etc/berth/certs.d', '/etc/docker/certs.d'];

export class RegistryConfig {
  readonly file: RegistriesFile;
  private readonly insecureNets = new BlockList();
  private readonly insecureHosts = new Set<string>();

  constructor(file: RegistriesFile = {}) {
    this.file = file;
    for (const e of file['insecure-registries'] ?? []) {
      const m = /^([0-9a-fA-F.:]+)\/(\d{1,3})$/.exec(e);
      const kind = m ? isIP(m[1]!) : 0;
      if (m && kind) this.insecureNets.addSubnet(m[1]!, Number(m[2]), kind === 6 ? 'ipv6' : 'ipv4');
      else this.insecureHosts.add(stripScheme(e));
    }
    for (const [host, entry] of Object.entries(file.registries ?? {})) if (entry.insecure) this.insecureHosts.add(host);
  }

  /** Reads the configuration file; a missing file is an empty configuration. */
  static load(path = process.env.BERTH_REGISTRIES_CONFIG || DEFAULT_REGISTRIES_CONFIG): RegistryConfig {
    if (!existsSync(path)) return new RegistryConfig();
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new InvalidArgumentError(`registries configuration ${path} is not valid JSON: ${(err as Error).message.split('\n')[0]}`);
    }
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidArgumentError(`registries configuration ${path} is not a JSON object`);
    return new RegistryConfig(raw as RegistriesFile);
  }

  isInsecure(host: string): boolean {
    if (this.insecureHosts.has(host)) return true;
    const ip = hostOnly(host);
    const kind = isIP(ip);
    return kind !== 0 && this.insecureNets.check(ip, kind === 6 ? 'ipv6' : 'ipv4');
  }

  /** TLS material for `host` from the certs.d directories and the per-registry `ca`. */
  tlsFor(host: string, verify: boolean): TlsMaterial {
    const tls: TlsMaterial = { ca: [], verify };
    const dirs = this.file['certs-dir'] ? [this.file['certs-dir']] : process.env.BERTH_CERTS_DIR ? [process.env.BERTH_CERTS_DIR] : DEFAULT_CERTS_DIRS;
    for (const base of dirs) {
      const dir = join(base, host);
      let names: string[];
      try {
        names = readdirSync(dir).sort();
      } catch {
        continue;
      }
      for (const n of names) {
        if (n.endsWith('.crt')) tls.ca.push(readFileSync(join(dir, n), 'utf8'));
        else if (n.endsWith('.cert') && names.includes(n.replace(/\.cert$/, '.key'))) {
          tls.cert = readFileSync(join(dir, n), 'utf8');
          tls.key = readFileSync(join(dir, n.replace(/\.cert$/, '.key')), 'utf8');
        }
      }
    }
    const extra = this.file.registries?.[host]?.ca;
    for (const p of typeof extra === 'string' ? [extra] : (extra ?? [])) tls.ca.push(readFileSync(p, 'utf8'));
    return tls;
  }

  /**
   * Endpoints for a registry domain, in the order to try them. `pull` puts mirrors first;
   * `tlsVerify: false` (the --tls-verify=false flag) makes the registry itself insecure.
   */
  endpoints(domain: string, opts: { pull: boolean; tlsVerify?: boolean }): Endpoint[] {
    const out: Endpoint[] = [];
    if (opts.pull) {
      const mirrors = [...(this.file.registries?.[domain]?.mirrors ?? []), ...(domain === DOCKER_HUB_DOMAIN ? (this.file['registry-mirrors'] ?? []) : [])];
      for (const m of mirrors) out.push(this.endpointOf(m, true, undefined));
    }
    const host = domain === DOCKER_HUB_DOMAIN ? DOCKER_HUB_API_HOST : domain;
    out.push(this.endpointOf(host, false, opts.tlsVerify === false ? false : undefined, domain));
    return out;
  }

  private endpointOf(spec: string, mirror: boolean, verifyOverride: boolean | undefined, configKey?: string): Endpoint {
    const scheme = /^(https?):\/\//.exec(spec)?.[1] as 'http' | 'https' | undefined;
    const host = stripScheme(spec);
    if (!/^[A-Za-z0-9.[\]:-]+$/.test(host)) throw new InvalidArgumentError(`invalid registry address: ${JSON.stringify(spec)}`);
    const insecure = verifyOverride === false || this.isInsecure(host) || (configKey !== undefined && this.isInsecure(configKey));
    const schemes: ('https' | 'http')[] = scheme === 'http' ? ['http'] : scheme === 'https' && !insecure ? ['https'] : insecure ? ['https', 'http'] : ['https'];
    return { host, schemes, tls: this.tlsFor(host, !insecure), mirror };
  }
}

function stripScheme(s: string): string {
  return s.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

/** `[::1]:5000` → `::1`, `127.0.0.1:5000` → `127.0.0.1`, `host` → `host`. */
function hostOnly(host: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (v6) return v6[1]!;
  return host.replace(/:\d+$/, '');
}
