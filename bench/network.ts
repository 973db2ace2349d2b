/**
 * Networking costs, in one run:
 *  1. start latency: what a bridge network adds to a container start, against `--network none`:
 *     the library's attach+detach (what `berth run --rm` will pay around the container), then
 *     `berth run --rm busybox true` both ways when the engine accepts `--network bridge`, and the
 *     same pair for `podman run --rm` (private store, runc, netavark);
 *  2. throughput: 1 GiB through busybox nc between two containers on one berth network, against
 *     the host's loopback.
 * Traffic stays on this machine: loopback and namespaces created here.
 *   node_modules/node/bin/node bench/network.ts [runs]
 */
import { spawn, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NetworkManager } from '../src/network/manager.ts';
import { cleanupNetworkHost } from '../src/network/networks.ts';
import { listNetworks } from '../src/network/definitions.ts';
import { parsePublishList } from '../src/network/ports.ts';
import { getSys } from '../src/sys/index.ts';
import { MNT } from '../src/sys/types.ts';
import { BERTH, busyboxRootfs, tempDir } from '../test/helpers/fixtures.ts';
import { engineRoot } from '../test/helpers/engine.ts';
import { fmt, machine, median, printTable, timeCmd } from './lib.ts';

const RUNS = Number(process.argv[2] ?? 10);
const BUSYBOX = '/bin/busybox';
const dir = tempDir('bench-net');
const m = await NetworkManager.open(path.join(dir, 'root'), { runDir: path.join(dir, 'run'), bridgePrefix: 'bnb', defaultSubnet: '10.89.198.0/24' });

function row(name: string, xs: number[]): string[] {
  return [name, fmt(median(xs)), fmt(Math.min(...xs)), fmt(Math.max(...xs))];
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function latency(): Promise<void> {
  const t = { none: [] as number[], bridge: [] as number[], ports: [] as number[] };
  for (let i = -1; i < RUNS; i++) {
    const id = `bench${i + 1}x${process.pid}`;
    const none = await timeAsync(async () => {
      await m.attach(id, { name: 'n', network: 'none' });
      await m.detach(id);
    });
    const bridge = await timeAsync(async () => {
      await m.attach(id, { name: 'b' });
      await m.detach(id);
    });
    const ports = await timeAsync(async () => {
      await m.attach(id, { name: 'p', ports: parsePublishList(['127.0.0.1::8080']) });
      await m.detach(id);
    });
    if (i < 0) continue; // warm-up: the first attach creates the bridge and the shared chains
    t.none.push(none);
    t.bridge.push(bridge);
    t.ports.push(ports);
  }
  console.log('network setup + teardown (library, attach then detach)');
  printTable([['', 'median', 'min', 'max'], row('--network none (netns + lo)', t.none), row('default bridge network', t.bridge), row('bridge + one published port', t.ports)]);
  console.log(`bridge adds ${fmt(median(t.bridge) - median(t.none))} over none (median)\n`);
}

/** `run --rm busybox true`, bridge vs none, berth and podman, the four interleaved in every round. */
async function engineLatency(): Promise<void> {
  // berth: a private root with the busybox image and the bridge network as its default, as Docker's
  const e = engineRoot('bench-net', { network: 'bridge' });
  // podman: private store, the same rootfs; the settings of bench/engine.ts (this machine's hard
  // nofile limit is below podman's default)
  const pdir = tempDir('bench-net-podman');
  const conf = path.join(pdir, 'containers.conf');
  writeFileSync(conf, '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n');
  const penv = { ...process.env, CONTAINERS_CONF: conf };
  const podman = ['--root', path.join(pdir, 'store'), '--runroot', path.join(pdir, 'run'), '--runtime', 'runc'];
  try {
    const tar = spawnSync('tar', ['-C', busyboxRootfs(), '-c', '.'], { maxBuffer: 64 << 20 });
    spawnSync('podman', [...podman, 'import', '-', 'localhost/busybox'], { input: tar.stdout, env: penv });
    const runs: Record<string, () => { ms: number; status: number | null }> = {
      'berth --network none': () => timeCmd(BERTH, ['--root', e.root, 'run', '--rm', '--network', 'none', 'busybox', 'true']),
      'berth default bridge': () => timeCmd(BERTH, ['--root', e.root, 'run', '--rm', 'busybox', 'true']),
      'podman --network none': () => timeCmd('podman', [...podman, 'run', '--rm', '--network', 'none', 'localhost/busybox', 'true'], { env: penv }),
      'podman default bridge': () => timeCmd('podman', [...podman, 'run', '--rm', 'localhost/busybox', 'true'], { env: penv }),
    };
    const names = Object.keys(runs);
    const t: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let i = -1; i < RUNS; i++) {
      for (const n of names) {
        const r = runs[n]!();
        if (r.status !== 0) throw new Error(`${n}: exit ${r.status}`);
        if (i >= 0) t[n]!.push(r.ms); // round -1 warms up: the first bridged runs create bridges and rules
      }
    }
    console.log('run --rm busybox true (podman with runc and netavark), interleaved');
    printTable([['', 'median', 'min', 'max'], ...names.map((n) => row(n, t[n]!))]);
    const berthAdds = median(t['berth default bridge']!) - median(t['berth --network none']!);
    const podmanAdds = median(t['podman default bridge']!) - median(t['podman --network none']!);
    console.log(`bridge adds ${fmt(berthAdds)} to berth's start, ${fmt(podmanAdds)} to podman's: ratio ${(berthAdds / podmanAdds).toFixed(2)} (${berthAdds < podmanAdds ? 'berth adds less' : 'berth adds more'})\n`);
  } finally {
    e.teardown();
    spawnSync('podman', [...podman, 'rm', '-af'], { env: penv });
    spawnSync('podman', [...podman, 'system', 'reset', '-f'], { env: penv });
    rmSync(pdir, { recursive: true, force: true });
  }
}

let port = 5100;

/**
 * Seconds to push `mib` MiB through busybox nc from netns `from` to ip in netns `to` (null: the
 * host). The receiver counts what arrived, so a refused or short transfer is an error, not a record.
 */
async function ncTransfer(to: string | null, from: string | null, ip: string, mib: number): Promise<number> {
  const p = port++;
  const ns = (n: string | null, argv: string[]) => (n ? ['nsenter', `--net=${n}`, ...argv] : argv);
  const recvArgv = ns(to, ['sh', '-c', `${BUSYBOX} nc -l -p ${p} | wc -c`]);
  // busybox nc quits when its stdin ends: give it a pipe that stays open until the transfer is done
  const recv = spawn(recvArgv[0]!, recvArgv.slice(1), { stdio: ['pipe', 'pipe', 'ignore'] });
  let count = '';
  recv.stdout.on('data', (b: Buffer) => (count += b));
  const done = new Promise((r) => recv.on('close', r));
  await sleep(500);
  const sendArgv = ns(from, ['sh', '-c', `dd if=/dev/zero bs=1M count=${mib} 2>/dev/null | ${BUSYBOX} nc ${ip} ${p}`]);
  const t0 = process.hrtime.bigint();
  spawnSync(sendArgv[0]!, sendArgv.slice(1));
  await done;
  recv.stdin.end();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (Number(count.trim()) !== mib * 1024 * 1024) throw new Error(`nc to ${ip}:${p} delivered ${count.trim() || 0} bytes, not ${mib} MiB`);
  return s;
}

async function throughput(): Promise<void> {
  const a = await m.attach(`tpa${process.pid}`, { name: 'a' });
  const b = await m.attach(`tpb${process.pid}`, { name: 'b' });
  try {
    const MiB = 1024;
    const t = { net: [] as number[], lo: [] as number[] };
    for (let i = 0; i < 3; i++) {
      t.net.push(await ncTransfer(a.netnsPath, b.netnsPath, a.ips[0]!, MiB));
      t.lo.push(await ncTransfer(null, null, '127.0.0.1', MiB));
    }
    const rate = (s: number) => `${((MiB * 1.048576) / s).toFixed(0)} MB/s`;
    console.log('1 GiB through busybox nc (median of 3)');
    printTable([
      ['', 'time', 'rate'],
      ['container → container (berth bridge)', `${median(t.net).toFixed(2)} s`, rate(median(t.net))],
      ['host loopback', `${median(t.lo).toFixed(2)} s`, rate(median(t.lo))],
    ]);
    console.log(`bridge / loopback: ${(median(t.lo) / median(t.net)).toFixed(2)} of loopback's rate\n`);
  } finally {
    await m.detach(`tpa${process.pid}`);
    await m.detach(`tpb${process.pid}`);
  }
}

try {
  console.log(`network benchmarks (${machine()})\n`);
  await latency();
  await engineLatency();
  await throughput();
} finally {
  await m.sweep(() => false).catch(() => {});
  for (const n of listNetworks(m.ctx.layout)) cleanupNetworkHost(m.ctx, n);
  try {
    (await getSys()).umount2(m.ctx.layout.runDir, MNT.DETACH);
  } catch {
    // never mounted
  }
  rmSync(dir, { recursive: true, force: true });
}
