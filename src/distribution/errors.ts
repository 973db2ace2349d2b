/**
 * Registry failures, each with the one line a user needs. The pull/push/login commands exit 1 on
 * any of them (Docker's CLI does the same for daemon-side errors), so the class mostly decides the
 * wording; the ErrorCode keeps `berth` consistent with the rest of the engine.
 */
import { BerthError } from '../common/errors.ts';

/** The registry answered, with an error we cannot work around. */
export class RegistryError extends BerthError {
  readonly status: number;
  constructor(message: string, status = 0, code: 'not-found' | 'permission-denied' | 'system' | 'invalid-argument' = 'system') {
    super(code, message);
    this.status = status;
  }
}

/** 401/403 after every way to authenticate was tried. */
export class UnauthorizedError extends RegistryError {
  constructor(message: string, status = 401) {
    super(message, status, 'permission-denied');
  }
}

/** Repository, tag or manifest does not exist. */
export class ManifestUnknownError extends RegistryError {
  constructor(message: string) {
    super(message, 404, 'not-found');
  }
}

/** No connection could be made (refused, DNS, TLS handshake), after retries. */
export class UnreachableError extends RegistryError {
  constructor(message: string) {
    super(message, 0, 'system');
  }
}

/** One `errors[0]` of an OCI distribution error body, when there is one. */
export interface RegistryErrorBody {
  code: string;
  message: string;
}

export function parseErrorBody(text: string): RegistryErrorBody | undefined {
  try {
    const j = JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] };
    const e = j.errors?.[0];
    if (e && typeof e.code === 'string') return { code: e.code, message: typeof e.message === 'string' ? e.message : e.code.toLowerCase() };
  } catch {
    /* not JSON: the caller falls back to the status line */
  }
  return undefined;
}

/**
 * A failure of the connection or the transfer, not of the HTTP exchange. Its `code` (a socket
 * error's name) is what the retry logic reads (http.ts `isNetworkError`).
 */
export function connectionError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** A connection that stayed silent for `ms`. */
export function silenceError(host: string, ms: number): Error {
  return connectionError(`no data from ${host} for ${ms / 1000} s`, 'ETIMEDOUT');
}
