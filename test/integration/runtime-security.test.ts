/**
 * Regression tests for the runtime-level attack classes of runc's history, each asserting from
 * inside the container and from the host that the attack achieved nothing.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Spec } from '../../src/oci/runtime-spec.ts';
import { helperPath } from '../../src/runtime/helper-process.ts';
import { berthRunc, berthRuncDetached, makeBundle, removeCgroups, tempDir, uniqueId } from '../helpers/fixtures.ts';

const CG = `berth-sectest-${process.pid}`;
const dirs: string[] = [];
const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
  removeCgroups(CG);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function bundle(mutate: (s: Spec) => void) {
  const b = makeBundle((s) => {
    s.linux!.cgroupsPath = `/${CG}/${uniqueId('c')}`;
    mutate(s);
  });
  dirs.push(b.dir);
  return b;
}
function stateDir() {
  const d = tempDir('state');
  dirs.push(d);
  return d;
}
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

async function waitFor(file: string, ms = 10_000): Promise<string> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (existsSync(file)) {
      const s = readFileSync(file, 'utf8');
      if (s.includes('done')) return s;
    }
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${file}`);
}

describe('CVE-2019-5736: the helper binary cannot be overwritten through /proc/<pid>/exe', () => {
  it('runs from a sealed memfd, and a write through a held exe fd after start is refused', async () => {
    const before = sha(helperPath());
    const b = bundle((s) => (s.process!.args = ['sleep', '300']));
    const st = stateDir();
    const id = uniqueId('cve5736');
    cleanups.push(() => berthRunc(st, ['delete', '-f', id]));
    assert.equal(berthRuncDetached(st, ['create', '--bundle', b.dir, id]).status, 0);
    // pid 1 is the helper, blocked until `start`: the attacker holds its exe, waits for the
    // workload's execve (the moment runc's binary became writable), then writes through it.
    const attack = [
      'readlink /proc/1/exe > /tmp/r',
      'exec 3</proc/1/exe',
      'while readlink /proc/1/exe | grep -q berth-helper; do usleep 2000; done',
      'echo pwned > /proc/self/fd/3 2>>/tmp/r; echo "write=$?" >> /tmp/r',
      'echo done >> /tmp/r',
    ].join('\n');
    const e = berthRuncDetached(st, ['exec', '--detach', id, 'sh', '-c', attack]);
    assert.equal(e.status, 0, e.stderr);
    await sleep(200);
    assert.equal(berthRunc(st, ['start', id]).status, 0);
    const out = await waitFor(path.join(b.dir, 'rootfs/tmp/r'));
    assert.match(out, /^\/memfd:berth-helper \(deleted\)$/m, 'pid 1 ran from the sealed copy');
    assert.match(out, /^write=1$/m, 'the write was refused');
    assert.equal(sha(helperPath()), before, 'the helper on the host is unchanged');
  });

  it('a #!/proc/self/exe script run by exec cannot drive or modify the helper', () => {
    const before = sha(helperPath());
    const b = bundle((s) => (s.process!.args = ['sleep', '300']));
    writeFileSync(path.join(b.dir, 'rootfs/bin/evil'), '#!/proc/self/exe\n', { mode: 0o755 });
    const st = stateDir();
    const id = uniqueId('selfexe');
    cleanups.push(() => berthRunc(st, ['delete', '-f', id]));
    assert.equal(berthRuncDetached(st, ['run', '--detach', '--bundle', b.dir, id]).status, 0);
    const r = berthRunc(st, ['exec', id, '/bin/evil']);
    assert.notEqual(r.status, 0);
    assert.equal(sha(helperPath()), before);
  });
});

describe('CVE-2024-21626: no host fd leaks into the container', () => {
  it('the process holds only fds 0-2, in run and in exec', () => {
    // ls lists the shell's fds while the shell itself does nothing else: 0, 1 and 2 only
    const list = 'ls /proc/$$/fd; echo checked';
    const b = bundle((s) => (s.process!.args = ['sh', '-c', list]));
    const r = berthRunc(stateDir(), ['run', '--bundle', b.dir, uniqueId('fds')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '0\n1\n2\nchecked\n');

    const b2 = bundle((s) => (s.process!.args = ['sleep', '300']));
    const st = stateDir();
    const id = uniqueId('fdsx');
    cleanups.push(() => berthRunc(st, ['delete', '-f', id]));
    assert.equal(berthRuncDetached(st, ['run', '-d', '--bundle', b2.dir, id]).status, 0);
    const x = berthRunc(st, ['exec', id, 'sh', '-c', list]);
    assert.equal(x.status, 0, x.stderr);
    assert.equal(x.stdout, '0\n1\n2\nchecked\n');
  });

  it('refuses a cwd that reaches outside the root through /proc/self/fd/N', () => {
    for (const n of [3, 4, 5, 6, 7, 8]) {
      const b = bundle((s) => {
        s.process!.args = ['sh', '-c', 'pwd; ls; echo escaped'];
        s.process!.cwd = `/proc/self/fd/${n}`;
      });
      const st = stateDir();
      const r = berthRunc(st, ['run', '--bundle', b.dir, uniqueId('cwd')]);
      assert.notEqual(r.status, 0, `cwd /proc/self/fd/${n} was accepted: ${r.stdout}`);
      assert.doesNotMatch(r.stdout, /escaped/);
      assert.match(r.stderr, /cwd/);
      assert.equal(berthRunc(st, ['list', '-q']).stdout, '', 'nothing left behind');
    }
  });
});

describe('CVE-2021-30465 class: mount destinations are resolved inside the rootfs', () => {
  it('a destination symlink pointing out (absolute or ../) lands inside the root', () => {
    // three real host directories the image's symlinks point at; none may be touched
    const hosts = ['abs', 'up', 'rel'].map((n) => {
      const d = tempDir(`host-${n}`);
      dirs.push(d);
      writeFileSync(path.join(d, 'host-file'), 'host\n');
      return d;
    });
    const [hostAbs, hostUp, hostRel] = hosts as [string, string, string];
    const src = tempDir('mntsrc');
    dirs.push(src);
    writeFileSync(path.join(src, 'payload'), 'payload\n');
    const b = bundle((s) => {
      s.process!.args = ['sh', '-c', `cat ${hostAbs}/payload; ls /up/sub && echo sub-ok; grep -c " ${hostRel} tmpfs" /proc/self/mounts`];
      s.mounts!.push({ destination: '/abs', type: 'bind', source: src, options: ['rbind', 'ro'] });
      s.mounts!.push({ destination: '/up/sub', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
      s.mounts!.push({ destination: '/rel', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
    });
    const rootfs = path.join(b.dir, 'rootfs');
    symlinkSync(hostAbs, path.join(rootfs, 'abs')); // absolute, to a real host directory
    symlinkSync(hostUp, path.join(rootfs, 'up')); // a parent of a destination
    symlinkSync('../../../../../../../../..' + hostRel, path.join(rootfs, 'rel')); // climbing out
    const r = berthRunc(stateDir(), ['run', '--bundle', b.dir, uniqueId('symlink')]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'payload\nsub-ok\n1\n', 'each mount is at its symlink target inside the root');
    for (const h of hosts) {
      assert.deepEqual(readdirSync(h), ['host-file'], `host directory ${h} untouched`);
      assert.ok(existsSync(path.join(rootfs, h)), `the target ${h} was made inside the rootfs instead`);
    }
    assert.ok(existsSync(path.join(rootfs, hostUp, 'sub')));
  });
});

describe('CVE-2025-31133 class: maskedPaths hold when the image plants symlinks', () => {
  it('an image /dev/null symlinked to a host file is replaced, and masks use the real null device', () => {
    const b = bundle((s) => {
      // the image's own /dev is used (no tmpfs), so its planted /dev/null is what runc would bind
      s.mounts = s.mounts!.filter((m) => m.destination !== '/dev' && !m.destination.startsWith('/dev/'));
      s.linux!.maskedPaths = ['/proc/keys', '/proc/timer_list', '/secret-link'];
      s.process!.args = [
        'sh',
        '-c',
        'echo "keys=$(wc -c < /proc/keys) timer=$(wc -c < /proc/timer_list) secret=$(wc -c < /secret.txt)"; ' +
          'ls -l /dev/null; echo hacked > /proc/keys 2>&1; echo done',
      ];
    });
    const rootfs = path.join(b.dir, 'rootfs');
    mkdirSync(path.join(rootfs, 'dev'), { recursive: true });
    symlinkSync('/proc/sys/kernel/core_pattern', path.join(rootfs, 'dev/null'));
    writeFileSync(path.join(rootfs, 'secret.txt'), 'SECRET\n');
    symlinkSync('/secret.txt', path.join(rootfs, 'secret-link'));
    const corePattern = readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
    const r = berthRunc(stateDir(), ['run', '--bundle', b.dir, uniqueId('mask')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /keys=0 timer=0 secret=0/);
    assert.match(r.stdout, /^crw-rw-rw-\s+1 \S+\s+\S+\s+1,\s+3 .* \/dev\/null$/m, 'a real null device replaced the symlink');
    assert.equal(readFileSync('/proc/sys/kernel/core_pattern', 'utf8'), corePattern, 'host core_pattern untouched');
  });
});
