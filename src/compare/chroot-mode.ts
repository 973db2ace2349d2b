/**
 * chroot, the seed's starting point: the image's root on disk and `chroot <dir> true`. No
 * namespaces, no cgroup: the process shares everything with the host but its view of `/`. Its
 * memory "limit" is shown not enforced with a bounded hog (three times the limit the other modes
 * get, which ends by itself), never an unbounded one.
 */
import { existsSync } from 'node:fs';
import { FACTS_SCRIPT, hogScript, parseFacts, unconfinedFacts } from './measure.ts';
import { openImageRoot, imageId, type ImageRoot } from './image-root.ts';
import { HOG_FACTOR, type FactsContext, type ModeRunner } from './mode.ts';
import { hostProcessCount, run, runOk, workloadEnv } from './probe.ts';
import type { ModeFacts } from './report.ts';

const CHROOT = ['/usr/sbin/chroot', '/usr/bin/chroot'];

export class ChrootMode implements ModeRunner {
  readonly mode = 'chroot' as const;
  readonly label = 'chroot';
  readonly command: string;
  readonly #root: string;
  readonly #image: string;
  #chroot = '';
  #fs: ImageRoot | undefined;

  constructor(root: string, image: string) {
    this.#root = root;
    this.#image = image;
    this.command = `chroot <${image} root> true`;
  }

  async probe(): Promise<string | undefined> {
    this.#chroot = CHROOT.find((p) => existsSync(p)) ?? '';
    if (!this.#chroot) return 'no chroot binary (coreutils)';
    if (process.getuid?.() !== 0) return 'chroot and mounting the image need root';
    try {
      await imageId(this.#root, this.#image);
    } catch (err) {
      return (err as Error).message;
    }
    return undefined;
  }

  async setup(): Promise<void> {
    this.#fs = await openImageRoot(this.#root, this.#image, 'chroot');
  }

  async latencyOnce(): Promise<number> {
    return (await runOk(this.#chroot, [this.#fs!.dir, 'true'], { env: workloadEnv('') })).ms;
  }

  async facts(ctx: FactsContext): Promise<ModeFacts> {
    const fs = this.#fs!;
    const env = workloadEnv(ctx.pattern);
    // /proc is mounted for this run only: the image has none of its own, and chroot no mount namespace
    const [out, hostCount] = await fs.withProc(async () => [(await runOk(this.#chroot, [fs.dir, 'sh', '-c', FACTS_SCRIPT], { env })).stdout, hostProcessCount()] as const);
    const f = parseFacts(out);
    const hogMiB = ctx.limitMiB * HOG_FACTOR;
    const hog = await run(this.#chroot, [fs.dir, 'sh', '-c', hogScript(hogMiB)], { env });
    return unconfinedFacts(ctx, f, hostCount, hog, hogMiB, {
      direct: 'none: chroot execs the workload, a direct child of berth compare',
      namespaces: "the chrooted workload's /proc/self/ns (proc mounted for that run) against berth compare's own",
      unlimited: `chroot has no memory limit: asked ${ctx.limitMiB} MiB, a ${hogMiB} MiB hog ran to its end`,
    });
  }

  async close(): Promise<void> {
    await this.#fs?.close();
    this.#fs = undefined;
  }
}
