import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FakeSys } from '../../../src/sys/fake.ts';
import { unpackLayer } from '../../../src/unpack/unpack.ts';
import { UnsafeLayerError } from '../../../src/unpack/errors.ts';
import { makeTar, type E } from './tars.ts';

let dir: string;
let target: string;
let outside: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-hostile-'));
  target = join(dir, 'a', 'b', 'target');
  outside = join(dir, 'outside');
  mkdirSync(target, { recursive: true });
  mkdirSync(outside);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function refuse(entries: E[], why: RegExp): Promise<void> {
  const tar = await makeTar(entries);
  await assert.rejects(unpackLayer(new FakeSys(), Readable.from([tar]), target, { whiteouts: 'overlay' }), (err: unknown) => {
    assert.ok(err instanceof UnsafeLayerError, String(err));
    assert.match(err.message, why);
    return true;
  });
}

test('../ escape is refused', async () => {
  await refuse([{ name: '../../../outside/pwned', body: 'x' }], /'\.\.'/);
  assert.equal(existsSync(join(outside, 'pwned')), false);
});

test('absolute path is refused', async () => {
  await refuse([{ name: join(outside, 'pwned'), body: 'x' }], /absolute/);
  assert.equal(existsSync(join(outside, 'pwned')), false);
});

test('writing through a symlink is refused, relative or absolute', async () => {
  await refuse([{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'evil/pwned', body: 'x' }], /symbolic link/);
  await refuse([{ name: 'rel', type: 'symlink', linkname: '../../../outside' }, { name: 'rel/pwned', body: 'x' }], /symbolic link/);
  await refuse([{ name: 'in', type: 'symlink', linkname: 'sub' }, { name: 'sub/', type: 'directory' }, { name: 'in/x', body: 'x' }], /symbolic link/);
  assert.equal(existsSync(join(outside, 'pwned')), false);
});

test('hardlinks to outside files are refused', async () => {
  const before = statSync('/etc/passwd').nlink;
  await refuse([{ name: 'shadow', type: 'link', linkname: '/etc/passwd' }], /absolute/);
  await refuse([{ name: 'shadow', type: 'link', linkname: '../../../../../../../../etc/passwd' }], /'\.\.'/);
  await refuse([{ name: 'l', type: 'symlink', linkname: '/etc' }, { name: 'shadow', type: 'link', linkname: 'l/passwd' }], /symbolic link/);
  assert.equal(statSync('/etc/passwd').nlink, before);
});

test('a whiteout cannot name a parent', async () => {
  await refuse([{ name: 'd/.wh...' }], /whiteout/);
});
