/**
 * Errors carry a stable code, a one-line message for the user and an optional hint.
 * The CLIs print `berth: <message>` (plus the hint) and map the code to an exit status;
 * nothing that reaches a user is a stack trace.
 */
export type ErrorCode =
  | 'invalid-argument' // bad flags or input from the user
  | 'invalid-config' // a bundle or config.json that cannot be honoured
  | 'not-found' // container, image, file missing
  | 'already-exists'
  | 'bad-state' // e.g. "container is running, stop it first"
  | 'permission-denied'
  | 'exec-failed' // the process could not be started (argv missing, not executable)
  | 'system' // the kernel refused something
  | 'internal';

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BerthError';
    this.code = code;
    this.hint = options.hint;
  }
}

export class InvalidArgumentError extends BerthError {
  constructor(message: string, hint?: string) {
    super('invalid-argument', message, { hint });
  }
}
export class InvalidConfigError extends BerthError {
  constructor(message: string, hint?: string) {
    super('invalid-config', message, { hint });
  }
}
export class NotFoundError extends BerthError {
  constructor(message: string, hint?: string) {
    super('not-found', message, { hint });
  }
}
export class AlreadyExistsError extends BerthError {
  constructor(message: string, hint?: string) {
    super('already-exists', message, { hint });
  }
}
export class BadStateError extends BerthError {
  constructor(message: string, hint?: string) {
    super('bad-state', message, { hint });
  }
}
export class ExecFailedError extends BerthError {
  /** errno name from the helper (ENOENT, EACCES, ...), used for Docker's 126/127 mapping. */
  readonly errno: string | undefined;
  constructor(message: string, errno?: string) {
    super('exec-failed', message);
    this.errno = errno;
  }
}
export class SystemError extends BerthError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('system', message, options);
  }
}

/** A one-line description of any thrown value, for the CLIs' last-resort handler. */
export function describeError(err: unknown): string {
  if (err instanceof BerthError) return err.hint ? `${err.message} (${err.hint})` : err.message;
  if (err instanceof Error) {
    const e = err as NodeJS.ErrnoException;
    if (e.code && e.path) return `${e.code}: ${e.syscall ?? 'operation'} ${e.path}`;
    return err.message.split('\n')[0] ?? String(err);
  }
  return String(err);
}
