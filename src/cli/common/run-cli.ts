/**
 * Shared last-resort handling for both CLIs: every failure becomes one line on stderr and an
 * exit status; a stack trace is printed only with BERTH_DEBUG=1.
 */
import { BerthError, describeError, type ErrorCode } from '../../common/errors.ts';

/** Docker's convention: 125 for errors of the engine itself, 126/127 when the command cannot run. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof BerthError) {
    const byCode: Partial<Record<ErrorCode, number>> = { 'exec-failed': 126 };
    if (err.code === 'exec-failed' && (err as { errno?: string }).errno === 'ENOENT') return 127;
    return byCode[err.code] ?? 125;
  }
  return 125;
}

export function reportError(prog: string, err: unknown): number {
  process.stderr.write(`${prog}: ${describeError(err)}\n`);
  if (process.env.BERTH_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  return exitCodeFor(err);
}
