/**
 * `berth compare`'s measurement: probe every mode, set up those this host can run, take the
 * latency samples interleaved (run i of every mode before run i+1 of any, so load from other work
 * on a shared host falls on all modes alike), then gather each mode's facts once. A mode this
 * host cannot run is reported as unavailable with the reason, never filled in.
 */
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, SystemError } from '../common/errors.ts';
import { ChrootMode } from './chroot-mode.ts';
import { HostMode } from './host-mode.ts';
import { summarizeLatency } from './measure.ts';
import type { ModeRunner } from './mode.ts';
import { namespacesOf, startMarker } from './probe.ts';
import { ProcessMode } from './process-mode.ts';
import { MODE_ORDER, type CompareReport, type ModeName, type ModeResult } from './report.ts';
import { VmMode } from './vm-mode.ts';

export interface CompareOptions {
  root: string;
  image: string;
  runs: number;
  /** Only these modes (default: all four). */
  modes?: ModeName[];
  /** The -m of the memory-limit row, MiB. */
  limitMiB?: number;
  progress?: (line: string) => void;
  /**
   * Stops the run between two steps (a step, such as a VM boot, is never cut short: it is what
   * knows how to clean up after itself); compare then cleans up and rejects with CompareAborted.
   */
  signal?: AbortSignal;
}

export class CompareAborted extends SystemError {
  constructor() {
    super('compare interrupted; everything it had set up was removed');
    this.name = 'CompareAborted';
  }
}

function runners(o: CompareOptions): ModeRunner[] {
  const all: Record<ModeName, () => ModeRunner> = {
    chroot: () => new ChrootMode(o.root, o.image),
    process: () => new ProcessMode(o.root, o.image),
    vm: () => new VmMode(o.root, o.image),
    host: () => new HostMode(),
  };
  return MODE_ORDER.filter((m) => !o.modes || o.modes.includes(m)).map((m) => all[m]());
}

function firstLine(err: unknown): string {
  return ((err as Error)?.message ?? String(err)).split('\n')[0]!;
}

export async function compare(o: CompareOptions): Promise<CompareReport> {
  if (!Number.isInteger(o.runs) || o.runs < 1 || o.runs > 1000) throw new InvalidArgumentError('--runs must be a whole number from 1 to 1000');
  const progress = o.progress ?? (() => {});
  const limitMiB = o.limitMiB ?? 16;
  const modes = runners(o);
  const results = new Map<ModeName, ModeResult>();
  const unavailable = (r: ModeRunner, reason: string) => results.set(r.mode, { mode: r.mode, label: r.label, available: false, reason });
  const live: ModeRunner[] = [];
  const samples = new Map<ModeName, number[]>();
  const marker = startMarker();
  const step = (): void => {
    if (o.signal?.aborted) throw new CompareAborted();
  };
  try {
    for (const r of modes) {
      step();
      const why = await r.probe();
      if (why) {
        unavailable(r, why);
        continue;
      }
      try {
        await r.setup();
        live.push(r);
        samples.set(r.mode, []);
      } catch (err) {
        unavailable(r, firstLine(err));
        await r.close().catch(() => {});
      }
    }
    for (let i = 0; i < o.runs; i++) {
      for (const r of live) {
        step();
        if (results.has(r.mode)) continue; // failed on an earlier run
        progress(`${r.mode}: true, run ${i + 1}/${o.runs}`);
        try {
          samples.get(r.mode)!.push(await r.latencyOnce());
        } catch (err) {
          unavailable(r, `failed: ${firstLine(err)}`);
        }
      }
    }
    for (const r of live) {
      step();
      if (results.has(r.mode)) continue;
      progress(`${r.mode}: facts`);
      try {
        const facts = await r.facts({ pattern: marker.pattern, hostNs: namespacesOf(), limitMiB, progress });
        results.set(r.mode, { mode: r.mode, label: r.label, available: true, command: r.command, latency: summarizeLatency(samples.get(r.mode)!), ...facts });
      } catch (err) {
        unavailable(r, `failed: ${firstLine(err)}`);
      }
    }
    step();
  } finally {
    marker.stop();
    for (const r of live) await r.close().catch(() => {});
  }
  return {
    image: o.image,
    runs: o.runs,
    generatedAt: new Date().toISOString(),
    host: { kernel: os.release(), cpu: cpuModel(), cpus: os.cpus().length, loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100) },
    modes: modes.map((r) => results.get(r.mode)!),
  };
}

function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
