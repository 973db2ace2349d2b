/**
 * The CNI exec protocol for one plugin: the runtime finds the plugin binary by its `type` in the
 * plugin directories, runs it with the CNI_* environment and the network configuration on stdin,
 * and reads a result (ADD, VERSION) or nothing (DEL, CHECK) from stdout. A plugin that fails exits
 * non-zero and prints an error object `{code, msg, details}` on stdout; berth turns that into one
 * line naming the plugin, keeping the CNI code so callers can retry code 11 ("try again later").
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { InvalidConfigError, SystemError } from '../../common/errors.ts';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

/** Debian's containernetworking-plugins install into /usr/lib/cni; upstream's tarball into /opt/cni/bin. */
export const DEFAULT_PLUGIN_DIRS: readonly string[] = ['/usr/lib/cni', '/opt/cni/bin', '/usr/libexec/cni'];

/** The error codes of the CNI specification that berth reacts to. */
export const CNI_ERR = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENV: 4,
  IO_FAILURE: 5,
  DECODE_FAILURE: 6,
  INVALID_NETWORK_CONFIG: 7,
  TRY_AGAIN_LATER: 11,
} as const;

export class CniError extends SystemError {
  /** The CNI error code (0 when the plugin printed no error object). */
  readonly cniCode: number;
  readonly plugin: string;
  readonly details: string | undefined;
  constructor(plugin: string, command: CniCommand, cniCode: number, msg: string, details?: string) {
    super(`CNI plugin ${plugin} failed (${command}): ${msg}${details ? `: ${details}` : ''}`);
    this.cniCode = cniCode;
    this.plugin = plugin;
    this.details = details;
  }
}

export interface Invocation {
  command: CniCommand;
  containerId: string;
  /** Path of the network namespace; may be empty for DEL when the namespace is already gone. */
  netns: string;
  ifName: string;
  /** CNI_ARGS pairs, e.g. [['IgnoreUnknown', '1'], ['IP', '10.90.0.5']]. */
  args?: readonly (readonly [string, string])[];
  /** The plugin's configuration, exactly as it goes on stdin. */
  config: Record<string, unknown>;
}

export interface ExecOptions {
  pluginDirs: readonly string[];
  /** Per-plugin time limit; a hung plugin must not hang `berth run` forever. */
  timeoutMs: number;
  /**
   * Runs the plugins that edit the host's iptables one at a time, host-wide (see
   * `IPTABLES_PLUGINS`); without it they run as called.
   */
  serialize?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/**
 * Plugins whose iptables edits must not overlap: run concurrently (20 containers removed at
 * once), the firewall plugin's DELs lost rules (it ignores a failed delete), leaving a container's
 * FORWARD rules behind for good.
 */
export const IPTABLES_PLUGINS: ReadonlySet<string> = new Set(['firewall', 'portmap']);

export function findPlugin(type: string, dirs: readonly string[]): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(type)) throw new InvalidConfigError(`invalid CNI plugin type "${type}"`);
  for (const dir of dirs) {
    const p = path.join(dir, type);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next directory
    }
  }
  throw new InvalidConfigError(`CNI plugin "${type}" not found in ${dirs.join(':')}`, 'install containernetworking-plugins');
}

/** Runs one plugin; resolves to its parsed stdout (undefined when it printed nothing). */
export function execPlugin(type: string, inv: Invocation, opts: ExecOptions): Promise<unknown> {
  const bin = findPlugin(type, opts.pluginDirs);
  const env: NodeJS.ProcessEnv = {
    CNI_COMMAND: inv.command,
    CNI_CONTAINERID: inv.containerId,
    CNI_NETNS: inv.netns,
    CNI_IFNAME: inv.ifName,
    CNI_ARGS: (inv.args ?? []).map(([k, v]) => `${k}=${v}`).join(';'),
    CNI_PATH: opts.pluginDirs.join(':'),
    // plugins run iptables, ip and friends by name
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  };
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {}); // a plugin may exit without reading; the exit status tells
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new CniError(type, inv.command, 0, e.message));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8').trim();
      const stderr = Buffer.concat(err).toString('utf8').trim();
      if (timedOut) return reject(new CniError(type, inv.command, 0, `timed out after ${opts.timeoutMs} ms`));
      if (code === 0) {
        if (!stdout) return resolve(undefined);
        try {
          return resolve(JSON.parse(stdout));
        } catch {
          return reject(new CniError(type, inv.command, CNI_ERR.DECODE_FAILURE, 'printed a result that is not JSON', stdout.slice(0, 200)));
        }
      }
      reject(pluginError(type, inv.command, stdout, stderr, code, signal));
    });
    child.stdin.end(JSON.stringify(inv.config));
  });
}

function pluginError(type: string, command: CniCommand, stdout: string, stderr: string, code: number | null, signal: string | null): CniError {
  try {
    const e = JSON.parse(stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    if (typeof e.msg === 'string')
      return new CniError(type, command, typeof e.code === 'number' ? e.code : 0, e.msg, typeof e.details === 'string' && e.details ? e.details : undefined);
  } catch {
    // not an error object: fall back to stderr
  }
  const how = signal ? `killed by ${signal}` : `exit status ${code}`;
  const text = (stderr || stdout).split('\n').filter(Boolean).pop();
  return new CniError(type, command, 0, text ? `${text} (${how})` : how);
}
