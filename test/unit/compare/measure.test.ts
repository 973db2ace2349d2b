import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  FACTS_SCRIPT,
  FactsParseError,
  compareNamespaces,
  foreignNamespaces,
  hogScript,
  markerNames,
  nsFromLinks,
  parseFacts,
  parsePpid,
  parseProcStatus,
  summarizeLatency,
} from '../../../src/compare/measure.ts';

const REPORT = [
  'kernel 6.1.0-56-amd64',
  'ns cgroup cgroup:[4026531835]',
  'ns ipc ipc:[4026532179]',
  'ns pid pid:[4026532180]',
  'ns pid_for_children pid:[4026532999]',
  'procs 3',
  'marker 0',
  'ppid 0',
].join('\n');

test('the workload report: kernel, namespaces without *_for_children, processes, marker, parent', () => {
  const f = parseFacts(REPORT);
  assert.equal(f.kernel, '6.1.0-56-amd64');
  // pid_for_children is where children go, not the workload's own: it must not overwrite pid
  assert.deepEqual(f.ns, { cgroup: 'cgroup:[4026531835]', ipc: 'ipc:[4026532179]', pid: 'pid:[4026532180]' });
  assert.equal(f.procs, 3);
  assert.equal(f.markerSeen, false);
  assert.equal(f.ppid, 0);
  assert.equal(parseFacts(REPORT.replace('marker 0', 'marker 1')).markerSeen, true);
  assert.throws(() => parseFacts('sh: uname: not found\n'), FactsParseError);
});

test('the facts script runs under the host sh and reports the same namespaces as /proc/self/ns', () => {
  const { pattern } = markerNames('abc123');
  const r = spawnSync('/bin/sh', ['-c', FACTS_SCRIPT], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', BERTH_COMPARE_PATTERN: pattern } });
  assert.equal(r.status, 0, r.stderr);
  const f = parseFacts(r.stdout);
  assert.equal(f.ns.mnt, spawnSync('readlink', ['/proc/self/ns/mnt'], { encoding: 'utf8' }).stdout.trim());
  assert.equal(f.markerSeen, false, 'no marker runs, and grep must not find its own command line');
  assert.equal(f.ppid, process.pid);
});

test('the marker pattern matches the marker and not itself', () => {
  const { argv0, pattern } = markerNames('abc123');
  const re = new RegExp(pattern);
  assert.ok(re.test(argv0));
  assert.ok(!re.test(pattern));
});

test('namespaces: private when inodes differ, n/a under another kernel', () => {
  const host = { mnt: 'mnt:[1]', pid: 'pid:[2]', user: 'user:[3]' };
  const c = compareNamespaces({ mnt: 'mnt:[9]', pid: 'pid:[2]', user: 'user:[3]' }, host, 'x');
  assert.deepEqual(c.private, ['mnt']);
  assert.deepEqual(c.status, { mnt: 'private', pid: 'shared', user: 'shared' });
  const missing = compareNamespaces({ mnt: 'mnt:[1]' }, host, 'x');
  assert.equal(missing.status.pid, 'n/a');
  const v = foreignNamespaces({ mnt: 'mnt:[1]' }, host, 'own kernel');
  assert.deepEqual(v.private, []);
  assert.ok(Object.values(v.status).every((s) => s === 'n/a'));
  assert.deepEqual(nsFromLinks({ pid: 'pid:[2]', pid_for_children: 'pid:[2]', time_for_children: 'time:[5]' }), { pid: 'pid:[2]' });
});

test('latency summary: median of odd and even counts, min and max', () => {
  assert.deepEqual(summarizeLatency([5, 1, 3]), { runsMs: [5, 1, 3], medianMs: 3, minMs: 1, maxMs: 5 });
  assert.equal(summarizeLatency([4, 1, 3, 2]).medianMs, 2.5);
  assert.throws(() => summarizeLatency([]), RangeError);
});

test('/proc parsing: VmRSS and VmHWM, ppid past a comm with spaces and parentheses', () => {
  const s = parseProcStatus('Name:\tqemu-system-x86\nVmHWM:\t  250000 kB\nVmRSS:\t  249856 kB\nRssAnon:\t  190000 kB\nRssFile:\t   59856 kB\nRssShmem:\t       0 kB\n');
  assert.deepEqual(s, { rssKiB: 249856, hwmKiB: 250000, anonKiB: 190000, fileKiB: 59856, shmemKiB: 0, name: 'qemu-system-x86' });
  assert.equal(parsePpid('123 (a) b (c)) S 77 123 123 0 -1'), 77);
});

test('the hog is bounded: it holds at most its size and ends by itself', () => {
  const r = spawnSync('/bin/sh', ['-c', hogScript(1)], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.match(hogScript(48), /^dd if=\/dev\/zero bs=1M count=48 .*\| tail/);
});
