/**
 * File access for cgroupfs. Control files must be written with a single write(2) and without
 * O_CREAT (a missing file means "this kernel/controller does not support it", never "create it"),
 * and every failure must name the file and the value so a user can tell which limit was refused.
 */
import { closeSync, existsSync, openSync, readFileSync, writeSync, constants as C } from 'node:fs';
import { join } from 'node:path';
import { InvalidConfigError, SystemError } from '../common/errors.ts';

/** The errno code of a Node fs error ('ENOENT', 'EINVAL', ...), or undefined for anything else. */
export function errnoOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Writes `value` to `dir/file` with exactly one write(2); throws the raw Node error so callers
 * that must react to a specific errno (EINVAL ordering retries, ENOENT "unsupported") can.
 */
export function rawWrite(dir: string, file: string, value: string): void {
  const fd = openSync(join(dir, file), C.O_WRONLY | C.O_TRUNC);
  try {
    writeSync(fd, value);
  } finally {
    closeSync(fd);
  }
}

/** Turns a failed control-file write into the typed, one-line error the CLIs print. */
export function writeError(dir: string, file: string, value: string, err: unknown): Error {
  const code = errnoOf(err);
  const where = join(dir, file);
  const shown = JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  switch (code) {
    case 'ENOENT':
      if (!existsSync(dir)) return new SystemError(`cgroup ${dir} does not exist (was it created?)`, { cause: err });
      return new InvalidConfigError(`cannot write ${shown} to ${where}: the file does not exist (controller or feature not available)`);
    case 'EINVAL':
    case 'ERANGE':
    case 'EOVERFLOW':
      return new InvalidConfigError(`cannot write ${shown} to ${where}: the kernel rejected the value (${code})`);
    default:
      return new SystemError(`cannot write ${shown} to ${where}: ${code ?? String(err)}`, { cause: err });
  }
}

/** Writes a control file, throwing InvalidConfigError/SystemError that name the file and value. */
export function writeValue(dir: string, file: string, value: string): void {
  try {
    rawWrite(dir, file, value);
  } catch (err) {
    throw writeError(dir, file, value, err);
  }
}

/** Reads a control file, trimmed; undefined when it does not exist. */
export function readOptional(dir: string, file: string): string | undefined {
  try {
    return readFileSync(join(dir, file), 'utf8').trim();
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw new SystemError(`cannot read ${join(dir, file)}: ${errnoOf(err) ?? String(err)}`, { cause: err });
  }
}

/** Reads a control file that must exist. */
export function readValue(dir: string, file: string): string {
  const v = readOptional(dir, file);
  if (v === undefined) throw new SystemError(`cannot read ${join(dir, file)}: ENOENT`);
  return v;
}

/** True when the control file exists (the kernel only creates files for features it has). */
export function hasFile(dir: string, file: string): boolean {
  return existsSync(join(dir, file));
}

/** Parses "key value" lines (memory.stat, cpu.stat, memory.events, ...) into numbers. */
export function parseKeyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** Parses a single-number file; "max" (and v1's near-2^63 "unlimited") become null. */
export function parseLimit(text: string | undefined): number | null {
  if (text === undefined || text === 'max' || text === '') return null;
  const n = Number(text);
  if (!Number.isFinite(n) || n >= 2 ** 62) return null;
  return n;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread for `ms`: the manager API is synchronous and cgroup state settles in ms. */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
