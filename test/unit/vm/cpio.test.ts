import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpioArchive, withParents, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG } from '../../../src/vm/cpio.ts';

interface Parsed {
  name: string;
  mode: number;
  rdev: [number, number];
  data: Buffer;
}

/** A strict newc reader: checks magic, alignment and the trailer. */
function parse(buf: Buffer): Parsed[] {
  const out: Parsed[] = [];
  let off = 0;
  for (;;) {
    assert.equal(off % 4, 0, 'headers are 4-byte aligned');
    assert.equal(buf.toString('ascii', off, off + 6), '070701');
    const field = (i: number): number => parseInt(buf.toString('ascii', off + 6 + i * 8, off + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const rdev: [number, number] = [field(9), field(10)];
    const name = buf.toString('utf8', off + 110, off + 110 + nameSize - 1);
    assert.equal(buf[off + 110 + nameSize - 1], 0, 'name is NUL-terminated');
    let p = off + 110 + nameSize;
    p += (4 - (p % 4)) % 4;
    const data = buf.subarray(p, p + size);
    p += size;
    p += (4 - (p % 4)) % 4;
    off = p;
    if (name === 'TRAILER!!!') break;
    out.push({ name, mode, rdev, data });
  }
  assert.equal(off, buf.length, 'nothing after the trailer');
  return out;
}

test('newc archive: files, dirs, symlinks, char devices, padding', () => {
  const a = cpioArchive([
    { type: 'dir', path: 'dev' },
    { type: 'chardev', path: '/dev/console', major: 5, minor: 1 },
    { type: 'file', path: 'init', data: Buffer.from('abcde'), mode: 0o755 },
    { type: 'symlink', path: 'sh', target: 'init' },
    { type: 'file', path: 'empty', data: Buffer.alloc(0) },
  ]);
  const e = parse(a);
  assert.deepEqual(e.map((x) => x.name), ['dev', 'dev/console', 'init', 'sh', 'empty']);
  assert.equal(e[0]!.mode, S_IFDIR | 0o755);
  assert.equal(e[1]!.mode, S_IFCHR | 0o600);
  assert.deepEqual(e[1]!.rdev, [5, 1]);
  assert.equal(e[2]!.mode, S_IFREG | 0o755);
  assert.equal(e[2]!.data.toString(), 'abcde');
  assert.equal(e[3]!.mode, S_IFLNK | 0o777);
  assert.equal(e[3]!.data.toString(), 'init');
  assert.equal(e[4]!.data.length, 0);
});

test('deterministic: same entries, same bytes', () => {
  const entries = [{ type: 'file' as const, path: 'a', data: Buffer.from('x') }];
  assert.deepEqual(cpioArchive(entries), cpioArchive(entries));
});

test('rejects paths that could escape or are empty', () => {
  for (const p of ['../x', 'a/../b', '', '/', 'a//b']) {
    assert.throws(() => cpioArchive([{ type: 'dir', path: p }]), RangeError, p);
  }
});

test('withParents adds missing parent directories first, once', () => {
  const e = withParents([
    { type: 'file', path: 'berth/modules/00-a.ko', data: Buffer.alloc(1) },
    { type: 'file', path: 'berth/modules/01-b.ko', data: Buffer.alloc(1) },
    { type: 'file', path: 'berth/boot', data: Buffer.alloc(1) },
  ]);
  assert.deepEqual(e.map((x) => `${x.type}:${x.path}`), [
    'dir:berth',
    'dir:berth/modules',
    'file:berth/modules/00-a.ko',
    'file:berth/modules/01-b.ko',
    'file:berth/boot',
  ]);
});
