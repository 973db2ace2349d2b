/**
 * Credentials in Docker's config.json format (`{"auths": {"<registry>": {"auth": base64(user:pass)}}}`),
 * so a file written by `docker login` works here and the other way round. Which file: the
 * --authfile flag, else env BERTH_AUTH_FILE, else $DOCKER_CONFIG/config.json, else
 * ~/.docker/config.json. Other keys in the file are kept untouched on write.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { InvalidArgumentError } from '../common/errors.ts';
import { writeJsonAtomic } from '../store/atomic.ts';
import { DOCKER_HUB_API_HOST, DOCKER_HUB_DOMAIN } from '../image/reference.ts';

export interface Credentials {
  username: string;
  password: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  [k: string]: unknown;
}

interface ConfigJson {
  auths?: Record<string, AuthEntry>;
  [k: string]: unknown;
}

/** The key Docker uses for Docker Hub in `auths`. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

export function authFilePath(flag?: string): string {
  if (flag) return flag;
  if (process.env.BERTH_AUTH_FILE) return process.env.BERTH_AUTH_FILE;
  if (process.env.DOCKER_CONFIG) return join(process.env.DOCKER_CONFIG, 'config.json');
  return join(homedir(), '.docker', 'config.json');
}

/** The `auths` key for a registry domain (Docker Hub has its historical URL). */
export function authKey(domain: string): string {
  return domain === DOCKER_HUB_DOMAIN || domain === DOCKER_HUB_API_HOST || domain === 'index.docker.io' ? DOCKER_HUB_AUTH_KEY : domain;
}

/** Keys that may name `domain` in a file written by some client (bare, with scheme, with path). */
function candidateKeys(domain: string): string[] {
  const key = authKey(domain);
  if (key === DOCKER_HUB_AUTH_KEY) return [key, 'index.docker.io', 'docker.io', DOCKER_HUB_API_HOST, 'https://index.docker.io/v1'];
  return [domain, `https://${domain}`, `http://${domain}`, `https://${domain}/v1/`, `https://${domain}/v2/`];
}

function read(path: string): ConfigJson {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return {};
  }
  if (text.trim() === '') return {};
  try {
    const j = JSON.parse(text) as unknown;
    if (j && typeof j === 'object' && !Array.isArray(j)) return j as ConfigJson;
  } catch {
    /* reported below */
  }
  throw new InvalidArgumentError(`auth file ${path} is not valid JSON`);
}

function decode(e: AuthEntry): Credentials | undefined {
  if (typeof e.auth === 'string' && e.auth !== '') {
    const s = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = s.indexOf(':');
    if (i > 0) return { username: s.slice(0, i), password: s.slice(i + 1) };
  }
  if (typeof e.username === 'string' && typeof e.password === 'string') return { username: e.username, password: e.password };
  return undefined;
}

export function getCredentials(path: string, domain: string): Credentials | undefined {
  const auths = read(path).auths ?? {};
  for (const k of candidateKeys(domain)) {
    const e = auths[k];
    const c = e ? decode(e) : undefined;
    if (c) return c;
  }
  return undefined;
}

export function storeCredentials(path: string, domain: string, c: Credentials): void {
  const cfg = read(path);
  const auths = { ...(cfg.auths ?? {}) };
  for (const k of candidateKeys(domain)) delete auths[k];
  auths[authKey(domain)] = { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeJsonAtomic(path, { ...cfg, auths });
}

/** Removes the registry's entry; false when there was none. */
export function removeCredentials(path: string, domain: string): boolean {
  const cfg = read(path);
  const auths = { ...(cfg.auths ?? {}) };
  let found = false;
  for (const k of candidateKeys(domain))
    if (k in auths) {
      delete auths[k];
      found = true;
    }
  if (found) writeJsonAtomic(path, { ...cfg, auths });
  return found;
}
