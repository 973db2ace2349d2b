/**
 * The typed library API: `import { Berth } from 'berth'`. The CLI is a thin layer over the same
 * engine. A container's handle says what it can do now: a `CreatedContainer` can be started, a
 * `RunningContainer` stopped, exec'd into or waited for, an `ExitedContainer` has an exit code.
 */
import { BadStateError } from '../common/errors.ts';
import { createContainer } from '../engine/create.ts';
import { Engine } from '../engine/engine.ts';
import { execInContainer, type ExecOptions } from '../engine/exec.ts';
import { afterExit, killContainer, removeContainer, stopContainer, waitContainer } from '../engine/lifecycle.ts';
import { streamLogs, type LogEntry, type LogOptions } from '../engine/logs.ts';
import { statsSample, type StatsSample } from '../engine/misc.ts';
import type { CreateOptions } from '../engine/options.ts';
import type { ContainerRecord } from '../engine/record.ts';
import { startContainer, waitAttached } from '../engine/start.ts';
import { containerState, type ContainerState } from '../engine/state.ts';
import { inspectContainer, listContainers, type ContainerInspect, type PsEntry } from '../engine/views.ts';

export type { CreateOptions, ContainerInspect, ContainerState, ExecOptions, LogEntry, LogOptions, PsEntry, StatsSample };

export interface RunOutput {
  id: string;
  exitCode: number;
  oomKilled: boolean;
  stdout: string;
  stderr: string;
}

abstract class ContainerHandle {
  protected readonly engine: Engine;
  readonly id: string;
  readonly name: string;
  constructor(engine: Engine, rec: ContainerRecord) {
    this.engine = engine;
    this.id = rec.Id;
    this.name = rec.Name.replace(/^\//, '');
  }
  protected rec(): ContainerRecord {
    return this.engine.records.resolve(this.id);
  }
  state(): ContainerState {
    return containerState(this.engine, this.rec());
  }
  inspect(): ContainerInspect {
    return inspectContainer(this.engine, this.rec());
  }
  /** The log so far (or, with `follow`, until the container exits). */
  async logs(opts: LogOptions = {}): Promise<LogEntry[]> {
    const out: LogEntry[] = [];
    await streamLogs(this.engine, this.rec(), opts, (e) => out.push(e));
    return out;
  }
  async remove(opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    await removeContainer(this.engine, this.rec(), opts);
  }
}

export class CreatedContainer extends ContainerHandle {
  readonly kind = 'created';
  async start(): Promise<RunningContainer> {
    const started = await startContainer(this.engine, this.rec(), { attach: false, stdin: false });
    started?.session.detach();
    return new RunningContainer(this.engine, this.rec());
  }
}

export class RunningContainer extends ContainerHandle {
  readonly kind = 'running';
  async stop(timeoutSec?: number): Promise<ExitedContainer> {
    await stopContainer(this.engine, this.rec(), timeoutSec);
    return new ExitedContainer(this.engine, this.rec());
  }
  async kill(signal = 'SIGKILL'): Promise<void> {
    await killContainer(this.engine, this.rec(), signal);
  }
  /** Runs a process inside; resolves to its exit status. */
  async exec(cmd: string[], opts: Omit<ExecOptions, 'cmd'> = {}): Promise<number> {
    return execInContainer(this.engine, this.rec(), { ...opts, cmd });
  }
  async wait(): Promise<ExitedContainer> {
    await waitContainer(this.engine, this.rec());
    await afterExit(this.engine, this.id);
    return new ExitedContainer(this.engine, this.rec());
  }
  stats(intervalMs?: number): Promise<StatsSample> {
    return statsSample(this.engine, this.rec(), intervalMs);
  }
}

export class ExitedContainer extends ContainerHandle {
  readonly kind = 'exited';
  get exitCode(): number {
    return this.state().ExitCode;
  }
  get oomKilled(): boolean {
    return this.state().OOMKilled;
  }
  /** Starts it again (Docker's `start` of a stopped container). */
  async start(): Promise<RunningContainer> {
    return new CreatedContainer(this.engine, this.rec()).start();
  }
}

export type AnyContainer = CreatedContainer | RunningContainer | ExitedContainer;

export class Berth {
  readonly engine: Engine;
  /** root: the engine's state directory (default BERTH_ROOT or /var/lib/berth). */
  constructor(opts: { root?: string } = {}) {
    this.engine = new Engine(opts.root ?? process.env.BERTH_ROOT ?? '/var/lib/berth');
  }

  async create(opts: CreateOptions): Promise<CreatedContainer> {
    return new CreatedContainer(this.engine, await createContainer(this.engine, opts));
  }

  /** Like `berth run -d`: resolves once the process runs. */
  async runDetached(opts: CreateOptions): Promise<RunningContainer> {
    return (await this.create(opts)).start();
  }

  /**
   * Like `berth run` without -d: resolves when the process has exited, with its status and
   * output (read from the container's log). With `autoRemove` nothing is left afterwards.
   */
  async run(opts: CreateOptions): Promise<RunOutput> {
    const rec = await createContainer(this.engine, opts);
    let code: number;
    try {
      const started = await startContainer(this.engine, rec, { attach: false, stdin: false });
      if (!started) throw new BadStateError(`container ${rec.Id} did not start`);
      code = await waitAttached(started);
    } catch (err) {
      if (opts.autoRemove) await this.engine.destroy(rec).catch(() => {});
      throw err;
    }
    const out: RunOutput = { id: rec.Id, exitCode: code, oomKilled: false, stdout: '', stderr: '' };
    await streamLogs(this.engine, rec, {}, (e) => (out[e.stream] += e.log));
    out.oomKilled = containerState(this.engine, rec).OOMKilled;
    await afterExit(this.engine, rec.Id);
    return out;
  }

  /** A handle for an existing container (by id, id prefix or name), typed by its state now. */
  container(ref: string): AnyContainer {
    const rec = this.engine.records.resolve(ref);
    const st = containerState(this.engine, rec);
    if (st.Running) return new RunningContainer(this.engine, rec);
    if (st.Status === 'created') return new CreatedContainer(this.engine, rec);
    return new ExitedContainer(this.engine, rec);
  }

  list(opts: { all?: boolean; filters?: string[] } = {}): PsEntry[] {
    return listContainers(this.engine, opts);
  }
}
