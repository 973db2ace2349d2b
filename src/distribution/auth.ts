/**
 * Authentication against one registry endpoint, driven by its 401 answers (no /v2/ ping first, so
 * an anonymous pull costs no extra round trip):
 *   - `Basic`: the stored credentials, sent on every later request to that endpoint;
 *   - `Bearer` (Docker's token flow): GET <realm>?service=…&scope=… (with Basic credentials when
 *     we have them), then the token on every request needing that scope. Tokens are cached per
 *     realm, service and scope set until shortly before they expire, and concurrent requests
 *     share one token fetch.
 */
import type { Credentials } from './authfile.ts';
import { parseChallenges, type Challenge } from './challenge.ts';
import { UnauthorizedError, parseErrorBody } from './errors.ts';
import { readText, type Http } from './http.ts';

interface CachedToken {
  value: string;
  expires: number;
}

/** A scope of Docker's token spec: `repository:<path>:pull,push`. */
export function repositoryScope(path: string, actions: string[]): string {
  return `repository:${path}:${actions.join(',')}`;
}

export class Authenticator {
  readonly host: string;
  readonly credentials: Credentials | undefined;
  private readonly http: Http;
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(host: string, http: Http, credentials: Credentials | undefined) {
    this.host = host;
    this.http = http;
    this.credentials = credentials;
  }

  private basic(): string | undefined {
    const c = this.credentials;
    return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
  }

  private key(scopes: string[]): string {
    const p = this.challenge?.params ?? {};
    return `${p.realm}|${p.service ?? ''}|${[...scopes].sort().join(' ')}`;
  }

  /** The Authorization header to send now, from what earlier challenges taught us. */
  current(scopes: string[]): string | undefined {
    if (!this.challenge) return undefined;
    if (this.challenge.scheme === 'basic') return this.basic();
    const t = this.tokens.get(this.key(scopes));
    return t && t.expires > Date.now() ? `Bearer ${t.value}` : undefined;
  }

  /**
   * Called with a 401's WWW-Authenticate header: returns the header to retry with, or throws
   * UnauthorizedError when there is no way to satisfy the registry.
   */
  async respond(wwwAuthenticate: string | string[] | undefined, scopes: string[]): Promise<string> {
    const all = parseChallenges(wwwAuthenticate);
    const bearer = all.find((c) => c.scheme === 'bearer' && c.params.realm);
    const basic = all.find((c) => c.scheme === 'basic');
    if (bearer) {
      this.challenge = bearer;
      const wanted = [...new Set([...scopes, ...(bearer.params.scope ? bearer.params.scope.split(' ') : [])])];
      // Always a fresh token here: a 401 means what we sent (if anything) is not good enough.
      // Concurrent 401s for the same scopes share one fetch.
      const key = this.key(scopes);
      let p = this.pending.get(key);
      if (!p) {
        p = this.fetchToken(bearer, wanted, key).finally(() => this.pending.delete(key));
        this.pending.set(key, p);
      }
      return `Bearer ${await p}`;
    }
    if (basic) {
      this.challenge = basic;
      const h = this.basic();
      if (!h) throw new UnauthorizedError(`unauthorized: authentication required for ${this.host}; run 'berth login ${this.host}'`);
      return h;
    }
    throw new UnauthorizedError(`unauthorized: ${this.host} asked for an unsupported authentication scheme`);
  }

  private async fetchToken(c: Challenge, scopes: string[], cacheKey: string): Promise<string> {
    const url = new URL(c.params.realm!);
    if (!/^https?:$/.test(url.protocol)) throw new UnauthorizedError(`unauthorized: token realm ${c.params.realm} is not an http(s) URL`);
    if (c.params.service) url.searchParams.set('service', c.params.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { accept: 'application/json' };
    const b = this.basic();
    if (b) headers.authorization = b;
    const res = await this.http.send({ method: 'GET', url: url.toString(), headers }, url.host);
    const text = await readText(res, 1 << 20);
    if (res.status === 401 || res.status === 403) {
      const detail = parseErrorBody(text)?.message ?? (this.credentials ? 'incorrect username or password' : 'authentication required');
      throw new UnauthorizedError(`unauthorized: ${detail}`, res.status);
    }
    if (res.status !== 200) throw new UnauthorizedError(`unauthorized: token server ${url.host} answered ${res.status}`, res.status);
    let j: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      j = JSON.parse(text) as typeof j;
    } catch {
      throw new UnauthorizedError(`unauthorized: token server ${url.host} sent no JSON`);
    }
    const token = typeof j.token === 'string' && j.token ? j.token : typeof j.access_token === 'string' ? j.access_token : '';
    if (!token) throw new UnauthorizedError(`unauthorized: token server ${url.host} sent no token`);
    // The spec's default lifetime is 60 s; renew 10 s early so a request never carries a stale token.
    const life = typeof j.expires_in === 'number' && j.expires_in > 0 ? j.expires_in : 60;
    const issued = typeof j.issued_at === 'string' && !Number.isNaN(Date.parse(j.issued_at)) ? Math.min(Date.parse(j.issued_at), Date.now()) : Date.now();
    this.tokens.set(cacheKey, { value: token, expires: issued + Math.max(life - 10, life / 2) * 1000 });
    return token;
  }
}
