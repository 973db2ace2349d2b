/**
 * berth's micro-VM with the image (the seed's "Hyper": hypervisor + Docker image): QEMU microvm
 * booting the guest kernel around the image's root shared over 9p. Latency is the CLI as users
 * see it, `berth run --rm --isolation vm IMAGE true`, like the process column; if that fails on
 * this build (the engine's VM path is newer than the backend), the samples fall back to `runVm`
 * on the prepared root and the command says so. Every sample is a full boot to power-off. The
 * facts come from `startVm`/`runVm` directly, which give QEMU's pid: the per-instance overhead is
 * QEMU's resident set, which includes the guest RAM the guest kernel touched, since that is what
 * an instance costs the host.
 */
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { SystemError } from '../common/errors.ts';
import { berthCli } from '../engine/engine.ts';
import { runVm, startVm } from '../vm/index.ts';
import { qemuBinary } from '../vm/host.ts';
import { findKernel } from '../vm/kernel.ts';
import { fmtKiB } from './format.ts';
import { FACTS_SCRIPT, foreignNamespaces, hogScript, hostProcesses, parseFacts } from './measure.ts';
import { imageId, openImageRoot, type ImageRoot } from './image-root.ts';
import { HOG_FACTOR, type FactsContext, type ModeRunner } from './mode.ts';
import { hostProcessCount, procStatus, run } from './probe.ts';
import type { MemoryOverhead, ModeFacts } from './report.ts';

/**
 * The smallest guest shown: the backend accepts 64 MiB, but Debian's kernel and the initramfs do
 * not fit (measured here: no console output at all within 60 s); 128 MiB boots with ~80 MiB free.
 */
const MIN_GUEST_MIB = 128;
const SETTLE_MS = 500;
const ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root'];

function readAll(s: Readable): Promise<string> {
  return new Promise((resolve) => {
    let t = '';
    s.on('data', (c: Buffer) => (t += c.toString()));
    s.on('end', () => resolve(t));
  });
}

function waitFor(s: Readable, text: string): Promise<void> {
  return new Promise((resolve) => {
    let t = '';
    const on = (c: Buffer) => {
      t += c.toString();
      if (t.includes(text)) {
        s.off('data', on);
        resolve();
      }
    };
    s.on('data', on);
  });
}

export class VmMode implements ModeRunner {
  readonly mode = 'vm' as const;
  readonly label = 'vm (micro-VM + image)';
  command: string;
  readonly #root: string;
  readonly #image: string;
  #fs: ImageRoot | undefined;
  #accel = '';
  /** Whether samples go through the CLI: decided by the first one. */
  #cli: boolean | undefined;

  constructor(root: string, image: string) {
    this.#root = root;
    this.#image = image;
    this.command = `berth run --rm --isolation vm ${image} true`;
  }

  async probe(): Promise<string | undefined> {
    try {
      const qemu = qemuBinary();
      if (!existsSync(qemu)) return `${qemu} does not exist`;
      findKernel();
      if (process.getuid?.() !== 0) return "mounting the image's root needs root";
      await imageId(this.#root, this.#image);
    } catch (err) {
      return (err as Error).message;
    }
    return undefined;
  }

  async setup(): Promise<void> {
    this.#fs = await openImageRoot(this.#root, this.#image, 'vm');
  }

  async latencyOnce(): Promise<number> {
    if (this.#cli !== false) {
      const r = await run(berthCli(), ['--root', this.#root, 'run', '--rm', '--isolation', 'vm', this.#image, 'true']);
      if (r.code === 0) {
        this.#cli = true;
        return r.ms;
      }
      const why = r.stderr.trim().split('\n').at(-1) ?? `exit ${r.code}`;
      if (this.#cli) throw new SystemError(`berth run --isolation vm exited with ${r.code}: ${why}`);
      this.#cli = false;
      this.command = `runVm(<${this.#image} root>, true) (berth run --isolation vm failed here: ${why})`;
    }
    const t0 = performance.now();
    const r = await runVm({ rootfs: this.#fs!.dir, args: ['true'], env: ENV, onNotice: () => {} });
    const ms = performance.now() - t0;
    if (r.exitCode !== 0) throw new SystemError(`true exited with ${r.exitCode} in the VM`);
    this.#accel = r.accel;
    return ms;
  }

  /** One VM idling in `read`: QEMU's memory, then the facts through an exec in the same guest. */
  async #idleVm(pattern: string): Promise<{ memory: MemoryOverhead; out: string; accel: string }> {
    const vm = await startVm({ rootfs: this.#fs!.dir, args: ['sh', '-c', 'echo ready; read x'], env: ENV, onNotice: () => {} });
    try {
      await waitFor(vm.main.stdout, 'ready');
      await sleep(SETTLE_MS);
      const s = procStatus(vm.qemuPid);
      const memory = {
        idleKiB: s.rssKiB,
        peakKiB: s.hwmKiB,
        of: `QEMU (${s.name}, pid ${vm.qemuPid}): ${fmtKiB(s.anonKiB)} anonymous (guest RAM the guest touched${vm.accel === 'tcg' ? ', the TCG translation cache' : ''}, the device model) + ${fmtKiB(s.fileKiB)} file pages (the mapped kernel and QEMU itself: page cache, shared between VMs)${s.shmemKiB ? ` + ${fmtKiB(s.shmemKiB)} shared memory` : ''}`,
      };
      const p = vm.exec({ args: ['sh', '-c', FACTS_SCRIPT], env: [...ENV, `BERTH_COMPARE_PATTERN=${pattern}`] });
      p.stdin.end();
      const [out] = await Promise.all([readAll(p.stdout), readAll(p.stderr), p.exit]);
      return { memory, out, accel: vm.accel };
    } finally {
      vm.main.stdin.end();
      await vm.wait().catch(() => {});
    }
  }

  async facts(ctx: FactsContext): Promise<ModeFacts> {
    ctx.progress('vm: an idle VM for memory and the facts');
    const idle = await this.#idleVm(ctx.pattern);
    const hostCount = hostProcessCount();
    const f = parseFacts(idle.out);
    const guestMiB = Math.max(ctx.limitMiB, MIN_GUEST_MIB);
    const hogMiB = guestMiB * HOG_FACTOR;
    ctx.progress(`vm: a ${hogMiB} MiB hog in a ${guestMiB} MiB guest`);
    // the status and the guest kernel's OOM report, read in the guest after the hog
    const script = `${hogScript(hogMiB)}; echo "status $?"; echo "oom $(dmesg | grep -ci 'killed process')"`;
    const r = await runVm({ rootfs: this.#fs!.dir, args: ['sh', '-c', script], env: ENV, memoryMiB: guestMiB, onNotice: () => {} });
    const out = r.stdout.toString();
    const status = Number(/^status (\d+)/m.exec(out)?.[1] ?? -1);
    const ooms = Number(/^oom (\d+)/m.exec(out)?.[1] ?? 0);
    return {
      memory: idle.memory,
      kernel: f.kernel,
      namespaces: foreignNamespaces(
        f.ns,
        ctx.hostNs,
        "n/a: the workload runs under the guest's own kernel; its namespace inodes are that kernel's objects and cannot be compared with the host's (every host namespace is out of its reach)",
      ),
      memoryLimit: {
        limitMiB: guestMiB,
        hogMiB,
        enforced: status !== 0,
        exitCode: status,
        detail:
          status !== 0
            ? `-m ${guestMiB}m is the guest's RAM: the ${hogMiB} MiB hog exited with ${status}${ooms > 0 ? ', killed by the guest kernel\'s OOM killer' : ''}`
            : `-m ${guestMiB}m: a ${hogMiB} MiB hog ran to its end`,
      },
      hostProcesses: hostProcesses(f, hostCount),
      accel: this.#accel || idle.accel,
    };
  }

  async close(): Promise<void> {
    await this.#fs?.close();
    this.#fs = undefined;
  }
}
