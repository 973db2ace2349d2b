/**
 * The engine against its peers, in one run:
 *  1. `berth run --rm busybox true` vs `podman run --rm` (runtime runc) of the same image,
 *     interleaved (both with --network none, and podman with its default network too);
 *  2. the library: `await berth.run(...)` of `true` from a warm Node process vs `runc run`;
 *  3. the resident memory of the per-container monitor with 50 idle containers.
 *   node_modules/node/bin/node bench/engine.ts [runs]
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Berth } from '../src/lib.ts';
import { BERTH, busyboxRootfs, makeBundle, tempDir } from '../test/helpers/fixtures.ts';
import { engineRoot } from '../test/helpers/engine.ts';
import { fmt, machine, median, printTable, timeCmd } from './lib.ts';

const RUNS = Number(process.argv[2] ?? 20);
const e = engineRoot('bench');
const pdir = tempDir('bench-podman');
const conf = path.join(pdir, 'containers.conf');
writeFileSync(conf, '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n');
const penv = { ...process.env, CONTAINERS_CONF: conf };
const podman = ['--root', path.join(pdir, 'store'), '--runroot', path.join(pdir, 'run'), '--runtime', 'runc'];
const tar = spawnSync('tar', ['-C', busyboxRootfs(), '-c', '.'], { maxBuffer: 64 << 20 });
spawnSync('podman', [...podman, 'import', '-', 'localhost/busybox'], { input: tar.stdout, env: penv });

try {
  console.log(`engine benchmarks (${machine()})\n`);
  const t = { berth: [] as number[], podmanNone: [] as number[], podman: [] as number[] };
  for (let i = -2; i < RUNS; i++) {
    const b = timeCmd(BERTH, ['--root', e.root, 'run', '--rm', 'busybox', 'true']);
    const pn = timeCmd('podman', [...podman, 'run', '--rm', '--network', 'none', 'localhost/busybox', 'true'], { env: penv });
    const p = timeCmd('podman', [...podman, 'run', '--rm', 'localhost/busybox', 'true'], { env: penv });
    if (b.status !== 0 || pn.status !== 0) throw new Error(`run failed: ${b.stderr} ${pn.stderr}`);
    if (i < 0) continue;
    t.berth.push(b.ms);
    t.podmanNone.push(pn.ms);
    if (p.status === 0) t.podman.push(p.ms);
  }
  printTable([
    ['run --rm busybox true', 'median', 'min', 'max'],
    ['berth (--network none)', fmt(median(t.berth)), fmt(Math.min(...t.berth)), fmt(Math.max(...t.berth))],
    ['podman+runc --network none', fmt(median(t.podmanNone)), fmt(Math.min(...t.podmanNone)), fmt(Math.max(...t.podmanNone))],
    ...(t.podman.length ? [['podman+runc (default network)', fmt(median(t.podman)), fmt(Math.min(...t.podman)), fmt(Math.max(...t.podman))]] : []),
  ]);
  console.log(`ratio berth / podman (--network none): ${(median(t.berth) / median(t.podmanNone)).toFixed(2)}  (target ≤ 0.25)\n`);

  // 2. the library from a warm process, against runc run of an equivalent bundle
  const berth = new Berth({ root: e.root });
  for (let i = 0; i < 3; i++) await berth.run({ image: 'busybox', cmd: ['true'], autoRemove: true });
  const lib: number[] = [];
  const runc: number[] = [];
  const bundle = makeBundle((s) => (s.process!.args = ['true']));
  const rst = tempDir('bench-runc');
  for (let i = 0; i < 100; i++) {
    const t0 = process.hrtime.bigint();
    const r = await berth.run({ image: 'busybox', cmd: ['true'], autoRemove: true });
    lib.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.exitCode !== 0) throw new Error('library run failed');
    if (i % 5 === 0) runc.push(timeCmd('runc', ['--root', rst, 'run', '--bundle', bundle.dir, `r${i}`]).ms);
  }
  printTable([
    ['library vs runc', 'median', 'min', 'max'],
    ['await berth.run() (100 runs)', fmt(median(lib)), fmt(Math.min(...lib)), fmt(Math.max(...lib))],
    [`runc run (${runc.length} runs)`, fmt(median(runc)), fmt(Math.min(...runc)), fmt(Math.max(...runc))],
  ]);
  console.log(`ratio library / runc: ${(median(lib) / median(runc)).toFixed(2)}  (target ≤ 1)\n`);
  rmSync(bundle.dir, { recursive: true, force: true });
  rmSync(rst, { recursive: true, force: true });

  // 3. idle monitors
  const ids: string[] = [];
  for (let i = 0; i < 50; i++) ids.push((await berth.runDetached({ image: 'busybox', cmd: ['sleep', '600'] })).id);
  await new Promise((r) => setTimeout(r, 500));
  const rss: number[] = [];
  for (const id of ids) {
    const pid = berth.container(id).state().Pid;
    const monitor = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    const status = readFileSync(`/proc/${monitor}/status`, 'utf8');
    rss.push(Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]));
  }
  console.log(`idle monitor resident memory over ${ids.length} containers: median ${median(rss)} KiB, max ${Math.max(...rss)} KiB (target < 1024 KiB)`);
  // the peer's monitor, measured the same way: conmon of one idle podman container
  const run = spawnSync('podman', [...podman, 'run', '-d', '--network', 'none', 'localhost/busybox', 'sleep', '600'], { env: penv, encoding: 'utf8' });
  const cid = run.stdout.trim();
  const conmonPid = spawnSync('podman', [...podman, 'inspect', '--format', '{{.State.ConmonPid}}', cid], { env: penv, encoding: 'utf8' }).stdout.trim();
  if (/^\d+$/.test(conmonPid)) {
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${conmonPid}/status`, 'utf8'))![1]);
    console.log(`podman's conmon for one idle container: ${kb} KiB (berth's monitor: ${(median(rss) / kb).toFixed(2)}x of that)`);
  }
} finally {
  e.teardown();
  spawnSync('podman', [...podman, 'rm', '-af'], { env: penv });
  spawnSync('podman', [...podman, 'system', 'reset', '-f'], { env: penv });
  rmSync(pdir, { recursive: true, force: true });
}
