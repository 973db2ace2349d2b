/**
 * `berth push` to a real registry, read back by skopeo (an independent client): the manifest
 * digest skopeo sees is the one berth printed and the one of the local image; `skopeo copy` to an
 * OCI layout gets identical blobs. Covers the monolithic upload, the chunked upload
 * (--chunk-size), existing blobs and cross-repository mounts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, tempDir } from './image-helpers.ts';
import { berthAsync, buildImage, freePort, busyboxLayers, hasRegistryTools, must, sha, skopeo, startRegistry, writeOciLayout, type BuiltImage, type Registry } from '../helpers/registry.ts';

const skip = process.getuid?.() !== 0 || !hasRegistryTools() ? 'needs root, docker-registry and skopeo' : false;
let dir = '';
let reg: Registry | undefined;
let img: BuiltImage;
const PLAIN = ['--tls-verify=false'];

before(async () => {
  if (skip) return;
  dir = tempDir('dist-push');
  reg = await startRegistry(join(dir, 'registry'));
  img = buildImage(await busyboxLayers(3 << 20));
  writeOciLayout(join(dir, 'layout'), [img], 'v1');
});

after(async () => {
  await reg?.stop();
  if (dir) cleanup(dir);
});

function skopeoDigest(ref: string): string {
  const r = skopeo(['inspect', '--tls-verify=false', `docker://${ref}`]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).Digest;
}

/** skopeo copies `ref` to an OCI layout; returns the manifest digest and the blob digests it wrote. */
function skopeoCopyBack(ref: string, out: string): { manifest: string; blobs: string[] } {
  const r = skopeo(['copy', '--src-tls-verify=false', `docker://${ref}`, `oci:${out}:x`]);
  assert.equal(r.code, 0, r.stderr);
  const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
  const manifest = index.manifests[0].digest as string;
  const m = JSON.parse(readFileSync(join(out, 'blobs/sha256', manifest.slice(7)), 'utf8'));
  const blobs = [m.config.digest, ...m.layers.map((l: { digest: string }) => l.digest)];
  for (const b of blobs) assert.equal(sha(readFileSync(join(out, 'blobs/sha256', b.slice(7)))), b, 'blob bytes match their digest');
  return { manifest, blobs };
}

test('monolithic push: skopeo reads back the same digests', { skip }, async () => {
  const root = join(dir, 'mono');
  must(await berthAsync(root, ['load', '-i', join(dir, 'layout')]), 'load');
  const ref = `${reg!.host}/pushed/bb:v1`;
  must(await berthAsync(root, ['tag', img.configDigest.slice(7, 19), ref]), 'tag');
  const r = must(await berthAsync(root, ['push', ...PLAIN, ref]), 'push');
  assert.match(r.stdout, /The push refers to repository \[127\.0\.0\.1:\d+\/pushed\/bb\]/);
  for (const l of img.layers) assert.match(r.stdout, new RegExp(`${l.digest.slice(7, 19)}: Pushed`));
  assert.match(r.stdout, new RegExp(`v1: digest: ${img.manifestDigest} size: ${img.manifest.length}`));
  assert.equal(skopeoDigest(ref), img.manifestDigest);
  const back = skopeoCopyBack(ref, join(dir, 'back-mono'));
  assert.equal(back.manifest, img.manifestDigest);
  assert.deepEqual(back.blobs, [img.configDigest, ...img.layers.map((l) => l.digest)]);

  const again = must(await berthAsync(root, ['push', ...PLAIN, ref]), 'push again');
  assert.match(again.stdout, /Layer already exists/);
  assert.doesNotMatch(again.stdout, /: Pushed/);

  const other = `${reg!.host}/elsewhere/bb:v2`;
  must(await berthAsync(root, ['tag', ref, other]), 'tag other');
  const mounted = must(await berthAsync(root, ['push', ...PLAIN, other]), 'push with mounts');
  assert.match(mounted.stdout, /Mounted from 127\.0\.0\.1:\d+\/pushed\/bb/);
  assert.equal(skopeoDigest(other), img.manifestDigest);
});

test('chunked push (--chunk-size) to an empty registry: same digests', { skip }, async () => {
  const empty = await startRegistry(join(dir, 'registry2'));
  try {
    const root = join(dir, 'chunked');
    must(await berthAsync(root, ['load', '-i', join(dir, 'layout')]), 'load');
    const ref = `${empty.host}/chunked/bb:c1`;
    must(await berthAsync(root, ['tag', img.configDigest.slice(7, 19), ref]), 'tag');
    const r = must(await berthAsync(root, ['push', '--chunk-size', '256k', ...PLAIN, ref]), 'chunked push');
    for (const l of img.layers) assert.match(r.stdout, new RegExp(`${l.digest.slice(7, 19)}: Pushed`));
    assert.match(r.stdout, new RegExp(`c1: digest: ${img.manifestDigest} size: ${img.manifest.length}\n$`));
    const back = skopeoCopyBack(ref, join(dir, 'back-chunked'));
    assert.equal(back.manifest, img.manifestDigest);
    assert.deepEqual(back.blobs, [img.configDigest, ...img.layers.map((l) => l.digest)]);
  } finally {
    await empty.stop();
  }
});

test('push a pulled image (pushed by the first test) to another repository; pull it back by digest', { skip }, async () => {
  const root = join(dir, 'roundtrip');
  const src = `${reg!.host}/pushed/bb:v1`;
  must(await berthAsync(root, ['pull', '-q', ...PLAIN, src]), 'pull');
  const dst = `${reg!.host}/roundtrip/bb:rt`;
  must(await berthAsync(root, ['tag', src, dst]), 'tag');
  must(await berthAsync(root, ['push', '-q', ...PLAIN, dst]), 'push');
  const fresh = join(dir, 'roundtrip-fresh');
  must(await berthAsync(fresh, ['pull', '-q', ...PLAIN, `${reg!.host}/roundtrip/bb@${img.manifestDigest}`]), 'pull back');
});

test('push errors: unknown local image, unreachable registry', { skip }, async () => {
  const root = join(dir, 'errors');
  const a = await berthAsync(root, ['push', ...PLAIN, `${reg!.host}/nothing/here:v1`]);
  assert.equal(a.code, 1);
  assert.match(a.stderr, /^berth: No such image: 127\.0\.0\.1:\d+\/nothing\/here:v1\n$/);
  must(await berthAsync(root, ['load', '-i', join(dir, 'layout')]), 'load');
  const closed = `127.0.0.1:${await freePort()}/x/bb:v1`;
  must(await berthAsync(root, ['tag', img.configDigest.slice(7, 19), closed]), 'tag');
  const b = await berthAsync(root, ['push', closed]);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /^berth: registry 127\.0\.0\.1:\d+ is unreachable: connection refused\n$/);
});
