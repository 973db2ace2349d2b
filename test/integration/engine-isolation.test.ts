/**
 * Isolation from inside a default container: its own PID 1 and hostname, no host processes,
 * only `lo`, Docker's default capabilities, the default seccomp profile, a read-only
 * /proc/sysrq-trigger, and /dev with only the default devices.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { engineRoot } from '../helpers/engine.ts';

// CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
const DOCKER_DEFAULT_CAPS = '00000000a80425fb';

describe('isolation, seen from inside', () => {
  const e = engineRoot('isolation');
  after(() => e.teardown());

  it('PID 1, hostname, processes, network, capabilities, sysrq, devices', () => {
    const script = [
      'echo "pid1=$(cat /proc/1/comm)"',
      'echo "nprocs=$(ls -d /proc/[0-9]* | wc -l)"',
      'echo "hostname=$(hostname)"',
      'echo "ifaces=$(ls /sys/class/net | tr "\\n" " ")"',
      'grep CapEff /proc/self/status',
      'echo 1 > /proc/sysrq-trigger 2>/dev/null; echo "sysrq=$?"',
      'echo "devs=$(ls /dev | tr "\\n" " ")"',
    ].join('; ');
    const r = e.berth(['run', '--rm', '-h', 'inner', '--network', 'none', 'busybox', 'sh', '-c', script]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^pid1=sh$/m);
    // sh, plus the ls and wc of the pipeline (and the subshell): never the host's hundreds
    assert.ok(Number(/nprocs=(\d+)/.exec(r.stdout)![1]) <= 4, r.stdout);
    assert.match(r.stdout, /^hostname=inner$/m);
    assert.match(r.stdout, /^ifaces=lo $/m);
    assert.match(r.stdout, new RegExp(`^CapEff:\\t${DOCKER_DEFAULT_CAPS}$`, 'm'));
    assert.match(r.stdout, /^sysrq=1$/m);
    assert.match(r.stdout, /^devs=fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero $/m);
  });

  it('the default seccomp profile refuses what it should, with EPERM (and unconfined does not)', () => {
    // unshare(CLONE_NEWUSER) needs no capability: only seccomp stands in its way
    const r = e.berth(['run', '--rm', 'busybox', 'unshare', '-U', 'true']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Operation not permitted/);
    const u = e.berth(['run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox', 'unshare', '-U', 'true']);
    assert.equal(u.status, 0, u.stderr);
  });

  it('--privileged has every capability; --cap-drop/--cap-add change the set', () => {
    const p = e.berth(['run', '--rm', '--privileged', 'busybox', 'grep', 'CapEff', '/proc/self/status']);
    // every capability this host has in its bounding set (here all but CAP_SYS_RESOURCE)
    const hostBnd = /^CapBnd:\t([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1];
    assert.equal(p.stdout, `CapEff:\t${hostBnd}\n`, p.stderr);
    const d = e.berth(['run', '--rm', '--cap-drop', 'ALL', '--cap-add', 'NET_RAW', 'busybox', 'grep', 'CapEff', '/proc/self/status']);
    assert.match(d.stdout, /CapEff:\t0000000000002000/);
  });
});
