/**
 * Whiteouts end to end: a three-layer image that deletes a file and replaces a directory
 * (opaque). Checked on the snapshots (overlay form), through a real overlay mount of a prepared
 * container rootfs (from the host), through the vfs fallback, and after `image squash`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { berth, cleanup, dockerArchive, ok, tarOf, tempDir } from './image-helpers.ts';
import { Store } from '../../src/store/store.ts';
import { RootfsManager } from '../../src/store/rootfs.ts';
import type { Digest } from '../../src/store/digest.ts';

const skip = process.getuid?.() !== 0 ? 'needs root' : false;
let dir = '';
let root = '';
let id: Digest;

/** The visible tree below `top`: path → file content, 'dir', or '-> target'. */
function tree(top: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const n of readdirSync(join(top, rel)).sort()) {
      const p = rel ? `${rel}/${n}` : n;
      const st = lstatSync(join(top, p));
      if (st.isDirectory()) {
        out[p] = 'dir';
        walk(p);
      } else if (st.isCharacterDevice()) out[p] = `chr ${st.rdev}`;
      else out[p] = readFileSync(join(top, p), 'utf8');
    }
  };
  walk('');
  return out;
}

const EXPECTED = { a: 'dir', 'a/keep': 'keep v2', d: 'dir', 'd/z': 'z', new: 'new' };

before(async () => {
  if (skip) return;
  dir = tempDir('whiteout');
  root = join(dir, 'root');
  const l1 = await tarOf([
    { name: 'a/', type: 'directory' },
    { name: 'a/file1', body: 'one' },
    { name: 'a/keep', body: 'keep' },
    { name: 'd/', type: 'directory' },
    { name: 'd/x', body: 'x' },
    { name: 'd/sub/y', body: 'y' },
  ]);
  const l2 = await tarOf([{ name: 'a/.wh.file1' }, { name: 'd/', type: 'directory' }, { name: 'd/.wh..wh..opq' }, { name: 'd/z', body: 'z' }]);
  const l3 = await tarOf([{ name: 'new', body: 'new' }, { name: 'a/keep', body: 'keep v2' }]);
  writeFileSync(join(dir, 'three.tar'), await dockerArchive([l1, l2, l3], 'three:layers'));
  ok(berth(root, ['load', '-i', join(dir, 'three.tar')]));
  id = JSON.parse(ok(berth(root, ['image', 'inspect', 'three:layers'])).stdout)[0].Id;
});

after(() => {
  if (!dir) return;
  cleanup(dir); // unmounts whatever is still mounted below dir (e.g. after a failed assertion), then removes it
});

test('the middle snapshot holds an overlay whiteout and an opaque directory', { skip }, async () => {
  const store = await Store.open(root);
  const rec = store.images.get(id)!;
  assert.equal(rec.layers.length, 3);
  const mid = store.snapshots.fsPath(rec.layers[1]!.chainID);
  const wh = lstatSync(join(mid, 'a/file1'));
  assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'a/file1 is a 0:0 char device');
  assert.deepEqual(store.sys.lgetxattr(join(mid, 'd'), 'trusted.overlay.opaque'), Buffer.from('y'));
});

test('an overlay mount of a prepared container rootfs shows the merged tree', { skip }, async () => {
  const store = await Store.open(root);
  const rootfs = new RootfsManager(store);
  const prepared = await rootfs.prepare('ctr-overlay', id, { driver: 'overlay' });
  assert.equal(prepared.driver, 'overlay');
  const target = join(dir, 'mnt');
  mkdirSync(target);
  rootfs.mount(prepared, target);
  try {
    assert.deepEqual(tree(target), EXPECTED);
    writeFileSync(join(target, 'written'), 'by the container');
    if (prepared.driver === 'overlay') assert.equal(readFileSync(join(prepared.upper, 'written'), 'utf8'), 'by the container');
  } finally {
    rootfs.unmount(target);
  }
  assert.equal(existsSync(join(target, 'new')), false, 'unmounted');
});

test('rmi refuses an image a container uses; removing the container frees it', { skip }, async () => {
  const r = berth(root, ['rmi', 'three:layers']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /container ctr-overlay is using/);
  const store = await Store.open(root);
  await new RootfsManager(store).remove('ctr-overlay');
  ok(berth(root, ['tag', 'three:layers', 'three:again']));
  ok(berth(root, ['rmi', 'three:again']));
});

test('the vfs fallback builds the same tree by copying', { skip }, async () => {
  const store = await Store.open(root);
  const rootfs = new RootfsManager(store);
  const prepared = await rootfs.prepare('ctr-vfs', id, { driver: 'vfs' });
  assert.equal(prepared.driver, 'vfs');
  if (prepared.driver === 'vfs') assert.deepEqual(tree(prepared.rootfs), EXPECTED);
  await rootfs.remove('ctr-vfs');
});

test('squash merges the layers into one with whiteouts applied', { skip }, async () => {
  ok(berth(root, ['image', 'squash', 'three:layers', 'three:squashed']));
  const store = await Store.open(root);
  const img = JSON.parse(ok(berth(root, ['image', 'inspect', 'three:squashed'])).stdout)[0];
  assert.equal(img.RootFS.Layers.length, 1);
  const rec = store.images.get(img.Id)!;
  assert.deepEqual(tree(store.snapshots.fsPath(rec.layers[0]!.chainID)), EXPECTED);
  const hist = ok(berth(root, ['history', 'three:squashed'])).stdout;
  assert.match(hist, /berth image squash/);
});

test('a 70-layer image mounts (lowerdirs beyond one page of mount data)', { skip }, async () => {
  const layers: Buffer[] = [];
  for (let i = 0; i < 70; i++) layers.push(await tarOf([{ name: `l${i}`, body: String(i) }, { name: 'top', body: `layer ${i}` }]));
  writeFileSync(join(dir, 'tall.tar'), await dockerArchive(layers, 'tall:1'));
  ok(berth(root, ['load', '-i', join(dir, 'tall.tar')]));
  const tallId = JSON.parse(ok(berth(root, ['image', 'inspect', 'tall:1'])).stdout)[0].Id;
  const store = await Store.open(root);
  const rootfs = new RootfsManager(store);
  const prepared = await rootfs.prepare('ctr-tall', tallId, { driver: 'overlay' });
  if (prepared.driver === 'overlay') assert.ok(prepared.lowerdirs.join(':').length > 4096);
  const target = join(dir, 'mnt-tall');
  mkdirSync(target);
  rootfs.mount(prepared, target);
  try {
    assert.equal(readFileSync(join(target, 'top'), 'utf8'), 'layer 69');
    assert.equal(readdirSync(target).length, 71);
  } finally {
    rootfs.unmount(target);
  }
  await rootfs.remove('ctr-tall');
});

test('run: the container sees the merged tree, before and after squash', { skip }, () => {
  // the image has no shell of its own: the host's static busybox is bound in read-only
  const look = 'cat /a/keep; echo; ls /a; ls /d; cat /new; echo; ls /d/sub 2>&1; cat /a/file1 2>&1; exit 0';
  for (const ref of ['three:layers', 'three:squashed']) {
    const r = berth(root, ['run', '--rm', '--network', 'none', '-v', '/bin/busybox:/bin/busybox:ro', ref, '/bin/busybox', 'sh', '-c', look]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.deepEqual(lines.slice(0, 4), ['keep v2', 'keep', 'z', 'new'], `${ref}: ${r.stdout}`);
    assert.match(r.stdout, /\/d\/sub: No such file or directory/, 'the opaque directory hides the lower d/sub');
    assert.match(r.stdout, /can't open '\/a\/file1': No such file or directory/, 'the whiteout deletes a/file1');
  }
});
