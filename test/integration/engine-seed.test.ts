/**
 * The seed's own demonstration, verbatim: `berth run -m 4MB -d busybox ping localhost`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { containerCgroups, engineRoot } from '../helpers/engine.ts';

describe('the seed: berth run -m 4MB -d busybox ping localhost', () => {
  const e = engineRoot('seed');
  after(() => e.teardown());

  it('prints an id, limits memory in berth/<id>, logs ping, and stops', async () => {
    const r = e.berthDetached(['run', '-m', '4MB', '-d', 'busybox', 'ping', 'localhost']);
    assert.equal(r.status, 0, r.stdout);
    const id = r.stdout.trim();
    assert.match(id, /^[a-f0-9]{64}$/);
    // the file the seed reads, on this v1/hybrid host (v2: /sys/fs/cgroup/berth/<id>/memory.max)
    const v1 = `/sys/fs/cgroup/memory/berth/${id}/memory.limit_in_bytes`;
    const v2 = `/sys/fs/cgroup/berth/${id}/memory.max`;
    const limit = (() => {
      try {
        return readFileSync(v1, 'utf8');
      } catch {
        return readFileSync(v2, 'utf8');
      }
    })();
    assert.equal(limit.trim(), '4194304');
    const ps = e.berth(['ps', '--format', 'json']);
    assert.equal(JSON.parse(ps.stdout.trim()).State, 'running');
    let logs = '';
    for (let i = 0; i < 100 && !/seq=1 /.test(logs); i++) {
      await sleep(100);
      logs = e.berth(['logs', id]).stdout;
    }
    assert.match(logs, /^64 bytes from 127\.0\.0\.1: seq=0 ttl=64 time=[\d.]+ ms$/m);
    assert.match(logs, /seq=1 /);
    const stop = e.berth(['stop', '-t', '2', id]);
    assert.equal(stop.status, 0, stop.stderr);
    const st = JSON.parse(e.berth(['inspect', id]).stdout)[0].State;
    assert.equal(st.Status, 'exited');
    assert.equal(st.Running, false);
    assert.deepEqual(containerCgroups(id), [], 'the cgroup is gone once the container has stopped');
  });
});
