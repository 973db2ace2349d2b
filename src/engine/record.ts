/**
 * A container as the engine records it: Docker's field names (Config, HostConfig, Mounts), so
 * that `inspect` prints what Docker users and tools expect. The record holds only what was asked
 * for; the live state (running, exit code, OOM) is derived when read, never stored stale.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from '../common/errors.ts';
import type { EngineLayout } from './layout.ts';

export interface MountRecord {
  Type: 'bind' | 'volume' | 'tmpfs';
  Name?: string;
  Source: string;
  Destination: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** tmpfs options (size, mode) */
  Options?: string[];
}

export interface ContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  Tty: boolean;
  OpenStdin: boolean;
  Env: string[];
  Cmd: string[] | null;
  Entrypoint: string[] | null;
  Image: string;
  WorkingDir: string;
  Labels: Record<string, string>;
  StopSignal: string;
  StopTimeout?: number;
  Volumes?: Record<string, object> | null;
  ExposedPorts?: Record<string, object> | null;
}

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

export interface HostConfig {
  Binds: string[];
  NetworkMode: string;
  AutoRemove: boolean;
  Privileged: boolean;
  ReadonlyRootfs: boolean;
  CapAdd: string[];
  CapDrop: string[];
  SecurityOpt: string[];
  Tmpfs: Record<string, string>;
  Memory: number;
  MemorySwap: number;
  MemoryReservation: number;
  NanoCpus: number;
  CpuShares: number;
  CpusetCpus: string;
  PidsLimit: number | null;
  Ulimits: Ulimit[];
  Init: boolean;
  Isolation: string;
  OomKillDisable: boolean;
  /** `--isolation vm` only: the requested accelerator (kvm, tcg, auto) and guest kernel. */
  VmAccel?: string;
  VmKernel?: string;
  /** Docker's form: {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]} (as asked, before binding) */
  PortBindings?: Record<string, { HostIp: string; HostPort: string }[]>;
  PublishAllPorts?: boolean;
  Dns?: string[];
  DnsSearch?: string[];
  DnsOptions?: string[];
  ExtraHosts?: string[];
}

/** What the container asked of the network, kept to attach it again at every start. */
export interface NetworkRequest {
  aliases: string[];
  ip?: string;
  publish: string[];
}

export interface ContainerRecord {
  Id: string;
  Name: string;
  Created: string;
  /** The image ID (config digest). */
  Image: string;
  Path: string;
  Args: string[];
  Config: ContainerConfig;
  HostConfig: HostConfig;
  Mounts: MountRecord[];
  Driver: string;
  NetworkRequest?: NetworkRequest;
  /** Set by start, kept across restarts (Docker's State.StartedAt). */
  StartedAt?: string;
  /** The monitor (berth-helper) of the current run and its start time: while it lives, the exit is not yet recorded. */
  Monitor?: { Pid: number; Start: string };
  RestartCount: number;
}

function writeAtomic(file: string, text: string, durable: boolean): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export class ContainerRecords {
  readonly layout: EngineLayout;
  constructor(layout: EngineLayout) {
    this.layout = layout;
  }

  /**
   * Always atomic; durable (fsynced) when the record is new or its configuration changes. Run-time
   * bookkeeping such as StartedAt skips the fsync: losing it in a power cut only makes a
   * container look never started.
   */
  save(rec: ContainerRecord, opts: { durable?: boolean } = {}): void {
    mkdirSync(this.layout.container(rec.Id), { recursive: true, mode: 0o710 });
    writeAtomic(this.layout.record(rec.Id), JSON.stringify(rec, null, 1), opts.durable ?? true);
  }

  get(id: string): ContainerRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.layout.record(id), 'utf8')) as ContainerRecord;
    } catch {
      return undefined;
    }
  }

  ids(): string[] {
    try {
      return readdirSync(this.layout.containersDir).filter((n) => /^[a-f0-9]{64}$/.test(n));
    } catch {
      return [];
    }
  }

  list(): ContainerRecord[] {
    return this.ids()
      .map((id) => this.get(id))
      .filter((r): r is ContainerRecord => r !== undefined);
  }

  /** A name is claimed by creating names/<name> exclusively: of two racing creates one wins. */
  claimName(name: string, id: string): void {
    if (!NAME_RE.test(name)) throw new InvalidArgumentError(`invalid container name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    mkdirSync(this.layout.namesDir, { recursive: true });
    const file = this.layout.name(name);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx', 0o600);
        writeSync(fd, id);
        closeSync(fd);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const owner = readFileSync(file, 'utf8');
        // a claim whose container record never got written (a crash in create) is stale
        if (attempt === 0 && !existsSync(this.layout.record(owner)) && !existsSync(this.layout.container(owner))) {
          rmSync(file, { force: true });
          continue;
        }
        throw new AlreadyExistsError(
          `the container name "/${name}" is already in use by container "${owner}"`,
          'remove (or rename) that container to be able to reuse that name',
        );
      }
    }
  }

  releaseName(name: string, id: string): void {
    try {
      if (readFileSync(this.layout.name(name), 'utf8') === id) unlinkSync(this.layout.name(name));
    } catch {
      /* not ours or gone */
    }
  }

  /** Full id, unique id prefix, or name (with or without Docker's leading slash). */
  resolve(ref: string): ContainerRecord {
    const name = ref.startsWith('/') ? ref.slice(1) : ref;
    try {
      const id = readFileSync(this.layout.name(name), 'utf8');
      const rec = this.get(id);
      if (rec) return rec;
    } catch {
      /* not a name */
    }
    if (/^[a-f0-9]{1,64}$/.test(ref)) {
      const hits = this.ids().filter((id) => id.startsWith(ref));
      if (hits.length > 1) throw new InvalidArgumentError(`multiple containers match "${ref}"`, 'give more of the id');
      const rec = hits[0] ? this.get(hits[0]) : undefined;
      if (rec) return rec;
    }
    throw new NotFoundError(`No such container: ${ref}`);
  }

  remove(id: string): void {
    rmSync(this.layout.container(id), { recursive: true, force: true });
  }
}

export function containerDirExists(layout: EngineLayout, id: string): boolean {
  return existsSync(path.join(layout.container(id)));
}
