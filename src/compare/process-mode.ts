/**
 * Process isolation, berth's default: namespaces + cgroups through the engine. Latency is the
 * CLI as users see it (`berth run --rm IMAGE true`: Node start, create, start, wait, remove);
 * the facts come through the library. The per-instance overhead is the container's monitor
 * (native/monitor.c), found as the parent of the container's pid.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Berth } from '../api/berth.ts';
import { berthCli } from '../engine/engine.ts';
import { FACTS_SCRIPT, compareNamespaces, hogScript, hostProcesses, parseFacts } from './measure.ts';
import { imageId } from './image-root.ts';
import { HOG_FACTOR, type FactsContext, type ModeRunner } from './mode.ts';
import { hostProcessCount, parentOf, procStatus, runOk } from './probe.ts';
import type { MemoryOverhead, ModeFacts } from './report.ts';

/** Long enough for the monitor to settle after start; the reading is idle memory, not a timing. */
const SETTLE_MS = 500;

export class ProcessMode implements ModeRunner {
  readonly mode = 'process' as const;
  readonly label = 'process (namespaces + cgroups)';
  readonly command: string;
  readonly #root: string;
  readonly #image: string;
  /** Names of the containers facts() creates, so close() can remove them after an interruption. */
  readonly #names: string[] = [];

  constructor(root: string, image: string) {
    this.#root = root;
    this.#image = image;
    this.command = `berth run --rm ${image} true`;
  }

  async probe(): Promise<string | undefined> {
    if (process.getuid?.() !== 0) return 'containers need root';
    try {
      await imageId(this.#root, this.#image);
    } catch (err) {
      return (err as Error).message;
    }
    return undefined;
  }

  async setup(): Promise<void> {}

  async latencyOnce(): Promise<number> {
    return (await runOk(berthCli(), ['--root', this.#root, 'run', '--rm', this.#image, 'true'])).ms;
  }

  /** The monitor of an idle container (`sleep`): its VmRSS now and its VmHWM since it started. */
  async #monitorMemory(b: Berth): Promise<MemoryOverhead> {
    const c = await b.runDetached({ image: this.#image, cmd: ['sleep', '600'], pull: 'never', name: this.#name('idle') });
    try {
      await sleep(SETTLE_MS);
      const pid = c.state().Pid;
      const monitor = parentOf(pid);
      const s = procStatus(monitor);
      return { idleKiB: s.rssKiB, peakKiB: s.hwmKiB, of: `monitor (pid ${monitor}, comm ${s.name}: the parent of the container's pid ${pid}; ${s.anonKiB} KiB anonymous + ${s.shmemKiB} KiB shared memory (the sealed copy of berth-helper it runs from) + ${s.fileKiB} KiB file pages)` };
    } finally {
      await c.remove({ force: true });
    }
  }

  #name(what: string): string {
    const n = `berth-compare-${what}-${randomBytes(4).toString('hex')}`;
    this.#names.push(n);
    return n;
  }

  async facts(ctx: FactsContext): Promise<ModeFacts> {
    const b = new Berth({ root: this.#root });
    const memory = await this.#monitorMemory(b);
    const r = await b.run({ image: this.#image, cmd: ['sh', '-c', FACTS_SCRIPT], env: [`BERTH_COMPARE_PATTERN=${ctx.pattern}`], autoRemove: true, pull: 'never', name: this.#name('facts') });
    const hostCount = hostProcessCount();
    const f = parseFacts(r.stdout);
    const hogMiB = ctx.limitMiB * HOG_FACTOR;
    const limit = ctx.limitMiB * 1024 * 1024;
    // --memory-swap equal to -m: no swap, so the hog meets the limit rather than the disk
    const hog = await b.run({ image: this.#image, cmd: ['sh', '-c', hogScript(hogMiB)], memory: limit, memorySwap: limit, autoRemove: true, pull: 'never', name: this.#name('hog') });
    return {
      memory,
      kernel: f.kernel,
      namespaces: compareNamespaces(f.ns, ctx.hostNs, "the container's /proc/self/ns against berth compare's own"),
      memoryLimit: {
        limitMiB: ctx.limitMiB,
        hogMiB,
        enforced: hog.exitCode !== 0,
        exitCode: hog.exitCode,
        detail: hog.oomKilled
          ? `-m ${ctx.limitMiB}m: the ${hogMiB} MiB hog was OOM-killed by the cgroup (exit ${hog.exitCode}, OOMKilled)`
          : hog.exitCode === 0
            ? `-m ${ctx.limitMiB}m: a ${hogMiB} MiB hog ran to its end`
            : `-m ${ctx.limitMiB}m: the ${hogMiB} MiB hog exited with ${hog.exitCode}`,
      },
      hostProcesses: hostProcesses(f, hostCount),
      accel: 'native',
    };
  }

  /** Removes what an interrupted facts() left (a finished run has removed its containers itself). */
  async close(): Promise<void> {
    const b = new Berth({ root: this.#root });
    for (const n of this.#names.splice(0)) {
      try {
        await b.container(n).remove({ force: true });
      } catch {
        // already gone: the normal case
      }
    }
  }
}
