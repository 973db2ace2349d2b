/**
 * The container lifecycle through `berth`: run --rm leaves nothing; -it under a real terminal;
 * Docker's exit codes; 20 parallel `run -d`; a CLI killed mid-`run -d` leaves nothing that
 * `rm -f` and `system prune` cannot clean; logs, exec, stop, restart, wait, pause, rename,
 * inspect fields, volumes, mounts and flags.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BERTH, mountsMatching } from '../helpers/fixtures.ts';
import { containerCgroups, engineRoot } from '../helpers/engine.ts';

describe('container lifecycle', () => {
  const e = engineRoot('life');
  after(() => e.teardown());
  const ls = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

  it('run --rm leaves no container, cgroup, mount, state or log', () => {
    const r = e.berth(['run', '--rm', '--name', 'gone', 'busybox', 'echo', 'hi']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'hi\n');
    assert.deepEqual(ls(path.join(e.root, 'containers')), []);
    assert.deepEqual(ls(path.join(e.root, 'runtime')), []);
    assert.deepEqual(ls(path.join(e.root, 'rootfs')), []);
    assert.deepEqual(ls(path.join(e.root, 'names')), []);
    assert.deepEqual(mountsMatching(e.root), []);
    assert.equal(e.berth(['ps', '-aq']).stdout, '');
  });

  it("Docker's exit codes: the container's, 125, 126, 127", () => {
    assert.equal(e.berth(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3']).status, 3);
    const bad = e.berth(['run', '--rm', '-m', 'lots', 'busybox', 'true']);
    assert.equal(bad.status, 125);
    assert.equal(bad.stderr, "berth: invalid size: 'lots'\n");
    assert.equal(e.berth(['run', '--rm', 'no-such-image', 'true']).status, 125);
    const notExec = e.berth(['run', '--rm', 'busybox', '/etc/passwd']);
    assert.equal(notExec.status, 126, notExec.stderr);
    const missing = e.berth(['run', '--rm', 'busybox', 'no-such-command']);
    assert.equal(missing.status, 127);
    assert.match(missing.stderr, /executable file not found in \$PATH/);
    assert.deepEqual(ls(path.join(e.root, 'containers')), [], '--rm cleaned up after failures too');
  });

  it('-it works under a real pseudo-terminal', () => {
    // script(1) gives berth a real terminal; the shell inside reads our input from the pty
    const r = spawnSync('script', ['-qec', `stty rows 40 cols 100; ${BERTH} --root ${e.root} run --rm -it busybox sh`, '/dev/null'], {
      input: 'tty; echo "cols=$(stty size)"; exit 7\n',
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.match(r.stdout, /\/dev\/pts\/\d+/);
    assert.match(r.stdout, /cols=40 100/, 'the window size reached the container');
    assert.equal(r.status, 7);
  });

  it('stdin with -i, and -e, --env-file, -w, -u, -h, --entrypoint, --read-only, --tmpfs, -v, --init', () => {
    assert.equal(e.berth(['run', '--rm', '-i', 'busybox', 'cat'], { input: 'piped\n' }).stdout, 'piped\n');
    const envFile = path.join(e.root, 'env');
    writeFileSync(envFile, '# comment\nFROM_FILE=yes\n');
    const host = path.join(e.root, 'hostdir');
    mkdirSync(host);
    writeFileSync(path.join(host, 'f'), 'from host\n');
    const r = e.berth([
      'run', '--rm', '-e', 'A=1', '--env-file', envFile, '-w', '/tmp/work', '-u', 'nobody', '-h', 'box', '--read-only',
      '--tmpfs', '/scratch:size=1m', '-v', `${host}:/mnt/host:ro`, '--init', '--entrypoint', 'sh', 'busybox', '-c',
      'echo "$A $FROM_FILE $(pwd) $(id -u) $(hostname) $(cat /proc/1/comm)"; cat /mnt/host/f; touch /x 2>&1; touch /scratch/y && echo tmpfs-ok; touch /mnt/host/z 2>&1',
    ]);
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], '1 yes /tmp/work 65534 box berth-init');
    assert.equal(lines[1], 'from host');
    assert.match(r.stdout, /touch: \/x: Read-only file system/);
    assert.match(r.stdout, /tmpfs-ok/);
    assert.match(r.stdout, /touch: \/mnt\/host\/z: Read-only file system/);
  });

  it('named volumes outlive containers; volume ls/inspect/rm', () => {
    assert.equal(e.berth(['run', '--rm', '-v', 'data:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f']).status, 0);
    assert.equal(e.berth(['run', '--rm', '-v', 'data:/data', 'busybox', 'cat', '/data/f']).stdout, 'kept\n');
    assert.match(e.berth(['volume', 'ls']).stdout, /local\s+data/);
    assert.equal(JSON.parse(e.berth(['volume', 'inspect', 'data']).stdout)[0].Name, 'data');
    assert.equal(e.berth(['volume', 'rm', 'data']).status, 0);
    assert.equal(e.berth(['volume', 'ls', '-q']).stdout, '');
  });

  it('logs, exec, stop, start, restart, wait, pause, rename, inspect', async () => {
    const r = e.berthDetached(['run', '-d', '--name', 'svc', '-m', '32m', '--cpus', '1.5', '--pids-limit', '50', 'busybox', 'sh', '-c', 'trap "echo bye; exit 0" TERM; echo hello; echo oops >&2; while :; do sleep 0.1; done']);
    const id = r.stdout.trim();
    assert.match(id, /^[a-f0-9]{64}$/);
    await sleep(500);
    assert.equal(e.berth(['logs', 'svc']).stdout, 'hello\n');
    assert.equal(e.berth(['logs', 'svc']).stderr, 'oops\n');
    const tail = e.berth(['logs', '-t', '--tail', '2', 'svc']);
    assert.match(tail.stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z hello\n$/);
    assert.match(tail.stderr, /^\d{4}-\d\d-\d\dT[\d:.]+Z oops\n$/);
    assert.equal(e.berth(['logs', '--tail', '1', 'svc']).stderr, 'oops\n');
    const x = e.berth(['exec', '-e', 'X=2', '-w', '/tmp', 'svc', 'sh', '-c', 'echo "$X $(pwd)"; exit 5']);
    assert.equal(x.status, 5);
    assert.equal(x.stdout, '2 /tmp\n');
    const doc = JSON.parse(e.berth(['inspect', 'svc']).stdout)[0];
    assert.equal(doc.Id, id);
    assert.equal(doc.Name, '/svc');
    assert.equal(doc.State.Status, 'running');
    assert.equal(doc.State.Running, true);
    assert.ok(doc.State.Pid > 0);
    assert.equal(doc.HostConfig.Memory, 32 << 20);
    assert.equal(doc.HostConfig.NanoCpus, 1.5e9);
    assert.equal(doc.HostConfig.PidsLimit, 50);
    assert.match(e.berth(['top', 'svc']).stdout, /PID/);
    assert.equal(e.berth(['pause', 'svc']).status, 0);
    assert.equal(JSON.parse(e.berth(['inspect', 'svc']).stdout)[0].State.Status, 'paused');
    assert.equal(e.berth(['unpause', 'svc']).status, 0);
    assert.equal(e.berth(['stop', 'svc']).status, 0);
    const stopped = JSON.parse(e.berth(['inspect', 'svc']).stdout)[0].State;
    assert.equal(stopped.Status, 'exited');
    assert.equal(stopped.ExitCode, 0, 'the TERM trap ran: stopped within the timeout, not killed');
    assert.match(e.berth(['logs', 'svc']).stdout, /bye/);
    assert.deepEqual(containerCgroups(id), []);
    assert.equal(e.berth(['rename', 'svc', 'svc2']).status, 0);
    assert.equal(e.berthDetached(['start', 'svc2']).status, 0);
    assert.equal(JSON.parse(e.berth(['inspect', 'svc2']).stdout)[0].State.Status, 'running');
    assert.equal(e.berth(['restart', '-t', '1', 'svc2']).status, 0);
    const again = JSON.parse(e.berth(['inspect', 'svc2']).stdout)[0];
    assert.equal(again.State.Running, true);
    assert.equal(again.RestartCount, 1);
    const waiter = spawn(BERTH, ['--root', e.root, 'wait', 'svc2'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let waited = '';
    waiter.stdout.on('data', (d) => (waited += d));
    assert.equal(e.berth(['kill', '-s', 'KILL', 'svc2']).status, 0);
    await new Promise((res) => waiter.on('exit', res));
    assert.equal(waited, '137\n');
    assert.match(e.berth(['rm', 'svc']).stderr, /No such container: svc/);
    assert.equal(e.berth(['rm', 'svc2']).status, 0);
  });

  it('rm refuses a running container without -f', () => {
    const id = e.berthDetached(['run', '-d', 'busybox', 'sleep', '60']).stdout.trim();
    const r = e.berth(['rm', id]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /You cannot remove a running container/);
    assert.equal(e.berth(['rm', '-f', id]).status, 0);
    assert.deepEqual(containerCgroups(id), []);
  });

  it('20 parallel run -d: ps shows 20, rm -f removes all', async () => {
    const before = e.berth(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
    if (before.length) e.berth(['rm', '-f', ...before]);
    const runs = Array.from({ length: 20 }, (_, i) =>
      new Promise<number | null>((res) => {
        const c = spawn(BERTH, ['--root', e.root, 'run', '-d', '--name', `par${i}`, 'busybox', 'sleep', '300'], { stdio: 'ignore' });
        c.on('exit', (code) => res(code));
      }),
    );
    assert.deepEqual(await Promise.all(runs), Array(20).fill(0));
    const ids = e.berth(['ps', '-q', '--no-trunc']).stdout.split('\n').filter(Boolean);
    assert.equal(ids.length, 20);
    assert.equal(new Set(e.berth(['ps', '--format', 'json']).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).Names)).size, 20);
    const rm = e.berth(['rm', '-f', ...ids]);
    assert.equal(rm.status, 0, rm.stderr);
    assert.equal(e.berth(['ps', '-aq']).stdout, '');
    for (const id of ids) assert.deepEqual(containerCgroups(id), []);
  });

  it('a CLI killed with SIGKILL during run -d leaves nothing that rm -f and system prune cannot clean', async () => {
    for (const delay of [30, 60, 90, 120, 150, 200, 260, 350]) {
      // a duration no other test uses: the check below counts this test's containers only
      const c = spawn(BERTH, ['--root', e.root, 'run', '-d', 'busybox', 'sleep', '317'], { stdio: 'ignore' });
      await sleep(delay);
      c.kill('SIGKILL');
      // on a quiet machine `run -d` may have finished already: its exit event has been and gone
      if (c.exitCode === null && c.signalCode === null) await new Promise((res) => c.on('exit', res));
    }
    await sleep(300);
    const ids = e.berth(['ps', '-aq', '--no-trunc']).stdout.split('\n').filter(Boolean);
    if (ids.length) assert.equal(e.berth(['rm', '-f', ...ids]).status, 0);
    assert.equal(e.berth(['system', 'prune', '-f']).status, 0);
    assert.equal(e.berth(['ps', '-aq']).stdout, '');
    for (const dir of ['containers', 'runtime', 'rootfs', 'names']) assert.deepEqual(ls(path.join(e.root, dir)), [], `${dir} is empty`);
    const strays = readdirSync('/sys/fs/cgroup/memory/berth').filter((d) => ids.includes(d));
    assert.deepEqual(strays, []);
    const left = spawnSync('pgrep', ['-af', 'sleep 317'], { encoding: 'utf8' });
    assert.equal(left.status, 1, `no container process left: ${left.stdout}`);
  });
});
