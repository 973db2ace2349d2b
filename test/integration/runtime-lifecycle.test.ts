/**
 * The OCI lifecycle through berth-runc: create → created → start → running → pause → paused →
 * resume → exec → kill → stopped → delete, with `state`, `list`, `ps` and all six hook kinds
 * (each hook records the state it got on stdin).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { berthRunc, berthRuncDetached, leftoverCgroups, makeBundle, removeCgroups, tempDir, uniqueId } from '../helpers/fixtures.ts';

const CG = `berth-lifecycle-${process.pid}`;
const dirs: string[] = [];
after(() => {
  removeCgroups(CG);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const stateOf = (st: string, id: string) => JSON.parse(berthRunc(st, ['state', id]).stdout) as { status: string; pid?: number; id: string; bundle: string };

async function until(fn: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(20);
  }
}

describe('lifecycle and hooks', () => {
  it('walks every state and runs every hook with the state on stdin', async () => {
    const out = tempDir('hooks');
    dirs.push(out);
    const rec = (stage: string) => ({ path: '/bin/sh', args: ['sh', '-c', `cat > ${out}/${stage}.json`] });
    // startContainer runs inside the container (after pivot_root): its path is the container's
    const inside = { path: '/bin/sh', args: ['sh', '-c', 'cat > /startContainer.json'] };
    const b = makeBundle((s) => {
      s.process!.args = ['sleep', '300'];
      s.linux!.cgroupsPath = `/${CG}/c1`;
      s.hooks = {
        prestart: [rec('prestart')],
        createRuntime: [rec('createRuntime')],
        createContainer: [rec('createContainer')],
        startContainer: [inside],
        poststart: [rec('poststart')],
        poststop: [rec('poststop')],
      };
      s.annotations = { 'org.example.test': 'yes' };
    });
    dirs.push(b.dir);
    const st = tempDir('state');
    dirs.push(st);
    const id = uniqueId('life');
    try {
      const pidFile = path.join(st, 'pid');
      const c = berthRuncDetached(st, ['create', '--bundle', b.dir, '--pid-file', pidFile, id]);
      assert.equal(c.status, 0, c.stderr);
      let s = stateOf(st, id);
      assert.equal(s.status, 'created');
      assert.equal(s.bundle, b.dir);
      assert.equal(Number(readFileSync(pidFile, 'utf8')), s.pid);
      for (const h of ['prestart', 'createRuntime', 'createContainer']) assert.ok(existsSync(path.join(out, `${h}.json`)), `${h} ran`);
      assert.ok(!existsSync(path.join(out, 'poststart.json')), 'poststart waits for start');
      const created = JSON.parse(readFileSync(path.join(out, 'createRuntime.json'), 'utf8'));
      assert.equal(created.id, id);
      assert.equal(created.pid, s.pid);
      assert.equal(created.annotations['org.example.test'], 'yes');

      assert.equal(berthRunc(st, ['start', id]).status, 0);
      assert.equal(stateOf(st, id).status, 'running');
      await until(() => existsSync(path.join(b.dir, 'rootfs/startContainer.json')));
      assert.equal(JSON.parse(readFileSync(path.join(out, 'poststart.json'), 'utf8')).status, 'running');
      const again = berthRunc(st, ['start', id]);
      assert.equal(again.status, 1);
      assert.match(again.stderr, /cannot start container .* it is running/);

      const list = JSON.parse(berthRunc(st, ['list', '--format', 'json']).stdout);
      assert.equal(list.length, 1);
      assert.equal(list[0].status, 'running');
      assert.deepEqual(JSON.parse(berthRunc(st, ['ps', '--format', 'json', id]).stdout), [s.pid]);

      assert.equal(berthRunc(st, ['pause', id]).status, 0);
      assert.equal(stateOf(st, id).status, 'paused');
      assert.equal(berthRunc(st, ['resume', id]).status, 0);
      assert.equal(stateOf(st, id).status, 'running');

      const x = berthRunc(st, ['exec', '--env', 'GREETING=hi', '--cwd', '/tmp', id, 'sh', '-c', 'echo $GREETING $(pwd) $$; exit 5']);
      assert.equal(x.status, 5, x.stderr);
      assert.match(x.stdout, /^hi \/tmp \d+\n$/);

      const d = berthRunc(st, ['delete', id]);
      assert.equal(d.status, 1);
      assert.match(d.stderr, /running/);

      assert.equal(berthRunc(st, ['kill', id, 'KILL']).status, 0);
      await until(() => stateOf(st, id).status === 'stopped');
      s = stateOf(st, id);
      assert.equal(s.pid, undefined, 'a stopped container has no pid');
      assert.match(berthRunc(st, ['kill', id]).stderr, /not running/);
      assert.equal(berthRunc(st, ['delete', id]).status, 0);
      assert.equal(JSON.parse(readFileSync(path.join(out, 'poststop.json'), 'utf8')).status, 'stopped');
      assert.match(berthRunc(st, ['state', id]).stderr, /does not exist/);
      assert.deepEqual(leftoverCgroups(`${CG}/c1`), []);
    } finally {
      berthRunc(st, ['delete', '-f', id]);
    }
  });

  it('kill --all and delete --force of a running container without a PID namespace', async () => {
    const b = makeBundle((s) => {
      s.process!.args = ['sh', '-c', 'sleep 300 & sleep 300 & wait'];
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'pid');
      s.linux!.cgroupsPath = `/${CG}/c2`;
    });
    dirs.push(b.dir);
    const st = tempDir('state');
    dirs.push(st);
    const id = uniqueId('nopid');
    assert.equal(berthRuncDetached(st, ['run', '-d', '--bundle', b.dir, id]).status, 0);
    await until(() => JSON.parse(berthRunc(st, ['ps', '-f', 'json', id]).stdout).length === 3);
    const pids: number[] = JSON.parse(berthRunc(st, ['ps', '-f', 'json', id]).stdout);
    assert.equal(berthRunc(st, ['kill', '--all', id, 'STOP']).status, 0);
    const stateLetter = (p: number) => readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]![0];
    await until(() => pids.every((p) => stateLetter(p) === 'T'));
    assert.equal(berthRunc(st, ['delete', '--force', id]).status, 0);
    for (const p of pids) assert.ok(!existsSync(`/proc/${p}/stat`) || readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z'), `pid ${p} gone`);
    assert.deepEqual(leftoverCgroups(`${CG}/c2`), []);
    assert.equal(berthRunc(st, ['delete', '--force', id]).status, 0, 'delete --force of a missing container succeeds like runc');
  });

  it('spec writes a config that runs, and features describes the runtime', () => {
    const dir = tempDir('spec');
    dirs.push(dir);
    const st = tempDir('s');
    dirs.push(st);
    assert.equal(berthRunc(st, ['spec', '--bundle', dir]).status, 0);
    const spec = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    assert.equal(spec.root.path, 'rootfs');
    assert.deepEqual(spec.linux.namespaces.map((n: { type: string }) => n.type).sort(), ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
    assert.match(berthRunc(dir, ['spec', '--bundle', dir]).stderr, /already exists/);
    const f = JSON.parse(berthRunc(dir, ['features']).stdout);
    assert.ok(f.linux.seccomp.enabled);
    assert.ok(f.hooks.includes('createContainer'));
  });
});
