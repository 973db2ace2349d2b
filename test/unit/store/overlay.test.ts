import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeSys } from '../../../src/sys/fake.ts';
import { mountOverlay } from '../../../src/store/overlay.ts';

test('without the new mount API, overlay falls back to mount(2) with paths relative to a common base', () => {
  const sys = new FakeSys(); // its fsopen fails with ENOSYS, like a kernel before 5.2
  const cwd = process.cwd();
  const base = mkdtempSync(join(tmpdir(), 'berth-overlay-'));
  const lower = (i: number) => `${base}/snapshots/${String(i).padStart(64, '0')}/fs`;
  try {
    mountOverlay(sys, { lowerdirs: [lower(2), lower(1)], upper: `${base}/rootfs/c1/upper`, work: `${base}/rootfs/c1/work`, target: '/mnt/x' });
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  const m = sys.calls.find((c) => c.op === 'mount');
  assert.ok(m);
  assert.equal(m.args[2], 'overlay');
  assert.equal(
    m.args[4],
    `lowerdir=snapshots/${'0'.repeat(63)}2/fs:snapshots/${'0'.repeat(63)}1/fs,upperdir=rootfs/c1/upper,workdir=rootfs/c1/work`,
  );
  assert.equal(process.cwd(), cwd, 'the working directory is restored');
});

test('a single read-only layer is a read-only bind mount', () => {
  const sys = new FakeSys();
  mountOverlay(sys, { lowerdirs: ['/s/1/fs'], target: '/mnt/y', readonly: true });
  assert.deepEqual(sys.calls.filter((c) => c.op === 'mount').map((c) => c.args[0]), ['/s/1/fs', 'none']);
});
