import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePaxRecords, parsePaxRecords, paxXattrs, type PaxRecords } from '../../../src/unpack/pax.ts';
import { TarReader } from '../../../src/unpack/tar-reader.ts';
import { CorruptLayerError } from '../../../src/unpack/errors.ts';
import { CAP_NET_RAW, makePaxTar, makeTar } from './tars.ts';

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

/** Every entry of `tar` as tar-stream reports it (the reference the reader must match). */
async function viaTarStream(tar: Buffer): Promise<{ header: Record<string, unknown>; body: Buffer }[]> {
  const extract = tarStream.extract();
  Readable.from([tar]).pipe(extract as unknown as NodeJS.WritableStream);
  const out: { header: Record<string, unknown>; body: Buffer }[] = [];
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    const h = entry.header;
    out.push({
      header: {
        name: h.name,
        type: h.type,
        mode: h.mode,
        uid: h.uid,
        gid: h.gid,
        size: h.size,
        mtime: Math.floor((h.mtime?.getTime() ?? 0) / 1000),
        linkname: h.linkname ?? null,
        devmajor: h.devmajor,
        devminor: h.devminor,
      },
      body: Buffer.concat(chunks),
    });
  }
  return out;
}

/** The same, through berth's reader, fed in chunks of `step` bytes. */
function viaReader(tar: Buffer, step: number) {
  const out: { header: Record<string, unknown>; body: Buffer; pax: PaxRecords | null }[] = [];
  let cur: Buffer[] = [];
  const reader = new TarReader({
    entry: (h, pax) => {
      out.push({ header: { ...h }, body: Buffer.alloc(0), pax });
      cur = [];
    },
    data: (c) => cur.push(Buffer.from(c)),
    end: () => {
      out.at(-1)!.body = Buffer.concat(cur);
    },
  });
  for (let off = 0; off < tar.length; off += step) reader.write(tar.subarray(off, off + step));
  reader.end();
  return { entries: out, digest: reader.digest(), bytes: reader.bytes };
}

test('the tar reader reads what tar-stream reads, however the input is chunked', async () => {
  const gnuDir = mkdtempSync(join(tmpdir(), 'berth-tar-'));
  try {
    const long = `${'d'.repeat(120)}/${'f'.repeat(130)}`;
    mkdirSync(join(gnuDir, 'src', 'd'.repeat(120)), { recursive: true });
    writeFileSync(join(gnuDir, 'src', long), 'long name');
    symlinkSync('t'.repeat(140), join(gnuDir, 'src', 'longlink'));
    const gnu = spawnSync('tar', ['--format=gnu', '-C', join(gnuDir, 'src'), '-cf', '-', '.']).stdout;
    const tars = [
      await makeTar([
        { name: './', type: 'directory' },
        { name: 'bin/', type: 'directory', mode: 0o755 },
        { name: 'bin/sh', body: Buffer.alloc(1300, 7), mode: 0o4755, uid: 1000, gid: 2000 },
        { name: 'bin/ash', type: 'link', linkname: 'bin/sh' },
        { name: 'bin/busybox', type: 'symlink', linkname: '/bin/sh' },
        { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 },
        { name: 'empty', body: '' },
        { name: `${'p'.repeat(90)}/${'q'.repeat(90)}/file`, body: 'ustar prefix or PAX path' },
        { name: 'ü-utf8', body: 'x' },
      ]),
      makePaxTar([
        { entry: { name: 'plain', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 1 }, body: Buffer.from('x') },
        { entry: { name: 'dir', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: 1 } },
        {
          entry: { name: 'bin/ping', type: 'file', mode: 0o755, uid: 0, gid: 0, mtime: 1, mtimeNsec: 5, xattrs: new Map([['security.capability', CAP_NET_RAW]]) },
          body: Buffer.from('ping'),
        },
        { entry: { name: 'n'.repeat(150), type: 'file', mode: 0o644, uid: 3_000_000, gid: 0, mtime: 1 }, body: Buffer.alloc(700) },
      ]),
      gnu,
    ];
    for (const tar of tars) {
      const want = await viaTarStream(tar);
      for (const step of [1, 511, 512, 4096, tar.length]) {
        const got = viaReader(tar, step);
        assert.deepEqual(
          got.entries.map((e) => ({ header: e.header, body: e.body })),
          want,
          `chunks of ${step}`,
        );
        assert.equal(got.digest, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
        assert.equal(got.bytes, tar.length);
      }
    }
    // Binary PAX values reach the handler intact (tar-stream's own decoding is lossy).
    const ping = viaReader(tars[1]!, 100).entries[2]!;
    assert.deepEqual(ping.pax?.get('SCHILY.xattr.security.capability'), CAP_NET_RAW);
    assert.equal(viaReader(tars[1]!, 100).entries[0]!.pax, null);
    assert.ok(names(gnu).includes(long), 'GNU long names are read');
  } finally {
    rmSync(gnuDir, { recursive: true, force: true });
  }

  function names(tar: Buffer): string[] {
    return viaReader(tar, 777).entries.map((e) => (e.header['name'] as string).replace(/^\.\//, ''));
  }
});

test('the tar reader refuses what tar-stream refuses', async () => {
  const good = await makeTar([{ name: 'a', body: 'hello' }]);
  const badSum = Buffer.from(good);
  badSum[0] = 0x62; // name changed, checksum not
  const unknown = Buffer.from(good);
  unknown.write('xxxxx', 257, 'latin1');
  const fixSum = (b: Buffer) => {
    b.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += b[i]!;
    b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
    return b;
  };
  const cases: [Buffer, RegExp][] = [
    [badSum, /Invalid tar header/],
    [fixSum(unknown), /unknown format/],
    [good.subarray(0, 700), /Unexpected end of data/],
    [good.subarray(0, 300), /Unexpected end of data/],
    [Buffer.from('this is not a tar archive at all, just some text'.repeat(20)), /Invalid tar header/],
  ];
  for (const [tar, why] of cases) {
    await assert.rejects(viaTarStream(tar), why);
    assert.throws(() => viaReader(tar, 100), (err: unknown) => err instanceof CorruptLayerError && why.test(err.message));
  }
});
