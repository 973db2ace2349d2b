/**
 * A real client: podman drives berth-runc as its OCI runtime (create/start/state/kill/delete,
 * exec, the console socket) on a locally imported busybox image, with a private podman store.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BERTH_RUNC, busyboxRootfs, runTool, tempDir, type RunResult } from '../helpers/fixtures.ts';

const hasPodman = spawnSync('podman', ['--version']).status === 0;
const IMAGE = 'localhost/berth-test-busybox:1';

describe('podman --runtime berth-runc', { skip: !hasPodman && 'podman is not installed' }, () => {
  const dir = tempDir('podman');
  // This host's bounding set lacks CAP_SYS_RESOURCE, so podman's default ulimits cannot be
  // applied; the override lives in a containers.conf used only by this test.
  const conf = path.join(dir, 'containers.conf');
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const base = ['--root', path.join(dir, 'store'), '--runroot', path.join(dir, 'run'), '--runtime', BERTH_RUNC];
  // conmon's cleanup process does not carry --runtime-flag, so podman's containers live in
  // berth-runc's default state root; the suite checks it adds nothing there that outlives it.
  const listIds = () => new Set(runTool(BERTH_RUNC, ['list', '-q']).stdout.split('\n').filter(Boolean));
  const before0 = listIds();
  const podman = (args: string[], opts: { input?: string } = {}): RunResult =>
    runTool('podman', [...base, ...args], { env, timeout: 120_000, ...opts });

  before(() => {
    writeFileSync(
      conf,
      '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n',
    );
    const tar = spawnSync('tar', ['-C', busyboxRootfs(), '-c', '.'], { maxBuffer: 64 << 20 });
    const r = spawnSync('podman', [...base, 'import', '-', IMAGE], { input: tar.stdout, env, encoding: 'utf8' });
    assert.equal(r.status, 0, `podman import: ${r.stderr}`);
  });
  after(() => {
    podman(['rm', '-af', '-t', '0']);
    spawnSync('podman', [...base, 'system', 'reset', '-f'], { env });
    spawnSync('umount', ['-R', path.join(dir, 'store', 'overlay')]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs echo', () => {
    const r = podman(['run', '--rm', IMAGE, 'echo', 'hello from berth-runc']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'hello from berth-runc\n');
  });

  it('applies -m 8m (visible inside)', () => {
    const r = podman(['run', '--rm', '-m', '8m', IMAGE, 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), String(8 << 20));
  });

  it('applies --pids-limit', () => {
    const r = podman(['run', '--rm', '--pids-limit', '7', IMAGE, 'cat', '/sys/fs/cgroup/pids/pids.max']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '7');
  });

  it('returns the exit code', () => {
    assert.equal(podman(['run', '--rm', IMAGE, 'sh', '-c', 'exit 3']).status, 3);
  });

  it('gives 127 for a command that does not exist', () => {
    const r = podman(['run', '--rm', IMAGE, 'no-such-command']);
    assert.equal(r.status, 127);
    assert.match(r.stderr, /executable file not found/);
  });

  it('allocates a terminal through the console socket (-t)', () => {
    const r = podman(['run', '--rm', '-t', IMAGE, 'sh', '-c', 'tty && test -t 0 && echo is-a-tty']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\/dev\/pts\/\d+\r?\n/);
    assert.match(r.stdout, /is-a-tty/);
  });

  it('execs into a running container, with and without a terminal', () => {
    const name = `exec-${process.pid}`;
    const d = podman(['run', '-d', '--name', name, IMAGE, 'sleep', '300']);
    assert.equal(d.status, 0, d.stderr);
    try {
      const e = podman(['exec', name, 'sh', '-c', 'echo inside; exit 4']);
      assert.equal(e.status, 4, e.stderr);
      assert.equal(e.stdout, 'inside\n');
      const t = podman(['exec', '-t', name, 'tty']);
      assert.equal(t.status, 0, t.stderr);
      assert.match(t.stdout, /^\/dev\/pts\/\d+/);
    } finally {
      assert.equal(podman(['rm', '-f', '-t', '0', name]).status, 0);
    }
    const left = [...listIds()].filter((id) => !before0.has(id));
    assert.deepEqual(left, [], 'no container left in berth-runc state');
  });
});
