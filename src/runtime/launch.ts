/**
 * The shared core of `create` and `run`: claim the id, make the cgroup, start the helper,
 * and walk it through the handshake. Any failure undoes everything: no cgroup, state
 * directory or process is left behind.
 */
import { renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CgroupManager } from '../cgroups/index.ts';
import type { Spec, State } from '../oci/runtime-spec.ts';
import { loadBundle, specBundle } from './bundle.ts';
import { effectiveResources } from './devices.ts';
import { ociState, processStartTime, type ContainerRecord } from './container-state.ts';
import { defaultCgroupsPath, type RuntimeContext } from './context.ts';
import { HelperSession, type HelperOptions } from './helper-process.ts';
import { runHooks } from './hooks.ts';
import { encodePlan } from './plan-encode.ts';
import { buildInitPlan, compileSpecSeccomp, type MonitorPlan, type OverlayPlan } from './plan.ts';
import { killAndWait } from './process-wait.ts';
import { mark } from '../common/trace.ts';

export interface LaunchOptions {
  bundle?: string;
  /** create: wait on the exec fifo for `start`; run: go straight on and wait for the exit; detach: go on, don't wait. */
  mode: 'create' | 'run' | 'detach';
  /** Overrides the bundle's config.json (the engine builds the spec itself). */
  spec?: Spec;
  consoleSocket?: string;
  pidFile?: string;
  noPivot?: boolean;
  preserveFds?: number;
  /** The engine's monitor and overlay root (see plan.ts); runc-style callers leave them out. */
  monitor?: MonitorPlan;
  overlay?: OverlayPlan;
  /** The helper in its own session, so that it (the monitor) outlives us. */
  detachedHelper?: boolean;
  /** stdio of the helper (and so of the container, unless a monitor owns it). */
  stdio?: HelperOptions['stdio'];
  /**
   * Settles when the container may go on: the engine creates it while its network is still
   * being set up in the namespace it joins. A rejection undoes the launch.
   */
  beforeGo?: Promise<unknown>;
}

export interface Launched {
  rec: ContainerRecord;
  session: HelperSession;
}

export function writePidFile(file: string, pid: number): void {
  const abs = path.resolve(file);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.tmp`);
  writeFileSync(tmp, String(pid));
  renameSync(tmp, abs);
}

export async function launch(ctx: RuntimeContext, id: string, opts: LaunchOptions): Promise<Launched> {
  const { bundle, spec, rootfs } = opts.spec ? specBundle(opts.bundle ?? '.', opts.spec) : loadBundle(opts.bundle);
  ctx.root.claim(id);
  const rec: ContainerRecord = {
    id,
    bundle,
    rootfs,
    pid: 0,
    pidStart: '',
    created: new Date().toISOString(),
    owner: os.userInfo().username,
    cgroupsPath: defaultCgroupsPath(id, spec.linux?.cgroupsPath),
    config: spec,
  };
  let cg: CgroupManager | undefined;
  let session: HelperSession | undefined;
  try {
    ctx.root.save(rec);
    cg = ctx.cgroups(rec);
    cg.create();
    cg.apply(effectiveResources(spec));
    const seccomp = await compileSpecSeccomp(spec);
    const plan = buildInitPlan({
      spec,
      seccomp,
      bundle,
      wait: opts.mode === 'run',
      fifoPath: opts.mode === 'create' ? ctx.root.fifoPath(id) : undefined,
      consoleSocket: opts.consoleSocket,
      noPivot: opts.noPivot,
      preserveFds: opts.preserveFds,
      cgroup: { mode: cg.mode, paths: cg.paths() },
      monitor: opts.monitor,
      overlay: opts.overlay,
    });
    mark('plan');
    session = new HelperSession(encodePlan(plan), { preserveFds: opts.preserveFds, detached: opts.detachedHelper, stdio: opts.stdio });
    const { pid } = await session.expect('pid');
    mark('pid');
    cg.addProcess(pid);
    rec.pid = pid;
    rec.pidStart = processStartTime(pid) ?? '';
    ctx.root.save(rec);
    const creating: State = ociState(rec, 'creating');
    runHooks('prestart', spec.hooks?.prestart, creating);
    runHooks('createRuntime', spec.hooks?.createRuntime, creating);
    if (opts.beforeGo) await opts.beforeGo;
    session.go(JSON.stringify(ociState(rec, 'created')));
    await session.expect('ready');
    mark('ready');
    if (opts.pidFile) writePidFile(opts.pidFile, pid);
    return { rec, session };
  } catch (err) {
    if (session) session.child.kill('SIGKILL');
    if (rec.pid) await killAndWait(rec);
    try {
      cg?.killAll('SIGKILL');
      cg?.destroy();
    } catch {
      /* best effort: the original error is what the user needs */
    }
    ctx.root.remove(id);
    throw err;
  }
}
