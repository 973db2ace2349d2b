/**
 * The same busybox bundle run by runc and by berth-runc must look the same from inside:
 * hostname, ids, capabilities, the mount table's shape, masked paths, cgroup limits,
 * a seccomp-denied syscall and the exit status.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Spec } from '../../src/oci/runtime-spec.ts';
import { berthRunc, leftoverCgroups, makeBundle, removeCgroups, runc, tempDir, uniqueId, type RunResult } from '../helpers/fixtures.ts';

const SCRIPT = `echo "hostname=$(hostname)"
echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"
grep ^Cap /proc/self/status
awk '{split($4,o,","); print "mount", $2, $3, o[1]}' /proc/self/mounts | sort
echo "kcore=$(wc -c < /proc/kcore 2>/dev/null)"
echo "keys=$(wc -c < /proc/keys)"
echo "firmware=$(ls /sys/firmware | wc -l)"
echo "mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
echo "pids=$(cat /sys/fs/cgroup/pids/pids.max)"
mkdir /tmp/x 2>&1; echo "mkdir=$?"
touch /proc/sys/kernel/hostname 2>&1 | sed 's/^touch: //'; echo "cwd=$(pwd)"
exit 7`;

const CG_PARENT = `berth-difftest-${process.pid}`;

function configure(name: string, user?: { uid: number; gid: number }) {
  return (s: Spec) => {
    s.process!.args = ['sh', '-c', SCRIPT];
    if (user) s.process!.user = { ...user, additionalGids: [65534] };
    s.process!.cwd = '/tmp';
    s.hostname = 'difftest';
    s.linux!.cgroupsPath = `/${CG_PARENT}/${name}`;
    s.linux!.resources = { ...s.linux!.resources, memory: { limit: 64 << 20 }, pids: { limit: 32 } };
    s.linux!.seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
    };
  };
}

/**
 * Two deliberate differences are normalised: masked files are bind mounts of the host's
 * /dev/null (devtmpfs) where runc binds the container's own (tmpfs) — ours cannot be
 * redirected by the image — and berth-runc remounts the /sys/fs/cgroup tmpfs read-only.
 */
function normalise(r: RunResult): string {
  return r.stdout
    .split('\n')
    .map((l) => l.replace(/^mount (\/proc\/(keys|timer_list|kcore|latency_stats|timer_stats|sched_debug)) \S+ /, 'mount $1 <null> '))
    .map((l) => l.replace(/^mount \/sys\/fs\/cgroup tmpfs \S+$/, 'mount /sys/fs/cgroup tmpfs <rw|ro>'))
    .join('\n');
}

describe('differential: runc and berth-runc on the same bundle', () => {
  const dirs: string[] = [];
  before(() => {
    removeCgroups(CG_PARENT);
  });
  after(() => {
    removeCgroups(CG_PARENT);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  for (const [label, user] of [
    ['root', undefined],
    ['nobody', { uid: 65534, gid: 65534 }],
  ] as const) {
    it(`gives the same view from inside (${label})`, () => {
      const results: Record<string, RunResult> = {};
      for (const [name, tool] of [
        ['runc', runc],
        ['berth', berthRunc],
      ] as const) {
        const b = makeBundle(configure(`${name}-${label}`, user));
        const state = tempDir('state');
        dirs.push(b.dir, state);
        results[name] = tool(state, ['run', '--bundle', b.dir, uniqueId(name)]);
      }
      const [r, b] = [results.runc!, results.berth!];
      assert.equal(r.status, 7, `runc ran the script: ${r.stderr}`);
      assert.equal(b.status, 7, `berth-runc exit status: ${b.stderr}`);
      assert.equal(normalise(b), normalise(r));
      // and the facts themselves, so that a change in both at once is noticed too
      assert.match(b.stdout, /^hostname=difftest$/m);
      assert.match(b.stdout, /^mem=67108864$/m);
      assert.match(b.stdout, /^pids=32$/m);
      assert.match(b.stdout, /Permission denied\nmkdir=1/);
      assert.match(b.stdout, /^keys=0$/m);
      assert.match(b.stdout, /^firmware=0$/m);
      assert.match(b.stdout, /^cwd=\/tmp$/m);
      assert.match(b.stdout, /Read-only file system/);
      if (user) {
        assert.match(b.stdout, /^uid=65534 gid=65534 groups=65534$/m);
        assert.match(b.stdout, /^CapEff:\t0000000000000000$/m);
      } else {
        assert.match(b.stdout, /^CapEff:\t0000000020000420$/m);
      }
      assert.deepEqual(leftoverCgroups(`${CG_PARENT}/berth-${label}`), [], 'berth-runc removed its cgroups');
    });
  }
});
