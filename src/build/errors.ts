/**
 * Build errors: one line that names the Dockerfile line, so a user can jump to it
 * (`Dockerfile:7: RUN failed: … returned a non-zero code: 1`).
 */
import { BerthError } from '../common/errors.ts';

export class BuildError extends BerthError {
  /** 1-based line of the Dockerfile, once known. */
  line: number | undefined;
  constructor(message: string, line?: number) {
    super('invalid-argument', message);
    this.name = 'BuildError';
    this.line = line;
  }
}

/** Prefixes `err` with `file:line` (keeping BerthErrors' codes); other errors become BuildErrors. */
export function atLine(err: unknown, file: string, line: number): BerthError {
  if (err instanceof BuildError && err.line !== undefined) return err;
  const msg = err instanceof BerthError ? err.message : err instanceof Error ? err.message.split('\n')[0]! : String(err);
  const e = new BuildError(`${file}:${line}: ${msg}`, line);
  return e;
}
