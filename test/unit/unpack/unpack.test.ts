import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { createHash, randomBytes } from 'node:crypto';
import { release, retain, SlabPool } from '../../../src/common/lent.ts';
import { FakeSys } from '../../../src/sys/fake.ts';
import { S } from '../../../src/sys/types.ts';
import { unpackLayer } from '../../../src/unpack/unpack.ts';
import { CorruptLayerError } from '../../../src/unpack/errors.ts';
import { CAP_NET_RAW, makePaxTar, makeTar } from './tars.ts';

let dir: string;
let target: string;
let sys: FakeSys;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-unpack-'));
  target = join(dir, 'target');
  mkdirSync(target);
  sys = new FakeSys();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const run = (tar: Buffer, whiteouts: 'overlay' | 'apply' = 'overlay', diffID?: string) =>
  unpackLayer(sys, Readable.from([tar]), target, { whiteouts, ...(diffID ? { diffID } : {}) });

test('files, dirs, symlinks, hardlinks, devices and metadata', async () => {
  const tar = await makeTar([
    { name: './', type: 'directory', mode: 0o755 },
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', body: 'BB', mode: 0o755, uid: 0 },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/su', body: 'SU', mode: 0o4755 },
    { name: 'bin/ash', type: 'link', linkname: 'bin/busybox' },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/fifo', type: 'fifo', mode: 0o600 },
    { name: 'home/u/f', body: 'x', uid: 1000, gid: 1000 },
  ]);
  const res = await run(tar);
  assert.equal(res.diffID, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
  assert.equal(res.size, 5);
  assert.equal(readFileSync(join(target, 'bin/busybox'), 'utf8'), 'BB');
  assert.equal(readlinkSync(join(target, 'bin/sh')), 'busybox');
  assert.equal(lstatSync(join(target, 'bin/ash')).ino, lstatSync(join(target, 'bin/busybox')).ino);
  assert.equal(lstatSync(join(target, 'bin/su')).mode & 0o7777, 0o4755);
  assert.equal(lstatSync(join(target, 'bin/busybox')).mtimeMs, 1_600_000_000_000);
  assert.deepEqual(sys.devices.get(join(target, 'dev/null')), { mode: S.IFCHR | 0o600, major: 1, minor: 3 });
  assert.equal(sys.devices.get(join(target, 'dev/fifo'))?.mode, S.IFIFO | 0o600);
  const chown = sys.calls.find((c) => c.op === 'fchownat' && c.args[1] === 'f');
  assert.deepEqual(chown?.args.slice(2, 4), [1000, 1000]);
  // setuid is applied after chown (chown would clear it)
  const ops = sys.calls.filter((c) => c.args[1] === 'su').map((c) => c.op);
  assert.ok(ops.indexOf('fchownat') < ops.indexOf('fchmodat'));
});

test('binary security.capability from PAX reaches lsetxattr intact, after chown', async () => {
  const tar = makePaxTar([
    {
      entry: { name: 'ping', type: 'file', mode: 0o755, uid: 0, gid: 0, mtime: 5, xattrs: new Map([['security.capability', CAP_NET_RAW], ['trusted.overlay.opaque', Buffer.from('y')]]) },
      body: Buffer.from('p'),
    },
  ]);
  await run(tar);
  assert.deepEqual(sys.xattrs.get(join(target, 'ping'))?.get('security.capability'), CAP_NET_RAW);
  assert.equal(sys.xattrs.get(join(target, 'ping'))?.has('trusted.overlay.opaque'), false, 'overlay xattrs from a layer are dropped');
  const ops = sys.calls.map((c) => c.op);
  assert.ok(ops.lastIndexOf('fchownat') < ops.indexOf('lsetxattr'));
});

test('gzip and zstd layers unpack to the same diffID as the plain tar', async () => {
  const tar = await makeTar([{ name: 'a', body: 'hello' }]);
  const plain = await run(tar);
  for (const packed of [gzipSync(tar), zstdCompressSync(tar)]) {
    rmSync(target, { recursive: true });
    mkdirSync(target);
    assert.equal((await run(packed)).diffID, plain.diffID);
    assert.equal(readFileSync(join(target, 'a'), 'utf8'), 'hello');
  }
});

test('whiteouts become overlay whiteouts and opaque markers', async () => {
  const tar = await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/.wh.passwd' },
    { name: 'var/lib/.wh..wh..opq' },
    { name: 'var/lib/new', body: 'n' },
  ]);
  await run(tar);
  assert.deepEqual(sys.devices.get(join(target, 'etc/passwd')), { mode: S.IFCHR, major: 0, minor: 0 });
  assert.equal(existsSync(join(target, 'etc/.wh.passwd')), false);
  assert.deepEqual(sys.xattrs.get(join(target, 'var/lib'))?.get('trusted.overlay.opaque'), Buffer.from('y'));
  assert.deepEqual(readdirSync(join(target, 'var/lib')), ['new']);
});

test('apply mode deletes whited-out paths and clears opaque directories', async () => {
  await run(await makeTar([{ name: 'a/old', body: '1' }, { name: 'a/keep', body: '2' }, { name: 'd/x', body: '3' }, { name: 'd/y', body: '4' }]), 'apply');
  await run(await makeTar([{ name: 'a/.wh.old' }, { name: 'd/z', body: '5' }, { name: 'd/.wh..wh..opq' }]), 'apply');
  assert.deepEqual(readdirSync(join(target, 'a')), ['keep']);
  assert.deepEqual(readdirSync(join(target, 'd')), ['z'], 'opaque keeps only what this layer wrote');
});

test('a later entry replaces an earlier one of another type', async () => {
  await run(await makeTar([{ name: 'x/y', body: '1' }, { name: 'x', body: 'now a file' }]));
  assert.equal(readFileSync(join(target, 'x'), 'utf8'), 'now a file');
});

test('a diffID mismatch fails the unpack', async () => {
  const tar = await makeTar([{ name: 'a', body: 'hello' }]);
  await assert.rejects(run(tar, 'overlay', `sha256:${'0'.repeat(64)}`), CorruptLayerError);
});

test('garbage is refused as a corrupt layer', async () => {
  await assert.rejects(run(Buffer.alloc(1024, 0x41)), CorruptLayerError);
});

test('lent input (recycled slabs, as a pull feeds it): each chunk is released only once consumed', async () => {
  const body = randomBytes(3 << 20); // incompressible: the gzip input spans many slabs too
  const tar = await makeTar([{ name: 'big', body }, { name: 'small', body: 'x' }]);
  const expected = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
  for (const input of [tar, gzipSync(tar, { level: 1 })]) {
    rmSync(target, { recursive: true });
    mkdirSync(target);
    // Producer as in distribution/layer.ts: each piece in a slab of a small pool, retained for
    // the unpacker, the producer's own reference dropped at once. A slab released before the
    // unpacker is done with it is overwritten by the next piece, and the diffID comes out wrong.
    const pool = new SlabPool(16 << 10);
    const tee = new PassThrough({ objectMode: true, highWaterMark: 8 });
    const unpacking = unpackLayer(sys, tee, target, { whiteouts: 'overlay', diffID: expected });
    for (let off = 0; off < input.length; off += 16 << 10) {
      const slab = pool.take();
      const n = input.copy(slab, 0, off, off + (16 << 10));
      const view = slab.subarray(0, n);
      retain(view);
      release(slab);
      if (!tee.write(view)) await new Promise((r) => tee.once('drain', r));
    }
    tee.end();
    assert.equal((await unpacking).diffID, expected);
    assert.ok(readFileSync(join(target, 'big')).equals(body));
    assert.ok(pool.allocated <= 24, `slabs were recycled: ${pool.allocated} for ${Math.ceil(input.length / (16 << 10))} pieces`);
  }
});
