/**
 * `berth login` / `logout`: credentials are checked against the registry (GET /v2/, answering
 * its Basic or Bearer challenge with them) before they are written to the auth file, so a typo is
 * reported at login rather than at the next pull.
 */
import { InvalidArgumentError } from '../common/errors.ts';
import { DOCKER_HUB_API_HOST, DOCKER_HUB_DOMAIN } from '../image/reference.ts';
import { removeCredentials, storeCredentials, type Credentials } from './authfile.ts';
import { RegistryClient } from './client.ts';
import type { RetryPolicy } from './http.ts';
import type { RegistryConfig } from './registries.ts';

export interface LoginOptions {
  config: RegistryConfig;
  authFile: string;
  tlsVerify?: boolean;
  retry?: RetryPolicy;
}

/** `https://reg.example:5000/v2/` → `reg.example:5000`; Docker Hub's aliases → `docker.io`. */
export function registryDomain(server: string | undefined): string {
  if (!server) return DOCKER_HUB_DOMAIN;
  const host = server.replace(/^[a-z]+:\/\//i, '').split('/')[0]!.toLowerCase();
  if (!host || !/^[a-z0-9.[\]:-]+$/.test(host)) throw new InvalidArgumentError(`invalid registry address: ${JSON.stringify(server)}`);
  if (host === 'index.docker.io' || host === DOCKER_HUB_API_HOST) return DOCKER_HUB_DOMAIN;
  return host;
}

export async function login(server: string | undefined, creds: Credentials, opts: LoginOptions): Promise<string> {
  if (!creds.username) throw new InvalidArgumentError('username is required');
  if (!creds.password) throw new InvalidArgumentError('password is required');
  const domain = registryDomain(server);
  const client = new RegistryClient(domain, '', { ...opts, push: false, credentials: creds });
  try {
    await client.ping();
  } finally {
    await client.close();
  }
  storeCredentials(opts.authFile, domain, creds);
  return domain;
}

/** Returns false when there were no credentials for the registry. */
export function logout(server: string | undefined, authFile: string): { domain: string; removed: boolean } {
  const domain = registryDomain(server);
  return { domain, removed: removeCredentials(authFile, domain) };
}
