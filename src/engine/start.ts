/**
 * `start`: run a created (or exited) container under a monitor that outlives us. Attached, our
 * stdio is the container's (through the monitor, which also logs); detached, only the log is.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { launch } from '../runtime/launch.ts';
import { processStartTime } from '../runtime/container-state.ts';
import { mark } from '../common/trace.ts';
import { waitRelaying, type HelperSession } from '../runtime/helper-process.ts';
import { berthCli, type Engine } from './engine.ts';
import type { ContainerRecord } from './record.ts';
import { containerState } from './state.ts';

export interface StartIO {
  /** Stream the container's output to our stdout/stderr (and a tty's input from our stdin). */
  attach: boolean;
  /** Give the container our stdin (`-i`). */
  stdin: boolean;
}

export interface Started {
  pid: number;
  /** The helper's session; for a VM container, its monitor process (src/engine/vm-start.ts). */
  session: Pick<HelperSession, 'child' | 'exit' | 'detach'>;
}

function oomFile(engine: Engine, rec: ContainerRecord, cgroupsPath: string): string | undefined {
  const cg = engine.runtime.cgroups({ cgroupsPath });
  const paths = cg.paths();
  if (cg.mode === 'v2') return paths.unified ? path.join(paths.unified, 'memory.events') : undefined;
  return paths.memory ? path.join(paths.memory, 'memory.oom_control') : undefined;
  void rec;
}

export async function startContainer(engine: Engine, rec: ContainerRecord, io: StartIO): Promise<Started | undefined> {
  if (containerState(engine, rec).Running) return undefined;
  if (rec.HostConfig.Isolation === 'vm') return (await import('./vm-start.ts')).startVmContainer(engine, rec, io);
  await engine.releaseRuntime(rec.Id); // the previous run's runtime state, if any
  rmSync(engine.layout.exit(rec.Id), { force: true });
  // the network may still be coming up: the container is created meanwhile and goes on after
  const { spec, overlay, dir, networkReady } = await engine.startInputs(rec);
  mark('specced');
  const cgroupsPath = spec.linux!.cgroupsPath!;
  const launched = launch(engine.runtime, rec.Id, {
    mode: 'detach',
    bundle: dir,
    spec,
    overlay,
    detachedHelper: true,
    stdio: io.attach ? [io.stdin ? 'inherit' : 'ignore', 'inherit', 'inherit'] : ['ignore', 'ignore', 'ignore'],
    monitor: {
      logPath: engine.layout.log(rec.Id),
      exitPath: engine.layout.exit(rec.Id),
      oomFile: oomFile(engine, rec, cgroupsPath),
      tee: io.attach,
      ptyIn: io.attach && io.stdin && rec.Config.Tty,
      exitCommand: {
        argv: [berthCli(), '--root', engine.root, 'container', 'cleanup', rec.Id],
        env: [`PATH=${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`],
      },
    },
    ...(networkReady ? { beforeGo: networkReady } : {}),
  });
  // a start that fails gives back what it took: the address, the veth, the published ports
  const { rec: rt, session } = await launched.catch(async (err: unknown) => {
    await networkReady?.catch(() => {}); // a detach must not race the attach's plugins
    await engine.detachNetwork(rec).catch(() => {});
    throw err;
  });
  rec.StartedAt = new Date().toISOString();
  const monitorPid = session.child.pid ?? 0;
  rec.Monitor = { Pid: monitorPid, Start: processStartTime(monitorPid) ?? '' };
  engine.records.save(rec, { durable: false });
  return { pid: rt.pid, session };
}

/** Waits for the monitor of an attached start, passing on the signals sent to us. */
export async function waitAttached(started: Started): Promise<number> {
  return waitRelaying(started.session.child, started.session.exit);
}
