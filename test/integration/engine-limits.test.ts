/**
 * Limits enforced from inside: memory (OOM kill → 137 and OOMKilled), pids (a fork bomb is
 * contained), CPU (a busy loop under --cpus 0.5 gets at most about half a core).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { engineRoot } from '../helpers/engine.ts';

describe('resource limits', () => {
  const e = engineRoot('limits');
  after(() => e.teardown());

  it('a process allocating past -m 16m is OOM-killed: 137 and OOMKilled', () => {
    const r = e.berth(['run', '--name', 'hog', '-m', '16m', 'busybox', 'sh', '-c', 'x=a; while :; do x=$x$x; done']);
    assert.equal(r.status, 137);
    const st = JSON.parse(e.berth(['inspect', 'hog']).stdout)[0].State;
    assert.equal(st.OOMKilled, true);
    assert.equal(st.ExitCode, 137);
    assert.equal(JSON.parse(e.berth(['inspect', 'hog']).stdout)[0].HostConfig.Memory, 16 << 20);
  });

  it('a fork bomb under --pids-limit 20 is contained; the host is unaffected', async () => {
    const r = e.berthDetached(['run', '-d', '--pids-limit', '20', 'busybox', 'sh', '-c', 'f(){ f | f & }; f; sleep 60']);
    assert.equal(r.status, 0, r.stdout);
    const id = r.stdout.trim();
    const pidsFile = `/sys/fs/cgroup/pids/berth/${id}/pids.current`;
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      await sleep(100);
      peak = Math.max(peak, Number(readFileSync(pidsFile, 'utf8')));
    }
    assert.equal(readFileSync(`/sys/fs/cgroup/pids/berth/${id}/pids.max`, 'utf8').trim(), '20');
    assert.ok(peak <= 20, `at most 20 processes, saw ${peak}`);
    assert.ok(peak >= 15, `the bomb did fork up to the limit (${peak})`);
    assert.ok(Number(readFileSync(`/sys/fs/cgroup/pids/berth/${id}/pids.events`, 'utf8').split(' ')[1]) > 0, 'forks were refused');
    assert.equal(e.berth(['run', '--rm', 'busybox', 'true']).status, 0, 'the host (and other containers) still fork');
    assert.equal(e.berth(['rm', '-f', id]).status, 0);
  });

  it('--cpus 0.5 holds a busy loop near half a core (cpuacct)', async () => {
    const r = e.berthDetached(['run', '-d', '--cpus', '0.5', 'busybox', 'sh', '-c', 'while :; do :; done']);
    const id = r.stdout.trim();
    const usage = () => Number(readFileSync(`/sys/fs/cgroup/cpuacct/berth/${id}/cpuacct.usage`, 'utf8'));
    assert.equal(readFileSync(`/sys/fs/cgroup/cpu/berth/${id}/cpu.cfs_quota_us`, 'utf8').trim(), '50000');
    await sleep(300);
    const u0 = usage();
    const t0 = process.hrtime.bigint();
    await sleep(3000);
    const cores = (usage() - u0) / Number(process.hrtime.bigint() - t0);
    assert.ok(cores <= 0.6, `at most ~half a core, measured ${cores.toFixed(2)}`);
    assert.ok(cores >= 0.1, `the loop did run (${cores.toFixed(2)} cores)`);
    const stats = JSON.parse(e.berth(['stats', '--no-stream', '--format', 'json', id]).stdout.trim());
    assert.ok(stats.cpuPercent <= 60, `stats agrees: ${stats.cpuPercent}%`);
    assert.equal(e.berth(['rm', '-f', id]).status, 0);
  });
});
