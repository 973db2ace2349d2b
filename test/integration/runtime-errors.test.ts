/**
 * Bad bundles: each gives one clear line on stderr and a non-zero status, and leaves no
 * state, cgroup, mount or process behind.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Spec } from '../../src/oci/runtime-spec.ts';
import { berthRunc, leftoverCgroups, makeBundle, mountsMatching, removeCgroups, tempDir, uniqueId } from '../helpers/fixtures.ts';

const CG = `berth-errtest-${process.pid}`;
const dirs: string[] = [];
after(() => {
  removeCgroups(CG);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function expectCleanFailure(bundleDir: string, pattern: RegExp, verb: 'run' | 'create' = 'run') {
  const st = tempDir('state');
  dirs.push(st);
  const id = uniqueId('bad');
  const r = berthRunc(st, [verb, '--bundle', bundleDir, id]);
  assert.notEqual(r.status, 0);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
  assert.match(lines[0]!, /^berth-runc: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(berthRunc(st, ['list', '-q']).stdout, '', 'no state left');
  assert.deepEqual(leftoverCgroups(`${CG}/x`), [], "no cgroup left");
  assert.deepEqual(mountsMatching(bundleDir), [], 'no mount left');
  const s = berthRunc(st, ['state', id]);
  assert.notEqual(s.status, 0);
  assert.match(s.stderr, /does not exist/);
}

function bundle(mutate: (s: Spec) => void) {
  const b = makeBundle((s) => {
    s.linux!.cgroupsPath = `/${CG}/x`;
    mutate(s);
  });
  dirs.push(b.dir);
  return b;
}

describe('bad bundles', () => {
  it('a missing rootfs', () => {
    const b = bundle((s) => (s.root = { path: 'no-such-rootfs' }));
    expectCleanFailure(b.dir, /rootfs .*no-such-rootfs does not exist/);
  });

  it('invalid JSON', () => {
    const b = bundle(() => {});
    writeFileSync(path.join(b.dir, 'config.json'), '{"ociVersion": "1.2.0", ');
    expectCleanFailure(b.dir, /config\.json is not valid JSON/);
  });

  it('no config.json at all', () => {
    const d = tempDir('empty');
    dirs.push(d);
    expectCleanFailure(d, /has no config\.json/);
  });

  it('an unknown namespace type', () => {
    const b = bundle((s) => s.linux!.namespaces!.push({ type: 'bogus' as never }));
    expectCleanFailure(b.dir, /unknown namespace type "bogus"/);
  });

  it('an argv that does not exist (run and create)', () => {
    const b = bundle((s) => (s.process!.args = ['/no/such/program']));
    expectCleanFailure(b.dir, /exec: "\/no\/such\/program"/);
    const b2 = bundle((s) => (s.process!.args = ['no-such-program']));
    expectCleanFailure(b2.dir, /executable file not found in \$PATH/, 'create');
  });

  it('a hook that fails', () => {
    const b = bundle((s) => (s.hooks = { createRuntime: [{ path: '/bin/false' }] }));
    expectCleanFailure(b.dir, /createRuntime hook \/bin\/false failed/);
    const b2 = bundle((s) => (s.hooks = { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 9'] }] }));
    expectCleanFailure(b2.dir, /createContainer hook \/bin\/sh failed \(exit status 9\)/);
  });

  it('a limit the kernel refuses (rlimit above the hard limit we may not raise)', () => {
    const b = bundle((s) => (s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1 << 30, hard: 1 << 30 }]));
    expectCleanFailure(b.dir, /rlimit/);
  });

  it('an unknown rlimit and a non-namespaced sysctl', () => {
    expectCleanFailure(bundle((s) => (s.process!.rlimits = [{ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }])).dir, /unknown rlimit type "RLIMIT_BOGUS"/);
    expectCleanFailure(bundle((s) => (s.linux!.sysctl = { 'vm.swappiness': '10' })).dir, /sysctl "vm\.swappiness" is not namespaced/);
  });

  it('an id that is already taken, and an invalid id', () => {
    const b = bundle((s) => (s.process!.args = ['true']));
    const st = tempDir('state');
    dirs.push(st);
    const r1 = berthRunc(st, ['run', '--keep', '--bundle', b.dir, 'same']);
    assert.equal(r1.status, 0, r1.stderr);
    const r2 = berthRunc(st, ['run', '--bundle', b.dir, 'same']);
    assert.equal(r2.status, 1);
    assert.equal(r2.stderr, 'berth-runc: container "same" already exists\n');
    assert.equal(berthRunc(st, ['delete', 'same']).status, 0);
    const r3 = berthRunc(st, ['run', '--bundle', b.dir, '../evil']);
    assert.equal(r3.stderr, 'berth-runc: invalid container id "../evil"\n');
  });
});
