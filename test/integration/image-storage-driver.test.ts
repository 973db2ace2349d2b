/**
 * `berth --storage-driver overlay|vfs` (and BERTH_STORAGE_DRIVER, kept) decides how
 * `RootfsManager.prepare` builds a container's root filesystem: `create` goes through it, and the
 * lease it writes records the driver.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { berth, busyboxTarball, cleanup, ok, tempDir } from './image-helpers.ts';

const skip = process.getuid?.() !== 0 ? 'needs root' : existsSync('/bin/busybox') ? false : 'needs /bin/busybox';
let dir = '';
let root = '';

before(() => {
  if (skip) return;
  dir = tempDir('driver');
  root = join(dir, 'root');
  ok(berth(root, ['import', '-c', 'CMD ["/bin/sh"]', busyboxTarball(dir), 'drv:1']), 'import');
});
after(() => {
  if (dir) cleanup(dir);
});

/** Creates a container with `globals` before the command and returns its lease's driver. */
function created(globals: string[], env?: NodeJS.ProcessEnv): { id: string; driver: string } {
  const id = ok(berth(root, [...globals, 'create', 'drv:1'], undefined, env), 'create').stdout.trim();
  const lease = JSON.parse(readFileSync(join(root, 'rootfs', id, 'lease.json'), 'utf8')) as { driver: string };
  return { id, driver: lease.driver };
}

const without = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env.BERTH_STORAGE_DRIVER;
  return env;
};

test('--storage-driver vfs gives a container a private copy of the image', { skip }, () => {
  const c = created(['--storage-driver', 'vfs'], without());
  assert.equal(c.driver, 'vfs');
  assert.ok(existsSync(join(root, 'rootfs', c.id, 'rootfs', 'bin', 'busybox')), 'the layers were copied');
  assert.equal(existsSync(join(root, 'rootfs', c.id, 'upper')), false);
});

test('--storage-driver overlay gives it an upper and a work directory', { skip }, () => {
  const c = created(['--storage-driver', 'overlay'], without());
  assert.equal(c.driver, 'overlay');
  assert.ok(existsSync(join(root, 'rootfs', c.id, 'upper')));
  assert.equal(existsSync(join(root, 'rootfs', c.id, 'rootfs')), false);
});

test('BERTH_STORAGE_DRIVER still works, and the option wins over it', { skip }, () => {
  assert.equal(created([], { ...without(), BERTH_STORAGE_DRIVER: 'vfs' }).driver, 'vfs');
  assert.equal(created(['--storage-driver', 'overlay'], { ...without(), BERTH_STORAGE_DRIVER: 'vfs' }).driver, 'overlay');
});

test('an unknown driver is refused before anything runs', { skip }, () => {
  const r = berth(root, ['--storage-driver', 'zfs', 'create', 'drv:1'], undefined, without());
  assert.equal(r.code, 125);
  assert.match(r.stderr, /'zfs' is invalid\. Allowed choices are overlay, vfs/);
  const e = berth(root, ['images'], undefined, { ...without(), BERTH_STORAGE_DRIVER: 'zfs' });
  assert.equal(e.code, 125);
  assert.match(e.stderr, /BERTH_STORAGE_DRIVER/);
});
