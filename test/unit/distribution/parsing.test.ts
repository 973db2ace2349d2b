import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseChallenges } from '../../../src/distribution/challenge.ts';
import { RegistryConfig } from '../../../src/distribution/registries.ts';
import { authKey, getCredentials, removeCredentials, storeCredentials } from '../../../src/distribution/authfile.ts';
import { parsePlatform, selectManifest } from '../../../src/distribution/platform.ts';
import { registryDomain } from '../../../src/distribution/login.ts';
import { familiarReference, formatReference, parseReference, splitRepository } from '../../../src/image/reference.ts';
import { ManifestUnknownError } from '../../../src/distribution/errors.ts';
import { InvalidArgumentError } from '../../../src/common/errors.ts';

const D = `sha256:${'a'.repeat(64)}` as const;

test('references normalise as Docker does, and split into registry and path', () => {
  const cases: [string, string, string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest', 'docker.io', 'library/busybox'],
    ['me/app:v1', 'docker.io/me/app:v1', 'docker.io', 'me/app'],
    ['localhost/bb', 'localhost/bb:latest', 'localhost', 'bb'],
    ['localhost:5000/a/b/c:t', 'localhost:5000/a/b/c:t', 'localhost:5000', 'a/b/c'],
    ['127.0.0.1:5000/x', '127.0.0.1:5000/x:latest', '127.0.0.1:5000', 'x'],
    ['reg.example/ns/img', 'reg.example/ns/img:latest', 'reg.example', 'ns/img'],
  ];
  for (const [input, full, domain, path] of cases) {
    const r = parseReference(input);
    assert.equal(formatReference({ ...r, tag: r.tag ?? 'latest' }), full, input);
    assert.deepEqual(splitRepository(r.repository), { domain, path }, input);
  }
  const d = parseReference(`busybox@${D}`);
  assert.equal(formatReference(d), `docker.io/library/busybox@${D}`);
  assert.equal(familiarReference(d), `busybox@${D}`);
  const both = parseReference(`reg:5000/x:1@${D}`);
  assert.equal(both.tag, '1');
  assert.equal(both.digest, D);
  assert.throws(() => parseReference('Upper/Case'), InvalidArgumentError);
});

test('registry addresses for login: schemes, paths and Docker Hub aliases', () => {
  assert.equal(registryDomain(undefined), 'docker.io');
  assert.equal(registryDomain('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(registryDomain('registry-1.docker.io'), 'docker.io');
  assert.equal(registryDomain('https://127.0.0.1:5000/v2/'), '127.0.0.1:5000');
  assert.throws(() => registryDomain('bad host!'), InvalidArgumentError);
});

test('WWW-Authenticate: Bearer and Basic challenges, quoted values with escapes and commas', () => {
  const [b] = parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"');
  assert.equal(b!.scheme, 'bearer');
  assert.deepEqual(b!.params, { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' });
  const two = parseChallenges(['Basic realm="x \\"y\\""', 'Bearer realm=http://t/ , error=insufficient_scope']);
  assert.deepEqual(two.map((c) => c.scheme), ['basic', 'bearer']);
  assert.equal(two[0]!.params.realm, 'x "y"');
  assert.equal(two[1]!.params.realm, 'http://t/');
  assert.equal(two[1]!.params.error, 'insufficient_scope');
  const multi = parseChallenges('Basic realm="r", Bearer realm="t",service="s"');
  assert.deepEqual(multi.map((c) => [c.scheme, c.params]), [['basic', { realm: 'r' }], ['bearer', { realm: 't', service: 's' }]]);
  assert.deepEqual(parseChallenges(undefined), []);
});

test('registries configuration: Docker Hub host, mirrors first for pulls only, insecure hosts and CIDRs', () => {
  const cfg = new RegistryConfig({
    'registry-mirrors': ['https://mirror.example'],
    'insecure-registries': ['reg.example:5000', '10.0.0.0/8'],
    registries: { 'private.example': { mirrors: ['http://127.0.0.1:5001'] } },
    'certs-dir': '/nonexistent',
  });
  const hub = cfg.endpoints('docker.io', { pull: true });
  assert.deepEqual(hub.map((e) => [e.host, e.schemes, e.mirror]), [['mirror.example', ['https'], true], ['registry-1.docker.io', ['https'], false]]);
  assert.deepEqual(cfg.endpoints('docker.io', { pull: false }).map((e) => e.host), ['registry-1.docker.io']);
  const priv = cfg.endpoints('private.example', { pull: true });
  assert.deepEqual(priv.map((e) => [e.host, e.schemes]), [['127.0.0.1:5001', ['http']], ['private.example', ['https']]]);
  assert.deepEqual(cfg.endpoints('reg.example:5000', { pull: true })[0]!.schemes, ['https', 'http']);
  assert.equal(cfg.endpoints('reg.example:5000', { pull: true })[0]!.tls.verify, false);
  assert.deepEqual(cfg.endpoints('10.1.2.3:443', { pull: true })[0]!.schemes, ['https', 'http']);
  assert.deepEqual(cfg.endpoints('11.1.2.3', { pull: true })[0]!.schemes, ['https']);
  const forced = cfg.endpoints('secure.example', { pull: true, tlsVerify: false })[0]!;
  assert.deepEqual([forced.schemes, forced.tls.verify], [['https', 'http'], false]);
});

test('certs.d: *.crt are CAs, a .cert/.key pair is a client certificate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-unit-certs-'));
  try {
    mkdirSync(join(dir, 'reg.example:5443'));
    writeFileSync(join(dir, 'reg.example:5443', 'ca.crt'), 'CA-PEM');
    writeFileSync(join(dir, 'reg.example:5443', 'client.cert'), 'CERT');
    writeFileSync(join(dir, 'reg.example:5443', 'client.key'), 'KEY');
    const tls = new RegistryConfig({ 'certs-dir': dir }).endpoints('reg.example:5443', { pull: false })[0]!.tls;
    assert.deepEqual(tls, { ca: ['CA-PEM'], cert: 'CERT', key: 'KEY', verify: true });
    assert.deepEqual(new RegistryConfig({ 'certs-dir': dir }).tlsFor('other:1', true).ca, []);
    writeFileSync(join(dir, 'bad.json'), '{nope');
    assert.throws(() => RegistryConfig.load(join(dir, 'bad.json')), /not valid JSON/);
    assert.deepEqual(RegistryConfig.load(join(dir, 'missing.json')).file, {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("auth file: Docker's config.json format, other keys kept, 0600, Hub key", () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-unit-auth-'));
  try {
    const f = join(dir, 'sub', 'config.json');
    assert.equal(getCredentials(f, 'reg:5000'), undefined);
    storeCredentials(f, 'reg:5000', { username: 'u', password: 'p:w' });
    assert.equal(statSync(f).mode & 0o777, 0o600);
    assert.deepEqual(getCredentials(f, 'reg:5000'), { username: 'u', password: 'p:w' });
    const raw = JSON.parse(readFileSync(f, 'utf8'));
    raw.credHelpers = { keep: 'me' };
    raw.auths['https://other:1'] = { auth: Buffer.from('a:b').toString('base64') };
    writeFileSync(f, JSON.stringify(raw));
    assert.deepEqual(getCredentials(f, 'other:1'), { username: 'a', password: 'b' }, 'keys with a scheme match');
    storeCredentials(f, 'docker.io', { username: 'hub', password: 'x' });
    assert.equal(authKey('docker.io'), 'https://index.docker.io/v1/');
    assert.ok(JSON.parse(readFileSync(f, 'utf8')).auths['https://index.docker.io/v1/']);
    assert.deepEqual(getCredentials(f, 'registry-1.docker.io'), { username: 'hub', password: 'x' });
    assert.equal(removeCredentials(f, 'reg:5000'), true);
    assert.equal(removeCredentials(f, 'reg:5000'), false);
    const after = JSON.parse(readFileSync(f, 'utf8'));
    assert.deepEqual(after.credHelpers, { keep: 'me' });
    assert.equal(after.auths['reg:5000'], undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('platforms: parsing, aliases, index selection with variants', () => {
  assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('arm64'), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('linux/arm/v7'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.throws(() => parsePlatform('a/b/c/d'), InvalidArgumentError);
  const m = (architecture: string, variant?: string, os = 'linux') => ({
    mediaType: 'x',
    digest: `sha256:${(architecture + (variant ?? '')).padEnd(64, '0').replace(/[^a-f0-9]/g, 'f')}` as `sha256:${string}`,
    size: 1,
    platform: { os, architecture, ...(variant ? { variant } : {}) },
  });
  const list = [m('amd64', undefined, 'windows'), m('amd64'), m('arm', 'v6'), m('arm', 'v7'), m('arm64', 'v8')];
  assert.equal(selectManifest(list, parsePlatform('linux/amd64')), list[1]);
  assert.equal(selectManifest(list, parsePlatform('linux/arm/v7')), list[3]);
  assert.equal(selectManifest(list, parsePlatform('linux/arm64')), list[4]);
  assert.throws(() => selectManifest(list, parsePlatform('linux/s390x')), ManifestUnknownError);
});
