/** `exec`: a new process inside a running container's namespaces and cgroups. */
import { readFileSync, statSync } from 'node:fs';
import { BadStateError, InvalidArgumentError, InvalidConfigError } from '../common/errors.ts';
import type { NamespaceType, Process } from '../oci/runtime-spec.ts';
import type { RuntimeContext } from './context.ts';
import { HelperSession, waitRelaying } from './helper-process.ts';
import { NS_PROC_NAME } from './linux-constants.ts';
import { writePidFile } from './launch.ts';
import { encodePlan } from './plan-encode.ts';
import { buildExecPlan, compileSpecSeccomp } from './plan.ts';
import { inspect } from './status.ts';

export interface ExecOptions {
  /** A process.json (the spec's Process); otherwise the container's process with the overrides below. */
  processFile?: string;
  args?: string[];
  env?: string[];
  cwd?: string;
  user?: string;
  tty?: boolean;
  caps?: string[];
  noNewPrivs?: boolean;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
}

function parseUser(u: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(u);
  if (!m) throw new InvalidArgumentError(`--user "${u}" must be uid[:gid] in numbers`);
  return { uid: Number(m[1]), gid: Number(m[2] ?? 0) };
}

export function execProcess(base: Process | undefined, opts: ExecOptions): Process {
  if (opts.processFile) {
    try {
      return JSON.parse(readFileSync(opts.processFile, 'utf8')) as Process;
    } catch (e) {
      throw new InvalidConfigError(`cannot read process file ${opts.processFile}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  if (!opts.args?.length) throw new InvalidArgumentError('exec needs a command to run');
  const p: Process = structuredClone(base ?? { user: { uid: 0, gid: 0 }, cwd: '/' });
  p.args = opts.args;
  p.terminal = !!opts.tty;
  if (opts.env?.length) p.env = [...(p.env ?? []), ...opts.env];
  if (opts.cwd) p.cwd = opts.cwd;
  if (opts.user) p.user = { ...parseUser(opts.user) };
  if (opts.noNewPrivs) p.noNewPrivileges = true;
  if (opts.caps?.length && p.capabilities) {
    for (const set of ['bounding', 'effective', 'permitted', 'inheritable'] as const)
      p.capabilities[set] = [...new Set([...(p.capabilities[set] ?? []), ...opts.caps])];
  }
  return p;
}

function sameNamespace(initPid: number): (t: NamespaceType) => boolean {
  return (t) => {
    try {
      return statSync(`/proc/self/ns/${NS_PROC_NAME[t]}`).ino === statSync(`/proc/${initPid}/ns/${NS_PROC_NAME[t]}`).ino;
    } catch {
      return false;
    }
  };
}

/** Returns the exit status of the process, or its pid with `detach`. */
export async function exec(ctx: RuntimeContext, id: string, opts: ExecOptions): Promise<number> {
  const { rec, status } = inspect(ctx, id);
  if (status !== 'running' && status !== 'created') throw new BadStateError(`cannot exec in container "${id}": it is ${status}`);
  const proc = execProcess(rec.config.process, opts);
  const plan = buildExecPlan({
    seccomp: await compileSpecSeccomp(rec.config),
    spec: rec.config,
    process: proc,
    initPid: rec.pid,
    wait: !opts.detach,
    consoleSocket: opts.consoleSocket,
    preserveFds: opts.preserveFds,
    sameNamespace: sameNamespace(rec.pid),
  });
  const session = new HelperSession(encodePlan(plan), { preserveFds: opts.preserveFds });
  try {
    const { pid } = await session.expect('pid');
    ctx.cgroups(rec).addProcess(pid);
    session.go('');
    await session.expect('ready');
    if (opts.pidFile) writePidFile(opts.pidFile, pid);
    if (opts.detach) {
      session.detach();
      return pid;
    }
  } catch (e) {
    session.child.kill('SIGKILL');
    throw e;
  }
  return waitRelaying(session.child, session.exit);
}
