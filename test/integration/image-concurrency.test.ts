/**
 * Concurrent and killed loads: two `berth load` of one archive at once end with one correct image;
 * a load killed with SIGKILL halfway leaves a store that `berth images` reads, a rerun completes,
 * and the next GC (image prune) removes the dead process's leftovers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { berth, berthAsync, cleanup, dockerArchive, ok, sha, tarOf, tempDir } from './image-helpers.ts';

const skip = process.getuid?.() !== 0 ? 'needs root' : false;
let dir = '';
let archive = '';
let diffIDs: string[] = [];

before(async () => {
  if (skip) return;
  dir = tempDir('concurrency');
  // Three layers of incompressible data (~24 MiB each): slow enough to kill a load halfway.
  const layers: Buffer[] = [];
  for (let i = 0; i < 3; i++)
    layers.push(await tarOf([{ name: `data${i}/blob`, body: randomBytes(24 << 20) }, { name: `data${i}/small`, body: `layer ${i}` }]));
  diffIDs = layers.map(sha);
  archive = join(dir, 'big.tar');
  writeFileSync(archive, await dockerArchive(layers, 'big:1'));
});
after(() => {
  if (dir) cleanup(dir);
});

function inspect(root: string) {
  return JSON.parse(ok(berth(root, ['image', 'inspect', 'big:1'])).stdout)[0];
}

test('two concurrent loads of the same archive end with one correct image', { skip }, async () => {
  const root = join(dir, 'concurrent');
  const a = berthAsync(root, ['load', '-i', archive]);
  const b = berthAsync(root, ['load', '-i', archive]);
  const [ra, rb] = await Promise.all([a.done, b.done]);
  assert.equal(ra.code, 0, ra.stderr);
  assert.equal(rb.code, 0, rb.stderr);
  const ids = ok(berth(root, ['images', '-q'])).stdout.trim().split('\n');
  assert.equal(ids.length, 1);
  assert.deepEqual(inspect(root).RootFS.Layers, diffIDs);
  const snaps = readdirSync(join(root, 'snapshots'));
  assert.equal(snaps.filter((n) => !n.startsWith('.')).length, 3);
  assert.deepEqual(snaps.filter((n) => n.startsWith('.')), [], 'the loser discarded its copies');
  assert.deepEqual(readdirSync(join(root, 'ingest')), []);
});

test('a load killed with SIGKILL halfway leaves a readable store; a rerun completes', { skip }, async () => {
  const root = join(dir, 'killed');
  const run = berthAsync(root, ['load', '-i', archive]);
  // Wait until it is mid-operation: some layer is being unpacked (or the archive ingested).
  const deadline = Date.now() + 60_000;
  let midway = false;
  while (Date.now() < deadline) {
    const snaps = existsSync(join(root, 'snapshots')) ? readdirSync(join(root, 'snapshots')) : [];
    if (snaps.some((n) => n.startsWith('.tmp-'))) {
      midway = true;
      break;
    }
    await sleep(5);
  }
  assert.ok(midway, 'the load reached the unpack phase');
  run.child.kill('SIGKILL');
  const killed = await run.done;
  assert.equal(killed.code, -1, 'killed by the signal');

  const listed = berth(root, ['images']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.doesNotMatch(listed.stdout, /big/, 'no half-loaded image is visible');

  const again = ok(berth(root, ['load', '-i', archive]), 'rerun');
  assert.match(again.stdout, /Loaded image: big:1/);
  assert.deepEqual(inspect(root).RootFS.Layers, diffIDs);
  const size = statSync(join(root, 'snapshots', diffIDs[0]!.slice(7), 'fs', 'data0', 'blob')).size;
  assert.equal(size, 24 << 20);

  ok(berth(root, ['image', 'prune', '-f']));
  assert.deepEqual(readdirSync(join(root, 'snapshots')).filter((n) => n.startsWith('.')), [], 'GC removed the partial snapshot');
  assert.deepEqual(readdirSync(join(root, 'ingest')), []);
  assert.equal(ok(berth(root, ['images', '-q'])).stdout.trim().split('\n').length, 1, 'prune kept the tagged image');
});
