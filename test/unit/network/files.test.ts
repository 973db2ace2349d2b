import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { buildHosts, buildResolvConf, FALLBACK_NAMESERVERS, parseAddHost, parseResolvConf, PEERS_MARKER, writeInPlace } from '../../../src/network/files.ts';

const HOST = `# managed by someone
domain corp.example
search corp.example lab.example
nameserver 127.0.0.53
nameserver 10.255.255.53
nameserver ::1
nameserver 2001:db8::53
options edns0 trust-ad
`;

test('resolv.conf: loopback and IPv6 nameservers dropped, search and options kept', () => {
  const r = parseResolvConf(buildResolvConf({ host: HOST }));
  assert.deepEqual(r.nameservers, ['10.255.255.53']);
  assert.deepEqual(r.search, ['corp.example', 'lab.example']);
  assert.deepEqual(r.options, ['edns0', 'trust-ad']);
});

test('resolv.conf: --dns replaces the nameservers, --dns-search and --dns-option the rest', () => {
  const r = parseResolvConf(buildResolvConf({ host: HOST, dns: ['1.1.1.1', '9.9.9.9'], search: ['x.test'], options: ['ndots:2'] }));
  assert.deepEqual(r, { nameservers: ['1.1.1.1', '9.9.9.9'], search: ['x.test'], options: ['ndots:2'] });
  assert.deepEqual(parseResolvConf(buildResolvConf({ host: HOST, search: ['.'] })).search, []);
  assert.throws(() => buildResolvConf({ host: HOST, dns: ['not-an-ip'] }), /invalid --dns/);
});

test('resolv.conf: only loopback nameservers on the host → the public fallback', () => {
  assert.deepEqual(parseResolvConf(buildResolvConf({ host: 'nameserver 127.0.0.53\n' })).nameservers, FALLBACK_NAMESERVERS);
  assert.deepEqual(parseResolvConf(buildResolvConf({ host: '' })).nameservers, FALLBACK_NAMESERVERS);
});

test('resolv.conf: host mode keeps loopback nameservers', () => {
  assert.deepEqual(parseResolvConf(buildResolvConf({ host: 'nameserver 127.0.0.53\n', keepLoopback: true })).nameservers, ['127.0.0.53']);
});

test('hosts: localhost block, --add-host, self, then peers in a marked block', () => {
  const text = buildHosts({
    extraHosts: [{ ip: '192.0.2.7', names: ['db.example'] }],
    self: [{ ip: '10.89.0.2', names: ['web', 'web', 'frontend'] }],
    peers: [
      { ip: '10.89.0.4', names: ['zeta', 'z'] },
      { ip: '10.89.0.3', names: ['api', 'backend'] },
    ],
  });
  const lines = text.trimEnd().split('\n');
  assert.equal(lines[0], '127.0.0.1\tlocalhost');
  assert.ok(lines.includes('192.0.2.7\tdb.example'));
  assert.ok(lines.includes('10.89.0.2\tweb frontend'));
  const m = lines.indexOf(PEERS_MARKER);
  assert.deepEqual(lines.slice(m + 1), ['10.89.0.3\tapi backend', '10.89.0.4\tzeta z']);
});

test('hosts: host mode starts from the host file', () => {
  const text = buildHosts({ base: '127.0.0.1 localhost\n10.0.0.1 myhost\n\n', extraHosts: [{ ip: '10.1.1.1', names: ['x'] }], self: [], peers: [] });
  assert.equal(text, '127.0.0.1 localhost\n10.0.0.1 myhost\n10.1.1.1\tx\n');
});

test('--add-host forms', () => {
  assert.deepEqual(parseAddHost('db:10.0.0.5'), { name: 'db', ip: '10.0.0.5' });
  assert.deepEqual(parseAddHost('db=10.0.0.5'), { name: 'db', ip: '10.0.0.5' });
  assert.deepEqual(parseAddHost('v6:2001:db8::1'), { name: 'v6', ip: '2001:db8::1' });
  assert.deepEqual(parseAddHost('v6=[2001:db8::1]'), { name: 'v6', ip: '2001:db8::1' });
  assert.deepEqual(parseAddHost('host.docker.internal:host-gateway'), { name: 'host.docker.internal', ip: 'host-gateway' });
  for (const bad of ['nohost', ':1.2.3.4', 'a b:1.2.3.4', 'x:999.1.1.1']) assert.throws(() => parseAddHost(bad), Error, bad);
});

test('in-place rewrite keeps the inode (bind mounts see it) and never leaves stale tail bytes', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-files-'));
  try {
    const f = path.join(dir, 'hosts');
    writeFileSync(f, 'a much longer original content\n');
    const ino = statSync(f).ino;
    writeInPlace(f, 'short\n');
    assert.equal(readFileSync(f, 'utf8'), 'short\n');
    assert.equal(statSync(f).ino, ino);
    writeInPlace(path.join(dir, 'new'), 'created\n');
    assert.equal(readFileSync(path.join(dir, 'new'), 'utf8'), 'created\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
