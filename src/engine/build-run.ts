/**
 * One command in a throwaway container of an image, for `berth build`'s RUN: a real engine
 * container (record, lease, overlay root, the default capabilities and seccomp profile, network
 * `none` unless asked), run in the foreground without a monitor: the build is the only one who
 * waits for it, and nothing must outlive the step. The caller gets the container's overlay paths
 * back, turns its upper directory into a layer, then calls `remove()`.
 */
import { randomBytes } from 'node:crypto';
import { run } from '../runtime/run.ts';
import type { PreparedRootfs } from '../store/rootfs.ts';
import { createContainer } from './create.ts';
import type { Engine } from './engine.ts';

type Stdio = 'inherit' | 'ignore' | number;

export interface ImageCommand {
  /** Image ID (or reference) to run. */
  image: string;
  /** The full argv; the image's Entrypoint is not used. */
  argv: string[];
  /** Added to (and overriding) the image's Env. */
  env?: string[];
  workdir?: string;
  user?: string;
  network?: 'none' | 'host';
  stdio?: [Stdio, Stdio, Stdio];
  /** Called with the container's id before it starts (Docker prints "Running in <id>"). */
  onCreated?: (id: string) => void;
}

export interface ImageCommandResult {
  exitCode: number;
  containerId: string;
  prepared: PreparedRootfs;
  /** Destinations of the mounts the runtime made (their mount points may now exist in the upper). */
  mountpoints: string[];
  /** Removes the container and its writable layer. */
  remove(): Promise<void>;
}

export async function runImageCommand(engine: Engine, c: ImageCommand): Promise<ImageCommandResult> {
  const rec = await createContainer(engine, {
    image: c.image,
    entrypoint: [],
    cmd: c.argv,
    env: c.env,
    workdir: c.workdir || undefined,
    user: c.user || undefined,
    network: c.network ?? 'none',
    name: `build_${randomBytes(6).toString('hex')}`,
  });
  const remove = () => engine.destroy(rec, { volumes: true });
  try {
    c.onCreated?.(rec.Id);
    const { spec, overlay, dir } = await engine.startInputs(rec);
    rec.StartedAt = new Date().toISOString();
    const exitCode = await run(engine.runtime, rec.Id, { bundle: dir, spec, overlay, stdio: c.stdio ?? ['ignore', 'inherit', 'inherit'] });
    return {
      exitCode,
      containerId: rec.Id,
      prepared: await engine.prepared(rec),
      mountpoints: (spec.mounts ?? []).map((m) => m.destination),
      remove,
    };
  } catch (err) {
    await remove().catch(() => {});
    throw err;
  }
}
