/**
 * `berth pull` against a real registry (Debian's docker-registry), filled by skopeo from OCI
 * layouts built here: a 3-layer image by tag and by digest, a two-platform index, mirrors, and
 * the one-line errors (unknown tag, unknown repository, unreachable, plain HTTP without
 * --tls-verify=false), each exiting 1. The pulled root filesystem is checked through the store.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/store/store.ts';
import { RootfsManager } from '../../src/store/rootfs.ts';
import type { Digest } from '../../src/store/digest.ts';
import { cleanup, tempDir } from './image-helpers.ts';
import {
  berthAsync,
  buildImage,
  busyboxLayers,
  freePort,
  hasBerthRun,
  hasRegistryTools,
  must,
  pushLayout,
  sha,
  startRegistry,
  tarLayer,
  writeOciLayout,
  type BuiltImage,
  type Registry,
} from '../helpers/registry.ts';

const skip = process.getuid?.() !== 0 || !hasRegistryTools() ? 'needs root, docker-registry and skopeo' : false;
let dir = '';
let reg: Registry | undefined;
let img: BuiltImage;
let arm: BuiltImage;
let indexDigest = '';
const PLAIN = ['--tls-verify=false'];

function inspect(root: string, ref: string) {
  return berthAsync(root, ['image', 'inspect', ref]).then((r) => JSON.parse(must(r, 'inspect').stdout)[0]);
}

before(async () => {
  if (skip) return;
  dir = tempDir('dist-pull');
  reg = await startRegistry(join(dir, 'registry'));
  img = buildImage(await busyboxLayers());
  writeOciLayout(join(dir, 'single'), [img], 'v1');
  pushLayout(join(dir, 'single'), 'v1', `${reg.host}/test/bb:v1`);
  arm = buildImage([await tarLayer([{ name: 'etc/', type: 'directory' }, { name: 'etc/arch', body: 'arm64\n' }])], { arch: 'arm64' });
  const amd = buildImage([...(await busyboxLayers(1024)), await tarLayer([{ name: 'etc/arch', body: 'amd64\n' }])]);
  indexDigest = writeOciLayout(join(dir, 'multi'), [amd, arm], 'multi').digest;
  pushLayout(join(dir, 'multi'), 'multi', `${reg.host}/test/multi:multi`, { all: true });
});

after(async () => {
  await reg?.stop();
  if (dir) cleanup(dir);
});

async function rootfsOf(root: string, id: Digest, name: string): Promise<string> {
  const store = await Store.open(root);
  const p = await new RootfsManager(store).prepare(name, id, { driver: 'vfs' });
  assert.equal(p.driver, 'vfs');
  return (p as { rootfs: string }).rootfs;
}

test('pull by tag: layers verified, unpacked, image recorded and tagged', { skip }, async () => {
  const root = join(dir, 'tag');
  const r = must(await berthAsync(root, ['pull', ...PLAIN, `${reg!.host}/test/bb:v1`]), 'pull');
  assert.match(r.stdout, /v1: Pulling from test\/bb/);
  for (const l of img.layers) assert.match(r.stdout, new RegExp(`${l.digest.slice(7, 19)}: Pull complete`));
  assert.match(r.stdout, new RegExp(`Digest: ${img.manifestDigest}`));
  assert.match(r.stdout, /Status: Downloaded newer image for 127\.0\.0\.1:\d+\/test\/bb:v1/);
  assert.equal(r.stdout.trim().split('\n').pop(), `${reg!.host}/test/bb:v1`);
  const info = await inspect(root, `${reg!.host}/test/bb:v1`);
  assert.equal(info.Id, img.configDigest);
  assert.equal(info.ManifestDigest ?? img.manifestDigest, img.manifestDigest);
  assert.deepEqual(info.RootFS.Layers, img.layers.map((l) => sha(l.tar)));
  const rootfs = await rootfsOf(root, info.Id, 'check-tag');
  assert.equal(readFileSync(join(rootfs, 'etc/berth-release'), 'utf8'), 'berth test image\n');
  assert.equal(statSync(join(rootfs, 'bin/busybox')).size, statSync('/bin/busybox').size);
  assert.equal(readFileSync(join(rootfs, 'data/random.bin')).length, 256 << 10);
  assert.deepEqual(readdirSync(join(root, 'ingest')), [], 'no ingest leftovers');

  const again = must(await berthAsync(root, ['pull', ...PLAIN, `${reg!.host}/test/bb:v1`]), 'second pull');
  assert.match(again.stdout, /Already exists/);
  assert.match(again.stdout, /Status: Image is up to date/);
});

test('pull by digest prints the digest and stores no tag', { skip }, async () => {
  const root = join(dir, 'digest');
  const ref = `${reg!.host}/test/bb@${img.manifestDigest}`;
  const r = must(await berthAsync(root, ['pull', ...PLAIN, ref]), 'pull by digest');
  assert.match(r.stdout, new RegExp(`Digest: ${img.manifestDigest}`));
  assert.equal(r.stdout.trim().split('\n').pop(), ref);
  const q = must(await berthAsync(root, ['pull', '-q', ...PLAIN, ref]), 'pull -q');
  assert.equal(q.stdout, `${ref}\n`);
  const rows = must(await berthAsync(root, ['images', '--digests', '--format', '{{.Repository}} {{.Tag}} {{.Digest}}']), 'images').stdout.trim();
  assert.equal(rows, `<none> <none> ${img.manifestDigest}`);
  assert.equal((await inspect(root, ref)).Id, img.configDigest, 'resolvable by repo@digest');
});

test('multi-platform index: this host (amd64) by default, arm64 with --platform', { skip }, async () => {
  const root = join(dir, 'multi');
  const r = must(await berthAsync(root, ['pull', ...PLAIN, `${reg!.host}/test/multi:multi`]), 'pull index');
  assert.match(r.stdout, new RegExp(`Digest: ${indexDigest}`), 'the digest printed is the index');
  const info = await inspect(root, `${reg!.host}/test/multi:multi`);
  assert.equal(info.Architecture, 'amd64');
  assert.equal(readFileSync(join(await rootfsOf(root, info.Id, 'check-amd'), 'etc/arch'), 'utf8'), 'amd64\n');

  const root2 = join(dir, 'multi-arm');
  must(await berthAsync(root2, ['pull', '--platform', 'linux/arm64', ...PLAIN, `${reg!.host}/test/multi:multi`]), 'pull arm64');
  assert.equal((await inspect(root2, `${reg!.host}/test/multi:multi`)).Id, arm.configDigest);

  const none = await berthAsync(join(dir, 'multi-s390'), ['pull', '--platform', 'linux/s390x', ...PLAIN, `${reg!.host}/test/multi:multi`]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^berth: no matching manifest for linux\/s390x in the manifest list entries\n$/);
});

test('the pulled image runs', { skip: skip || (!hasBerthRun() && 'berth run is not available yet (src/engine/ in progress)') }, async () => {
  const root = join(dir, 'run');
  must(await berthAsync(root, ['pull', '-q', ...PLAIN, `${reg!.host}/test/bb:v1`]), 'pull');
  const r = must(await berthAsync(root, ['run', '--rm', '--network', 'none', `${reg!.host}/test/bb:v1`, '/bin/cat', '/etc/berth-release']), 'run');
  assert.equal(r.stdout, 'berth test image\n');
});

test('run pulls an image that is not here (--pull missing), as Docker does', { skip: skip || (!hasBerthRun() && 'berth run is not available yet') }, async () => {
  const root = join(dir, 'run-pull');
  const cfg = join(dir, 'insecure.json');
  writeFileSync(cfg, JSON.stringify({ registries: { [reg!.host]: { insecure: true } } }));
  const env = { BERTH_REGISTRIES_CONFIG: cfg };
  const r = must(await berthAsync(root, ['run', '--rm', '--network', 'none', '--pull', 'missing', `${reg!.host}/test/bb:v1`, '/bin/cat', '/etc/berth-release'], { env }), 'run with pull');
  assert.equal(r.stdout, 'berth test image\n');
  assert.match(r.stderr, /Unable to find image '.*test\/bb:v1' locally/);
  const again = must(await berthAsync(root, ['run', '--rm', '--network', 'none', '--pull', 'missing', `${reg!.host}/test/bb:v1`, 'true'], { env }), 'run again');
  assert.doesNotMatch(again.stderr, /Unable to find image/, 'the second run uses the local image');
});

test('a mirror serves the pull when the registry itself is down', { skip }, async () => {
  const root = join(dir, 'mirror');
  const closed = `127.0.0.1:${await freePort()}`;
  const cfg = join(dir, 'mirror.json');
  writeFileSync(cfg, JSON.stringify({ registries: { [closed]: { mirrors: [`http://${reg!.host}`] } } }));
  const r = must(await berthAsync(root, ['pull', '--registries-config', cfg, `${closed}/test/bb:v1`]), 'pull via mirror');
  assert.match(r.stdout, new RegExp(`Digest: ${img.manifestDigest}`));
  assert.equal((await inspect(root, `${closed}/test/bb:v1`)).Id, img.configDigest);
});

test('errors: one line, exit 1, nothing stored', { skip }, async () => {
  const root = join(dir, 'errors');
  const closed = `127.0.0.1:${await freePort()}`;
  const cases: [string[], RegExp][] = [
    [[...PLAIN, `${reg!.host}/test/bb:nope`], /manifest for 127\.0\.0\.1:\d+\/test\/bb:nope not found: manifest unknown/],
    [[...PLAIN, `${reg!.host}/test/nothing-here`], /not found/],
    [[`${closed}/test/bb:v1`], /registry 127\.0\.0\.1:\d+ is unreachable: connection refused/],
    [[`${reg!.host}/test/bb:v1`], /does not speak TLS/],
    [['Not/A:Valid:Ref'], /invalid reference format/],
  ];
  for (const [args, re] of cases) {
    const r = await berthAsync(root, ['pull', ...args]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
    assert.match(r.stderr, /^berth: /);
  }
  assert.deepEqual(readdirSync(join(root, 'images')), []);
  assert.deepEqual(readdirSync(join(root, 'blobs', 'sha256')), []);
});
