/**
 * A VM container's processes and machine, from its record: the same user, environment and
 * working directory rules as process isolation (src/engine/spec.ts), and `-m`/`--cpus` as
 * guest RAM and vCPUs.
 */
import { InvalidArgumentError } from '../common/errors.ts';
import type { GuestProcess, VmOptions } from '../vm/index.ts';
import type { Engine } from './engine.ts';
import { readRootfsFile } from './image-files.ts';
import type { ContainerRecord } from './record.ts';
import { DEFAULT_PATH } from './spec.ts';
import { resolveUser } from './user.ts';

const MIB = 1024 * 1024;

function mergeEnv(base: string[], extra: string[]): string[] {
  const env = [...base];
  for (const e of extra) {
    const k = e.split('=', 1)[0]!;
    const i = env.findIndex((x) => x.split('=', 1)[0] === k);
    if (i >= 0) env[i] = e;
    else env.push(e);
  }
  return env;
}

export interface ProcessRequest {
  args: string[];
  env?: string[];
  workdir?: string;
  user?: string;
  tty?: { rows: number; cols: number };
}

/** A process of `rec` in its VM: the main one (no request fields) or an `exec`. */
export async function guestProcess(engine: Engine, rec: ContainerRecord, req: ProcessRequest): Promise<GuestProcess> {
  const prepared = await engine.prepared(rec);
  const user = resolveUser(req.user ?? rec.Config.User, readRootfsFile(prepared, '/etc/passwd'), readRootfsFile(prepared, '/etc/group'));
  const env = [...rec.Config.Env];
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH);
  if (!env.some((e) => e.startsWith('HOSTNAME='))) env.push(`HOSTNAME=${rec.Config.Hostname}`);
  if (req.tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
  const p: GuestProcess = {
    args: req.args,
    env: mergeEnv(env, req.env ?? []),
    cwd: req.workdir || rec.Config.WorkingDir || '/',
    uid: user.uid,
    gid: user.gid,
    additionalGids: user.additionalGids,
    hostname: rec.Config.Hostname,
  };
  if (req.tty) p.tty = req.tty;
  return p;
}

/** The container's command as Docker composes it: entrypoint + cmd. */
export function mainArgs(rec: ContainerRecord): string[] {
  return [rec.Path, ...rec.Args].filter((a, i) => i > 0 || a !== '');
}

/** The machine: `-m` → guest RAM in MiB (default the backend's), `--cpus` → whole vCPUs. */
export function vmMachine(rec: ContainerRecord): Pick<VmOptions, 'memoryMiB' | 'cpus' | 'accel' | 'kernel'> {
  const hc = rec.HostConfig;
  const m: Pick<VmOptions, 'memoryMiB' | 'cpus' | 'accel' | 'kernel'> = {};
  if (hc.Memory > 0) m.memoryMiB = Math.ceil(hc.Memory / MIB);
  if (hc.NanoCpus > 0) m.cpus = Math.ceil(hc.NanoCpus / 1e9);
  if (hc.VmAccel) {
    if (hc.VmAccel !== 'kvm' && hc.VmAccel !== 'tcg' && hc.VmAccel !== 'auto') throw new InvalidArgumentError(`--accel must be kvm, tcg or auto, not "${hc.VmAccel}"`);
    m.accel = hc.VmAccel;
  }
  if (hc.VmKernel) m.kernel = hc.VmKernel;
  return m;
}
