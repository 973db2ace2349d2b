/**
 * A registry behind TLS (a throwaway CA made with openssl) and htpasswd Basic auth: berth refuses
 * an untrusted certificate, accepts it once the CA is in certs.d/<host>/ca.crt, fails without
 * credentials, rejects a wrong password at login, and pulls and pushes after `berth login`
 * (credentials stored in Docker's config.json format); `logout` takes the access away again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, tempDir } from './image-helpers.ts';
import { berthAsync, buildImage, busyboxLayers, hasRegistryTools, makeTls, must, pushLayout, skopeo, startRegistry, writeOciLayout, type BuiltImage, type Registry, type TlsFiles } from '../helpers/registry.ts';

const skip =
  process.getuid?.() !== 0 || !hasRegistryTools() || !existsSync('/usr/bin/htpasswd') ? 'needs root, docker-registry, skopeo and htpasswd (apache2-utils)' : false;
let dir = '';
let reg: Registry | undefined;
let tls: TlsFiles;
let img: BuiltImage;
let env: Record<string, string> = {};

before(async () => {
  if (skip) return;
  dir = tempDir('dist-auth');
  tls = makeTls(join(dir, 'tls'));
  reg = await startRegistry(join(dir, 'registry'), { tls, users: { alice: 's3cret' } });
  img = buildImage(await busyboxLayers());
  writeOciLayout(join(dir, 'layout'), [img], 'v1');
  pushLayout(join(dir, 'layout'), 'v1', `${reg.host}/private/bb:v1`, { certDir: tls.certDir, creds: 'alice:s3cret' });
  // berth's configuration: a certs.d with the CA for this host, an auth file of its own.
  const certsd = join(dir, 'certs.d');
  mkdirSync(join(certsd, reg.host), { recursive: true });
  copyFileSync(tls.caCert, join(certsd, reg.host, 'ca.crt'));
  writeFileSync(join(dir, 'registries.json'), JSON.stringify({ 'certs-dir': certsd }));
  env = { BERTH_REGISTRIES_CONFIG: join(dir, 'registries.json'), BERTH_AUTH_FILE: join(dir, 'auth', 'config.json') };
});

after(async () => {
  await reg?.stop();
  if (dir) cleanup(dir);
});

test('an untrusted certificate is refused with a hint', { skip }, async () => {
  const r = await berthAsync(join(dir, 'untrusted'), ['pull', `${reg!.host}/private/bb:v1`], { env: { BERTH_REGISTRIES_CONFIG: join(dir, 'none.json'), BERTH_CERTS_DIR: join(dir, 'empty') } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^berth: registry 127\.0\.0\.1:\d+: TLS certificate not trusted \(.*\); put its CA in certs\.d\/127\.0\.0\.1:\d+\/ca\.crt/);
});

test('pull without credentials fails: unauthorized, exit 1, nothing stored', { skip }, async () => {
  const root = join(dir, 'anon');
  const r = await berthAsync(root, ['pull', `${reg!.host}/private/bb:v1`], { env });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^berth: unauthorized: authentication required for 127\.0\.0\.1:\d+; run 'berth login 127\.0\.0\.1:\d+'\n$/);
  assert.deepEqual(readdirSync(join(root, 'images')), []);
  assert.deepEqual(readdirSync(join(root, 'blobs', 'sha256')), []);
});

test('login with a wrong password fails and stores nothing', { skip }, async () => {
  const r = await berthAsync(dir, ['login', '-u', 'alice', '--password-stdin', reg!.host], { env, input: 'wrong\n' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^berth: unauthorized: incorrect username or password/);
  assert.equal(existsSync(env.BERTH_AUTH_FILE!), false);
});

test('after login: pull and push work; logout removes the access', { skip }, async () => {
  const login = must(await berthAsync(dir, ['login', '-u', 'alice', '--password-stdin', reg!.host], { env, input: 's3cret\n' }), 'login');
  assert.equal(login.stdout, 'Login Succeeded\n');
  const cfg = JSON.parse(readFileSync(env.BERTH_AUTH_FILE!, 'utf8'));
  assert.equal(cfg.auths[reg!.host].auth, Buffer.from('alice:s3cret').toString('base64'));
  assert.equal(statSync(env.BERTH_AUTH_FILE!).mode & 0o777, 0o600);

  const root = join(dir, 'loggedin');
  const pull = must(await berthAsync(root, ['pull', `${reg!.host}/private/bb:v1`], { env }), 'pull after login');
  assert.match(pull.stdout, new RegExp(`Digest: ${img.manifestDigest}`));

  const dst = `${reg!.host}/private/copy:v2`;
  must(await berthAsync(root, ['tag', `${reg!.host}/private/bb:v1`, dst], { env }), 'tag');
  const push = must(await berthAsync(root, ['push', dst], { env }), 'push after login');
  assert.match(push.stdout, new RegExp(`v2: digest: ${img.manifestDigest}`));
  const back = skopeo(['inspect', '--cert-dir', tls.certDir, '--creds', 'alice:s3cret', `docker://${dst}`]);
  assert.equal(back.code, 0, back.stderr);
  assert.equal(JSON.parse(back.stdout).Digest, img.manifestDigest);

  const logout = must(await berthAsync(dir, ['logout', reg!.host], { env }), 'logout');
  assert.match(logout.stdout, /Removing login credentials for 127\.0\.0\.1:\d+/);
  const denied = await berthAsync(join(dir, 'after-logout'), ['pull', dst], { env });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /unauthorized/);
});

test('--authfile flag: login and pull with an explicit file', { skip }, async () => {
  const file = join(dir, 'flag-auth.json');
  must(await berthAsync(dir, ['login', '--authfile', file, '-u', 'alice', '-p', 's3cret', reg!.host], { env: { BERTH_REGISTRIES_CONFIG: env.BERTH_REGISTRIES_CONFIG! } }), 'login --authfile');
  must(
    await berthAsync(join(dir, 'flag'), ['pull', '-q', '--authfile', file, `${reg!.host}/private/bb:v1`], { env: { BERTH_REGISTRIES_CONFIG: env.BERTH_REGISTRIES_CONFIG! } }),
    'pull --authfile',
  );
});
