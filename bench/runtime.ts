/**
 * berth-runc run vs runc run on the same busybox bundle (`true`), interleaved, 20 runs each
 * after 3 warm-ups; medians, the ratio, and where berth-runc's time goes (from BERTH_TRACE).
 *   node_modules/node/bin/node bench/runtime.ts [runs]
 */
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeBundle, tempDir } from '../test/helpers/fixtures.ts';
import { fmt, machine, median, printTable, timeCmd } from './lib.ts';

const RUNS = Number(process.argv[2] ?? 20);
const BERTH_RUNC = fileURLToPath(new URL('../bin/berth-runc', import.meta.url));
const NODE = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));

const bundle = makeBundle((s) => {
  s.process!.args = ['true'];
  s.linux!.cgroupsPath = undefined as never;
  delete s.linux!.cgroupsPath;
});
const stRunc = tempDir('bench-runc');
const stBerth = tempDir('bench-berth');
const times = { runc: [] as number[], berth: [] as number[], node: [] as number[] };
const phases: Record<string, number>[] = [];

for (let i = -3; i < RUNS; i++) {
  const r = timeCmd('runc', ['--root', stRunc, 'run', '--bundle', bundle.dir, `r${i + 3}`]);
  const b = timeCmd(BERTH_RUNC, ['--root', stBerth, 'run', '--bundle', bundle.dir, `b${i + 3}`], { env: { ...process.env, BERTH_TRACE: '1' } });
  const n = timeCmd(NODE, ['-e', '0']);
  if (r.status !== 0 || b.status !== 0) throw new Error(`a run failed: runc ${r.status} ${r.stderr} / berth-runc ${b.status} ${b.stderr}`);
  if (i < 0) continue;
  times.runc.push(r.ms);
  times.berth.push(b.ms);
  times.node.push(n.ms);
  const m = /BERTH_TRACE (.*)/.exec(b.stderr);
  if (m) phases.push({ ...Object.fromEntries(Object.entries(JSON.parse(m[1]!) as Record<string, [number, number]>).map(([k, v]) => [k, v[0]])), total: b.ms });
}

const med = (k: string) => median(phases.map((p) => p[k]!));
const nodeStart = median(times.node);
console.log(`berth-runc run vs runc run: busybox true, ${RUNS} runs each, interleaved (${machine()})\n`);
printTable([
  ['runtime', 'median', 'min', 'max'],
  ...(['runc', 'berth'] as const).map((k) => [k === 'berth' ? 'berth-runc' : 'runc', fmt(median(times[k])), fmt(Math.min(...times[k])), fmt(Math.max(...times[k]))]),
]);
console.log(`\nratio berth-runc / runc: ${(median(times.berth) / median(times.runc)).toFixed(2)}x\n`);
console.log('where berth-runc spends its time (medians):');
printTable([
  ['phase', 'ms'],
  ['Node start (node -e 0)', nodeStart.toFixed(1)],
  ['loading the CLI (to first line of main)', (med('loaded') - 0).toFixed(1) + ' since process start'],
  ['config.json → cgroup → plan', (med('plan') - med('loaded')).toFixed(1)],
  ['helper: re-exec sealed, clone → pid', (med('pid') - med('plan')).toFixed(1)],
  ['container set-up → ready', (med('ready') - med('pid')).toFixed(1)],
  ['process runs → exit', (med('exited') - med('ready')).toFixed(1)],
  ['delete (cgroup, state)', (med('deleted') - med('exited')).toFixed(1)],
  ['process exit', (med('total') - med('deleted')).toFixed(1)],
]);
rmSync(bundle.dir, { recursive: true, force: true });
rmSync(stRunc, { recursive: true, force: true });
rmSync(stBerth, { recursive: true, force: true });
