/**
 * VM boot benchmark: berth's boot-to-exit of `true` under `--isolation vm` against the floor
 * (the same QEMU, kernel and command line with an initramfs whose init powers off at once),
 * interleaved so both see the same host load; medians, best and the ratio; then QEMU's
 * resident memory with an idle VM.
 *   node bench/vm-boot.ts [runs=10] [--roots]
 * --roots also compares ways to give the guest its root: in the initramfs, virtio-9p, virtio-blk.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, lstatSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeBusyboxRootfs } from '../test/helpers/fixtures.ts';
import { bootFloor, prepareFloorInitramfs } from '../src/vm/floor.ts';
import { qemuBinary } from '../src/vm/host.ts';
import { cpioArchive, withParents, type CpioEntry } from '../src/vm/cpio.ts';
import { guestModules, readModule } from '../src/vm/modules.ts';
import { qemuArgs } from '../src/vm/qemu-args.ts';
import { spawnQemu } from '../src/vm/qemu.ts';
import type { Prepared } from '../src/vm/index.ts';
import { prepareVm, runVm, startVm } from '../src/vm/index.ts';

const runs = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 10);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
/**
 * CPU time of our reaped children (QEMU), in ms, from /proc/self/stat's cutime+cstime: unlike
 * wall time it hardly moves when other work shares the cores.
 */
const childCpuMs = (): number => {
  const f = readFileSync('/proc/self/stat', 'utf8').slice(readFileSync('/proc/self/stat', 'utf8').lastIndexOf(')') + 2).split(' ');
  return ((Number(f[13]) + Number(f[14])) * 1000) / 100; // fields 16, 17 (USER_HZ = 100)
};

/** The rootfs tree as cpio entries under `prefix`. */
function treeEntries(root: string, prefix: string): CpioEntry[] {
  const out: CpioEntry[] = [{ type: 'dir', path: prefix }];
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(root, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const full = path.join(root, r);
      const st = lstatSync(full);
      if (st.isSymbolicLink()) out.push({ type: 'symlink', path: `${prefix}/${r}`, target: readlinkSync(full) });
      else if (st.isDirectory()) {
        out.push({ type: 'dir', path: `${prefix}/${r}` });
        walk(r);
      } else if (st.isFile()) out.push({ type: 'file', path: `${prefix}/${r}`, data: readFileSync(full), mode: st.mode & 0o7777 });
    }
  };
  walk('');
  return out;
}

/**
 * Boots three minimal guests that each get the busybox root a different way, run `true` in it
 * and power off: the root inside the initramfs (the floor of what is possible), a virtio-9p
 * share of the host directory, and an ext4 image on virtio-blk (whose mkfs cost is shown too).
 */
async function compareRoots(p: Prepared, dir: string, rootfs: string, n: number): Promise<void> {
  const mods = (names: string[]): { entries: CpioEntry[]; insmod: string } => {
    const ms = guestModules(p.kernel.release, names);
    return {
      entries: ms.map((m) => ({ type: 'file', path: `m/${m.name}.ko`, data: readModule(p.kernel.release, m) })),
      insmod: ms.map((m) => `insmod /m/${m.name}.ko`).join('\n'),
    };
  };
  const initrd = (name: string, script: string, extra: CpioEntry[]): string => {
    const entries = withParents([
      { type: 'chardev', path: 'dev/console', major: 5, minor: 1 },
      { type: 'file', path: 'bin/busybox', data: readFileSync('/bin/busybox'), mode: 0o755 },
      { type: 'symlink', path: 'bin/sh', target: 'busybox' },
      { type: 'file', path: 'init', data: Buffer.from(`#!/bin/busybox sh\n/bin/busybox --install -s /bin\nmount -t devtmpfs dev /dev\n${script}\nexec poweroff -f\n`), mode: 0o755 },
      ...extra,
    ]);
    const f = path.join(dir, `${name}.cpio`);
    writeFileSync(f, cpioArchive(entries));
    return f;
  };
  const ninep = mods(['virtio_mmio', '9pnet_virtio', '9p']);
  const blk = mods(['virtio_mmio', 'virtio_blk', 'ext4']);
  const img = path.join(dir, 'root.ext4');
  const t0 = performance.now();
  const mk = spawnSync('mkfs.ext4', ['-q', '-F', '-O', '^metadata_csum,^has_journal', '-d', rootfs, img, '64M'], { encoding: 'utf8' });
  const mkfsMs = performance.now() - t0;
  if (mk.status !== 0) throw new Error(`mkfs.ext4: ${mk.stderr}`);
  const variants = [
    { name: 'initramfs', initrd: initrd('in', 'chroot /root /bin/true', treeEntries(rootfs, 'root')), extra: [] as string[] },
    { name: 'virtio-9p', initrd: initrd('9p', `${ninep.insmod}\nmkdir /mnt\nmount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=mmap berthroot /mnt\nchroot /mnt /bin/true`, ninep.entries), extra: ['-fsdev', `local,id=root,path=${rootfs},security_model=passthrough`, '-device', 'virtio-9p-device,fsdev=root,mount_tag=berthroot'] },
    { name: 'virtio-blk', initrd: initrd('blk', `${blk.insmod}\nmkdir /mnt\nmount -t ext4 /dev/vda /mnt\nchroot /mnt /bin/true`, blk.entries), extra: ['-drive', `file=${img},if=none,id=root,format=raw`, '-device', 'virtio-blk-device,drive=root'] },
  ];
  const times = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let i = 0; i < n; i++) {
    for (const v of variants) {
      const args = [...qemuArgs({ ...p.cfgBase, initrd: v.initrd, serialLog: path.join(dir, `${v.name}.log`) }), ...v.extra];
      const t = performance.now();
      const q = spawnQemu(qemuBinary(), args);
      const timer = setTimeout(() => q.kill(), 60_000);
      const r = await q.exited;
      clearTimeout(timer);
      if (r.code !== 0) throw new Error(`${v.name} boot failed: ${q.stderr()}`);
      times.get(v.name)!.push(performance.now() - t);
    }
  }
  console.log(`root filesystem, ${n} boots each (run \`true\` in the root, power off):`);
  for (const [name, ts] of times) console.log(`  ${name.padEnd(11)} median ${fmt(median(ts))}, best ${fmt(Math.min(...ts))}`);
  console.log(`  (virtio-blk also needs an image per container: mkfs.ext4 -d of this busybox root took ${fmt(mkfsMs)})`);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-vm-'));
try {
  const rootfs = makeBusyboxRootfs(path.join(dir, 'rootfs'));
  const opts = { rootfs, args: ['true'], env: ['PATH=/bin'], memoryMiB: 256, cpus: 1 };
  const prepared = await prepareVm(opts);
  const floorCfg = { ...prepared.cfgBase, initrd: prepareFloorInitramfs(path.dirname(path.dirname(prepared.initrd))), serialLog: path.join(dir, 'floor.log') };
  const qemu = qemuBinary();
  console.log(`kernel ${prepared.kernel.release}, accel ${prepared.accel}, ${runs} runs each, load ${os.loadavg()[0]!.toFixed(2)}`);
  await runVm(opts); // warm the caches and the page cache
  await bootFloor(qemu, floorCfg, 60_000);
  const berth: number[] = [];
  const floor: number[] = [];
  const berthCpu: number[] = [];
  const floorCpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    let c0 = childCpuMs();
    const t0 = performance.now();
    const r = await runVm(opts);
    if (r.exitCode !== 0) throw new Error(`berth run exited ${r.exitCode}`);
    berth.push(performance.now() - t0);
    berthCpu.push(childCpuMs() - c0);
    c0 = childCpuMs();
    const f = await bootFloor(qemu, floorCfg, 60_000);
    if (!f.ok) throw new Error('the floor VM did not power off');
    floor.push(f.ms);
    floorCpu.push(childCpuMs() - c0);
    console.log(`  run ${i + 1}: berth ${fmt(berth.at(-1)!)} (QEMU CPU ${fmt(berthCpu.at(-1)!)})  floor ${fmt(f.ms)} (CPU ${fmt(floorCpu.at(-1)!)})`);
  }
  const ratio = median(berth) / median(floor);
  console.log(`berth boot-to-exit: median ${fmt(median(berth))}, best ${fmt(Math.min(...berth))}`);
  console.log(`floor:              median ${fmt(median(floor))}, best ${fmt(Math.min(...floor))}`);
  console.log(`ratio of medians: ${ratio.toFixed(2)} (target <= 1.20); ratio of bests: ${(Math.min(...berth) / Math.min(...floor)).toFixed(2)}`);
  console.log(`QEMU CPU time: berth median ${fmt(median(berthCpu))}, floor median ${fmt(median(floorCpu))}, ratio ${(median(berthCpu) / median(floorCpu)).toFixed(2)} (load ${os.loadavg()[0]!.toFixed(2)})`);

  const vm = await startVm({ ...opts, args: ['sleep', '60'] });
  await new Promise((r) => setTimeout(r, 1500));
  const rss = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${vm.qemuPid}/status`, 'utf8'))?.[1] ?? 0);
  vm.main.signal('SIGKILL');
  await vm.wait();
  console.log(`QEMU resident memory, idle VM with ${opts.memoryMiB} MiB guest RAM: ${(rss / 1024).toFixed(0)} MiB`);

  if (process.argv.includes('--roots')) await compareRoots(prepared, dir, rootfs, Math.max(3, Math.floor(runs / 2)));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
