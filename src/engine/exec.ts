/** `exec`: another process in a running container (Docker's env, user, workdir rules). */
import { BadStateError } from '../common/errors.ts';
import type { Process } from '../oci/runtime-spec.ts';
import { HelperSession, waitRelaying } from '../runtime/helper-process.ts';
import { encodePlan } from '../runtime/plan-encode.ts';
import { buildExecPlan, compileSpecSeccomp } from '../runtime/plan.ts';
import { inspect as runtimeInspect } from '../runtime/status.ts';
import type { Engine } from './engine.ts';
import { readRootfsFile } from './image-files.ts';
import type { ContainerRecord } from './record.ts';
import { resolveUser } from './user.ts';

export interface ExecOptions {
  cmd: string[];
  env?: string[];
  workdir?: string;
  user?: string;
  tty?: boolean;
  interactive?: boolean;
  detach?: boolean;
  privileged?: boolean;
}

export async function execInContainer(engine: Engine, rec: ContainerRecord, opts: ExecOptions): Promise<number> {
  if (rec.HostConfig.Isolation === 'vm') {
    const { liveVm } = await import('./vm-state.ts');
    if (!liveVm(engine, rec.Id)) throw new BadStateError(`container ${rec.Id.slice(0, 12)} is not running`);
    return (await import('./vm-start.ts')).execInVm(engine, rec, opts);
  }
  let rt;
  try {
    rt = runtimeInspect(engine.runtime, rec.Id);
  } catch {
    rt = undefined;
  }
  if (!rt || rt.status !== 'running') throw new BadStateError(`container ${rec.Id.slice(0, 12)} is not running`);
  const spec = rt.rec.config;
  const prepared = await engine.prepared(rec);
  const user = resolveUser(opts.user ?? rec.Config.User, readRootfsFile(prepared, '/etc/passwd'), readRootfsFile(prepared, '/etc/group'));
  const base = spec.process!;
  const env = [...(base.env ?? [])];
  for (const e of opts.env ?? []) {
    const k = e.split('=', 1)[0]!;
    const i = env.findIndex((x) => x.split('=', 1)[0] === k);
    if (i >= 0) env[i] = e;
    else env.push(e);
  }
  const proc: Process = {
    ...base,
    args: opts.cmd,
    env,
    cwd: opts.workdir || base.cwd,
    user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
    terminal: !!opts.tty,
  };
  const plan = buildExecPlan({
    seccomp: await compileSpecSeccomp(spec),
    spec,
    process: proc,
    initPid: rt.rec.pid,
    wait: !opts.detach,
    monitor: opts.tty && !opts.detach ? { logPath: '', exitPath: '', tee: true, ptyIn: !!opts.interactive } : undefined,
  });
  const session = new HelperSession(encodePlan(plan), {
    stdio: opts.detach ? ['ignore', 'ignore', 'ignore'] : [opts.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'],
    detached: !!opts.detach,
  });
  try {
    const { pid } = await session.expect('pid');
    engine.runtime.cgroups(rt.rec).addProcess(pid);
    session.go('');
    await session.expect('ready');
  } catch (e) {
    session.child.kill('SIGKILL');
    throw e;
  }
  if (opts.detach) {
    session.detach();
    return 0;
  }
  return waitRelaying(session.child, session.exit, ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGWINCH']);
}
