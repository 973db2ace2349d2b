/**
 * Hostile layers through the real CLI and kernel: each is refused with a clear error, nothing is
 * written outside the target, no snapshot (complete or partial) and no image is left behind.
 * Also checks that the kernel confinement holds on its own, without the string checks.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { berth, cleanup, dockerArchive, ociArchive, tarOf, tempDir, type Entry } from './image-helpers.ts';
import { getSys } from '../../src/sys/index.ts';
import { SafeTree } from '../../src/unpack/tree.ts';

const skip = process.getuid?.() !== 0 ? 'needs root' : false;
let dir = '';
let outside = '';

before(() => {
  if (skip) return;
  dir = tempDir('hostile');
  outside = join(dir, 'outside');
  mkdirSync(outside);
});
after(() => {
  if (dir) cleanup(dir);
});

function assertClean(root: string): void {
  assert.equal(berth(root, ['images', '-q']).stdout, '', 'no image recorded');
  const snaps = readdirSync(join(root, 'snapshots'));
  assert.deepEqual(snaps, [], 'no snapshot, complete or partial');
  assert.deepEqual(readdirSync(join(root, 'ingest')), [], 'no ingest leftovers');
  assert.deepEqual(readdirSync(join(root, 'blobs', 'sha256')), [], 'no blob, not even the verified ones');
  assert.deepEqual(readdirSync(outside), [], 'nothing written outside');
}

async function refused(name: string, archive: Buffer, message: RegExp): Promise<void> {
  const root = join(dir, name);
  const file = join(dir, `${name}.tar`);
  writeFileSync(file, archive);
  const r = berth(root, ['load', '-i', file]);
  assert.equal(r.code, 125, r.stdout + r.stderr);
  assert.match(r.stderr, message);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line, no stack trace');
  assertClean(root);
}

const layer = (entries: Entry[]) => tarOf(entries);

test('../ escape', { skip }, async () => {
  const l = await layer([{ name: 'ok', body: 'fine' }, { name: `../../../../../../../../..${outside}/pwned`, body: 'x' }]);
  await refused('dotdot', await dockerArchive([l], 'evil:dotdot'), /refusing layer entry .*'\.\.'/);
});

test('absolute path', { skip }, async () => {
  await refused('abs', await dockerArchive([await layer([{ name: `${outside}/pwned`, body: 'x' }])], 'evil:abs'), /absolute/);
});

test('symlink then write through it', { skip }, async () => {
  const l = await layer([{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'evil/pwned', body: 'x' }]);
  await refused('symlink', await dockerArchive([l], 'evil:sym'), /goes through a symbolic link/);
});

test('hardlink to /etc/shadow', { skip }, async () => {
  const before = statSync('/etc/shadow');
  const l = await layer([{ name: 'shadow', type: 'link', linkname: '/etc/shadow' }]);
  await refused('hardlink', await dockerArchive([l], 'evil:hl'), /absolute/);
  const l2 = await layer([{ name: 'shadow', type: 'link', linkname: '../../../../../../../../etc/shadow' }]);
  await refused('hardlink2', await dockerArchive([l2], 'evil:hl2'), /'\.\.'/);
  assert.equal(statSync('/etc/shadow').nlink, before.nlink);
});

test('a layer whose digest does not match', { skip }, async () => {
  const l = await layer([{ name: 'a', body: 'content' }]);
  await refused('oci-digest', await ociArchive([l], 'evil:digest', { corrupt: true }), /digest does not match/);
  const forged = `sha256:${'1'.repeat(64)}`;
  await refused('diffid', await dockerArchive([l], 'evil:diffid', { diffIDs: [forged] }), /does not match its diffID/);
});

test('a refused load leaves nothing new in a store that has images, and keeps what they use', { skip }, async () => {
  const root = join(dir, 'shared');
  const base = await layer([{ name: 'bin/', type: 'directory' }, { name: 'bin/sh', body: 'sh', mode: 0o755 }]);
  const good = join(dir, 'good.tar');
  writeFileSync(good, await dockerArchive([base], 'good:1'));
  assert.equal(berth(root, ['load', '-i', good]).code, 0);
  const listing = () => ({
    blobs: readdirSync(join(root, 'blobs', 'sha256')).sort(),
    snapshots: readdirSync(join(root, 'snapshots')).sort(),
    images: berth(root, ['images', '-q', '--no-trunc']).stdout,
  });
  const before = listing();
  // The same base layer, a new valid one (verified and unpacked before the hostile one fails), then an escape.
  const fresh = await layer([{ name: 'etc/', type: 'directory' }, { name: 'etc/motd', body: 'hi' }]);
  const evil = await layer([{ name: `../../../../../../../..${outside}/pwned`, body: 'x' }]);
  const file = join(dir, 'mixed.tar');
  writeFileSync(file, await dockerArchive([base, fresh, evil], 'evil:mixed'));
  const r = berth(root, ['load', '-i', file]);
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /refusing layer entry/);
  assert.deepEqual(listing(), before, 'the same blobs, snapshots and images as before');
  assert.deepEqual(readdirSync(join(root, 'ingest')), []);
  assert.deepEqual(readdirSync(outside), []);
});

test('the kernel alone confines resolution (no string checks involved)', { skip }, async () => {
  const sys = await getSys();
  const target = join(dir, 'raw-target');
  mkdirSync(target);
  const { symlinkSync } = await import('node:fs');
  symlinkSync(outside, join(target, 'link'));
  const tree = new SafeTree(sys, target);
  try {
    assert.throws(() => tree.dir('../outside', 'x'), /leads outside/);
    assert.throws(() => tree.dir('link', 'x'), /symbolic link/);
    assert.throws(() => tree.dir('link/deeper', 'x'), /symbolic link/);
  } finally {
    tree.close();
  }
  assert.equal(existsSync(join(outside, 'deeper')), false);
});
