import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import tarStream from 'tar-stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeSys } from '../../../src/sys/fake.ts';
import { Store } from '../../../src/store/store.ts';
import { importTarball } from '../../../src/image/import.ts';
import { resolveImage } from '../../../src/image/resolve.ts';
import { pruneImages, removeImages, tagImage } from '../../../src/image/remove.ts';
import { listImages } from '../../../src/image/query.ts';
import { defaultDriver, RootfsManager } from '../../../src/store/rootfs.ts';
import { BadStateError, InvalidArgumentError, NotFoundError } from '../../../src/common/errors.ts';
import { loadImages } from '../../../src/image/load.ts';
import { UnsafeLayerError } from '../../../src/unpack/errors.ts';
import { makeTar } from '../unpack/tars.ts';

let root: string;
let store: Store;
let tarPath: string;
beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'berth-images-'));
  store = await Store.open(join(root, 'store'), { sys: new FakeSys() });
  tarPath = join(root, 'rootfs.tar');
  writeFileSync(tarPath, await makeTar([{ name: 'bin/sh', body: 'sh', mode: 0o755 }, { name: 'etc/hosts', body: '127.0.0.1 localhost\n' }]));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

test('import, tag, resolve by name, short ID and localhost/ alias', async () => {
  const id = await importTarball(store, tarPath, 'bb:1', { changes: ['CMD ["/bin/sh"]'] });
  assert.equal(resolveImage(store, 'bb:1').record.id, id);
  assert.equal(resolveImage(store, id.slice(7, 19)).record.id, id);
  await tagImage(store, 'bb:1', 'localhost/other:x');
  assert.equal(resolveImage(store, 'other:x').record.id, id, 'short names also find localhost/ images');
  assert.throws(() => resolveImage(store, 'nope'), NotFoundError);
  const rows = listImages(store);
  assert.deepEqual(rows.map((r) => `${r.Repository}:${r.Tag}`).sort(), ['bb:1', 'localhost/other:x']);
  assert.equal(store.snapshots.list().length, 1);
});

test('rmi untags, then deletes and collects blobs and snapshots', async () => {
  const id = await importTarball(store, tarPath, 'bb:1');
  await tagImage(store, 'bb:1', 'bb:2');
  await assert.rejects(removeImages(store, [id.slice(7, 19)]), BadStateError, 'an ID with several tags needs -f');
  let r = await removeImages(store, ['bb:1']);
  assert.deepEqual(r.untagged, ['bb:1']);
  assert.deepEqual(r.deleted, []);
  r = await removeImages(store, ['bb:2']);
  assert.deepEqual(r.deleted, [id]);
  assert.deepEqual(readdirSync(store.layout.blobDir), []);
  assert.deepEqual(store.snapshots.list(), []);
});

test('an image used by a container survives rmi (unless -f) and prune; its snapshots survive GC', async () => {
  const id = await importTarball(store, tarPath, 'bb:1');
  const rootfs = new RootfsManager(store);
  const p = await rootfs.prepare('c1', id, { driver: 'overlay' });
  assert.equal(p.driver, 'overlay');
  if (p.driver === 'overlay') {
    assert.equal(p.lowerdirs.length, 1);
    assert.ok(existsSync(p.upper) && existsSync(p.work));
  }
  await assert.rejects(removeImages(store, ['bb:1']), /container c1 is using/);
  const pr = await pruneImages(store, { all: true });
  assert.deepEqual(pr.deleted, []);
  const r = await removeImages(store, ['bb:1'], { force: true });
  assert.deepEqual(r.untagged, ['bb:1']);
  assert.deepEqual(r.deleted, [], 'the record stays while a container holds it');
  assert.equal(store.snapshots.list().length, 1);
  await rootfs.remove('c1');
  const after = await pruneImages(store);
  assert.deepEqual(after.deleted, [id]);
  assert.deepEqual(store.snapshots.list(), []);
});

test('GC removes leftovers of killed processes', async () => {
  await importTarball(store, tarPath, 'bb:1');
  writeFileSync(join(store.layout.ingestDir, 'stale'), 'half a blob');
  mkdirSync(join(store.layout.snapshotDir, '.tmp-dead', 'fs'), { recursive: true });
  await pruneImages(store);
  assert.deepEqual(readdirSync(store.layout.ingestDir), []);
  assert.deepEqual(readdirSync(store.layout.snapshotDir).filter((n) => n.startsWith('.')), []);
  assert.equal(listImages(store).length, 1);
});

test('images filters: before, since and label, as Docker applies them', async () => {
  const tick = () => new Promise((r) => setTimeout(r, 5));
  await importTarball(store, tarPath, 'f:a', { changes: ['LABEL tier=base owner=ops'] });
  await tick();
  await importTarball(store, tarPath, 'f:b', { changes: ['LABEL tier=app'] });
  await tick();
  await importTarball(store, tarPath, 'f:c', { changes: ['LABEL tier=app note=x=y'] });
  const tags = (o: Parameters<typeof listImages>[1]) => listImages(store, o).map((r) => r.Tag);
  assert.deepEqual(tags({}), ['c', 'b', 'a']);
  assert.deepEqual(tags({ before: ['f:c'] }), ['b', 'a']);
  assert.deepEqual(tags({ since: ['f:a'] }), ['c', 'b']);
  assert.deepEqual(tags({ since: ['f:a'], before: ['f:c'] }), ['b']);
  assert.deepEqual(tags({ before: ['f:c', 'f:b'] }), ['a'], 'several before: before the oldest of them');
  assert.deepEqual(tags({ since: ['f:a', 'f:b'] }), ['c'], 'several since: after the newest of them');
  assert.deepEqual(tags({ labels: ['tier=app'] }), ['c', 'b']);
  assert.deepEqual(tags({ labels: ['owner'] }), ['a'], 'a key alone: the label is set');
  assert.deepEqual(tags({ labels: ['note=x=y'] }), ['c'], "a value may contain '='");
  assert.deepEqual(tags({ labels: ['tier=app', 'owner'] }), [], 'every label filter must hold');
  assert.throws(() => listImages(store, { since: ['nope:1'] }), NotFoundError);
});

test('prepare takes its driver from BERTH_STORAGE_DRIVER (what berth --storage-driver sets)', async () => {
  const id = await importTarball(store, tarPath, 'bb:1');
  const saved = process.env.BERTH_STORAGE_DRIVER;
  try {
    process.env.BERTH_STORAGE_DRIVER = 'vfs';
    const p = await new RootfsManager(store).prepare('c1', id);
    assert.equal(p.driver, 'vfs');
    if (p.driver === 'vfs') assert.ok(existsSync(join(p.rootfs, 'bin', 'sh')));
    process.env.BERTH_STORAGE_DRIVER = 'zfs';
    assert.throws(() => defaultDriver(), InvalidArgumentError);
    await assert.rejects(new RootfsManager(store).prepare('c2', id), /unknown storage driver "zfs"/);
    delete process.env.BERTH_STORAGE_DRIVER;
    assert.ok(['overlay', 'vfs'].includes(defaultDriver()));
  } finally {
    if (saved === undefined) delete process.env.BERTH_STORAGE_DRIVER;
    else process.env.BERTH_STORAGE_DRIVER = saved;
  }
});

test('a refused load stores nothing: its verified blobs are collected before it returns', async () => {
  const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const good = await makeTar([{ name: 'ok', body: 'fine' }]);
  const evil = await makeTar([{ name: '../escape', body: 'x' }]);
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(good), sha(evil)] } });
  const pack = tarStream.pack();
  pack.entry({ name: 'config.json' }, config);
  pack.entry({ name: 'good/layer.tar' }, good);
  pack.entry({ name: 'evil/layer.tar' }, evil);
  pack.entry({ name: 'manifest.json' }, JSON.stringify([{ Config: 'config.json', RepoTags: ['evil:1'], Layers: ['good/layer.tar', 'evil/layer.tar'] }]));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  const archive = join(root, 'evil.tar');
  writeFileSync(archive, Buffer.concat(chunks));
  await assert.rejects(loadImages(store, archive), UnsafeLayerError);
  assert.deepEqual(readdirSync(store.layout.blobDir), []);
  assert.deepEqual(readdirSync(store.layout.snapshotDir), [], 'the good layer was unpacked, then discarded with the image');
  assert.deepEqual(readdirSync(store.layout.ingestDir), []);
  assert.deepEqual(listImages(store), []);
});
