/**
 * config.json features, each checked from inside the container: user namespaces and id maps,
 * joining namespaces by path, sysctl, read-only root, chroot (--no-pivot), rlimits,
 * no_new_privs, oom_score_adj, extra devices, domainname and seccomp actions.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import type { Spec } from '../../src/oci/runtime-spec.ts';
import { berthRunc, berthRuncDetached, makeBundle, removeCgroups, tempDir, uniqueId } from '../helpers/fixtures.ts';

const CG = `berth-cfgtest-${process.pid}`;
const dirs: string[] = [];
const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups) c();
  removeCgroups(CG);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function runScript(script: string, mutate: (s: Spec) => void = () => {}, extra: string[] = []) {
  const b = makeBundle((s) => {
    s.process!.args = ['sh', '-c', script];
    s.linux!.cgroupsPath = `/${CG}/${uniqueId('c')}`;
    mutate(s);
  });
  const st = tempDir('state');
  dirs.push(b.dir, st);
  return berthRunc(st, ['run', ...extra, '--bundle', b.dir, uniqueId('cfg')]);
}

describe('config.json features, seen from inside', () => {
  it('user namespace with uid/gid mappings', () => {
    const r = runScript('id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; ls -ln /dev/null; echo ok > /tmp/w && cat /tmp/w', (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 1 }, { containerID: 1, hostID: 200000, size: 65535 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 0, size: 1 }, { containerID: 1, hostID: 200000, size: 65535 }];
    });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
    assert.deepEqual(lines.slice(0, 6), ['0', '0', '0 0 1', '1 200000 65535', '0 0 1', '1 200000 65535']);
    assert.match(r.stdout, /crw-rw-rw- +1 0 +0 +1, +3 .*\/dev\/null/, 'the host /dev/null is bound in (mknod is refused in a user namespace)');
    assert.match(r.stdout, /^ok$/m);
  });

  it('joins an existing network namespace by path', async () => {
    const b = makeBundle((s) => {
      s.process!.args = ['sleep', '300'];
      s.linux!.cgroupsPath = `/${CG}/holder`;
    });
    const st = tempDir('state');
    dirs.push(b.dir, st);
    const id = uniqueId('holder');
    cleanups.push(() => berthRunc(st, ['delete', '-f', id]));
    assert.equal(berthRuncDetached(st, ['run', '-d', '--bundle', b.dir, id]).status, 0);
    const pid = JSON.parse(berthRunc(st, ['state', id]).stdout).pid as number;
    const want = statSync(`/proc/${pid}/ns/net`).ino;
    const r = runScript('readlink /proc/self/ns/net', (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: `/proc/${pid}/ns/net` } : n));
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), `net:[${want}]`);
    assert.notEqual(want, statSync('/proc/self/ns/net').ino);
  });

  it('sysctl, domainname, rlimits, no_new_privs, oom_score_adj, umask and extra devices', () => {
    const r = runScript(
      'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/kernel/domainname; ulimit -n; ulimit -Hn; ' +
        'grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj; umask; ls -l /dev/fuse; ip link show lo | grep -c UP',
      (s) => {
        s.linux!.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '123456789' };
        s.domainname = 'example.org';
        s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 1000 }];
        s.process!.noNewPrivileges = true;
        s.process!.oomScoreAdj = 300;
        s.process!.user.umask = 0o027;
        s.linux!.devices = [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o640, uid: 0, gid: 0 }];
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const l = r.stdout.split('\n');
    assert.deepEqual(l.slice(0, 5), ['1', '123456789', 'example.org', '512', '1000']);
    assert.match(l[5]!, /NoNewPrivs:\s+1/);
    assert.equal(l[6], '300');
    assert.equal(l[7], '0027');
    assert.match(l[8]!, /^crw-r----- +1 root +root +10, +229 /);
    assert.equal(l[9], '1', 'loopback is up in the new network namespace');
    assert.equal(readFileSync('/proc/sys/kernel/shmmax', 'utf8').trim() === '123456789', false, 'the host sysctl is untouched');
  });

  it('a read-only root, with and without pivot_root', () => {
    for (const extra of [[], ['--no-pivot']]) {
      const r = runScript('touch /x 2>&1; echo status=$?; touch /dev/shm/y && echo shm-ok', (s) => (s.root!.readonly = true), extra);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /Read-only file system/);
      assert.match(r.stdout, /status=1/);
      assert.match(r.stdout, /shm-ok/);
    }
  });

  it('seccomp KILL_PROCESS ends the process with SIGSYS; arg conditions select', () => {
    const r = runScript('echo before; exec mkdir /tmp/d; echo after', (s) => {
      s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_KILL_PROCESS' }] };
    });
    assert.equal(r.stdout, 'before\n');
    assert.equal(r.status, 128 + 31, 'SIGSYS');
    // personality(0xffffffff) is a query: allowed; any other value is refused with EPERM
    const r2 = runScript('setarch linux32 true; echo "linux32=$?"; uname -m', (s) => {
      s.linux!.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] }],
      };
    });
    assert.equal(r2.status, 0, r2.stderr);
    assert.match(r2.stdout, /linux32=1/);
    assert.match(r2.stdout, /x86_64/);
  });
});
