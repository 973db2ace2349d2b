import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { encodePaxRecords, parsePaxRecords, paxXattrs, PaxSniffer } from '../../../src/unpack/pax.ts';
import { CAP_NET_RAW, makePaxTar } from './tars.ts';

test('PAX records round-trip binary values byte for byte', () => {
  const bin = Buffer.from([0, 0xff, 0x0a, 0x3d, 0x20, 0xc3, 0x28]); // NUL, newline, '=', ' ', invalid UTF-8
  const enc = encodePaxRecords([
    ['path', 'a/ü/long'],
    ['SCHILY.xattr.security.capability', CAP_NET_RAW],
    ['SCHILY.xattr.user.bin', bin],
  ]);
  const recs = parsePaxRecords(enc);
  assert.equal(recs.get('path')?.toString('utf8'), 'a/ü/long');
  assert.deepEqual(recs.get('SCHILY.xattr.security.capability'), CAP_NET_RAW);
  assert.deepEqual(recs.get('SCHILY.xattr.user.bin'), bin);
  assert.deepEqual([...paxXattrs(recs).keys()], ['security.capability', 'user.bin']);
});

test('record length crossing a digit boundary is computed right', () => {
  for (let n = 80; n < 120; n++) {
    const v = Buffer.alloc(n, 0x61);
    assert.deepEqual(parsePaxRecords(encodePaxRecords([['k', v]])).get('k'), v);
  }
});

test('the sniffer queues raw PAX per entry in the order tar-stream emits them', async () => {
  const tar = makePaxTar([
    { entry: { name: 'plain', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 1 }, body: Buffer.from('x') },
    { entry: { name: 'dir', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: 1 } },
    {
      entry: { name: 'bin/ping', type: 'file', mode: 0o755, uid: 0, gid: 0, mtime: 1, xattrs: new Map([['security.capability', CAP_NET_RAW]]) },
      body: Buffer.from('ping'),
    },
    { entry: { name: `${'n'.repeat(150)}`, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 1 }, body: Buffer.alloc(700) },
  ]);
  const sniffer = new PaxSniffer();
  const extract = tarStream.extract();
  Readable.from([tar]).pipe(sniffer).pipe(extract as unknown as NodeJS.WritableStream);
  const seen: [string, Buffer | undefined, string | undefined][] = [];
  for await (const entry of extract) {
    const pax = sniffer.queue.shift() ?? null;
    seen.push([entry.header.name, pax?.get('SCHILY.xattr.security.capability'), (entry.header.pax as Record<string, string> | undefined)?.['SCHILY.xattr.security.capability']]);
    entry.resume();
  }
  assert.equal(seen.length, 4);
  assert.deepEqual(seen[2]![1], CAP_NET_RAW);
  // tar-stream's own decoding is lossy, which is why the sniffer exists:
  assert.notDeepEqual(Buffer.from(seen[2]![2] ?? '', 'utf8'), CAP_NET_RAW);
  assert.equal(seen[3]![0], 'n'.repeat(150));
  assert.match(sniffer.digest(), /^sha256:[a-f0-9]{64}$/);
  assert.equal(sniffer.bytes, tar.length);
});
