/**
 * What berth-runc remembers of a container: one directory per container under the state root
 * (default /run/berth-runc), holding state.json and, between create and start, exec.fifo.
 * Status is never stored: it is derived from the process and the fifo, as runc does, so a
 * container whose process died is "stopped" whoever noticed it.
 */
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from '../common/errors.ts';
import type { ContainerStatus, Spec, State } from '../oci/runtime-spec.ts';
import { OCI_VERSION } from '../oci/runtime-spec.ts';

export interface ContainerRecord {
  id: string;
  bundle: string;
  rootfs: string;
  /** Host pid of the container's init, 0 until the helper reports it. */
  pid: number;
  /** Start time of that pid (field 22 of /proc/<pid>/stat): a recycled pid is not our container. */
  pidStart: string;
  created: string;
  owner: string;
  cgroupsPath: string;
  /** config.json as it was at create time: later edits of the bundle do not change a container. */
  config: Spec;
}

const ID_RE = /^[\w+.-]+$/;

export function validateId(id: string): void {
  if (!id || !ID_RE.test(id) || id === '.' || id === '..') throw new InvalidArgumentError(`invalid container id "${id}"`);
}

export class StateRoot {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  containerDir(id: string): string {
    validateId(id);
    return path.join(this.dir, id);
  }
  fifoPath(id: string): string {
    return path.join(this.containerDir(id), 'exec.fifo');
  }

  /** Claims the id: mkdir is atomic, so two concurrent creates of one id cannot both win. */
  claim(id: string): string {
    const dir = this.containerDir(id);
    mkdirSync(this.dir, { recursive: true, mode: 0o711 });
    try {
      mkdirSync(dir, { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExistsError(`container "${id}" already exists`);
      throw e;
    }
    return dir;
  }

  /**
   * Atomic (temp + rename) so a concurrent reader sees the old or the new record, never half of
   * one. Not fsynced, as runc's is not: this describes live processes, which a power loss ends
   * anyway, and what is left after one is found and removed as a stopped container.
   */
  save(rec: ContainerRecord): void {
    const dir = this.containerDir(rec.id);
    const tmp = path.join(dir, '.state.json.tmp');
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(rec));
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path.join(dir, 'state.json'));
  }

  load(id: string): ContainerRecord {
    try {
      return JSON.parse(readFileSync(path.join(this.containerDir(id), 'state.json'), 'utf8')) as ContainerRecord;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError(`container "${id}" does not exist`);
      throw e;
    }
  }

  remove(id: string): void {
    rmSync(this.containerDir(id), { recursive: true, force: true });
  }

  ids(): string[] {
    try {
      return readdirSync(this.dir).filter((n) => ID_RE.test(n)).sort();
    } catch {
      return [];
    }
  }
}

/** Start time of a pid, or undefined when it does not exist or is a zombie (it has exited). */
export function processStartTime(pid: number): string | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

export function isAlive(rec: ContainerRecord): boolean {
  return rec.pid > 0 && processStartTime(rec.pid) === rec.pidStart;
}

export function deriveStatus(root: StateRoot, rec: ContainerRecord, isFrozen: () => boolean): ContainerStatus {
  if (!rec.pid) return 'creating';
  if (!isAlive(rec)) return 'stopped';
  try {
    statSync(root.fifoPath(rec.id));
    return 'created';
  } catch {
    /* no fifo: started */
  }
  return isFrozen() ? 'paused' : 'running';
}

export function ociState(rec: ContainerRecord, status: ContainerStatus): State {
  const s: State = { ociVersion: rec.config.ociVersion ?? OCI_VERSION, id: rec.id, status, bundle: rec.bundle };
  if (status !== 'stopped' && rec.pid) s.pid = rec.pid;
  if (rec.config.annotations) s.annotations = rec.config.annotations;
  return s;
}
