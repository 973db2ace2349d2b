/**
 * Round trips with real tools: podman-saved archives load in berth with the same image ID,
 * diffIDs and (OCI) manifest digest; berth-saved archives load in podman; skopeo copies berth's
 * OCI archive, and berth loads skopeo's OCI layout directory.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { berth, busyboxTarball, cleanup, hasPodman, ok, podman, sha, tempDir } from './image-helpers.ts';

const skip = process.getuid?.() !== 0 || !hasPodman() ? 'needs root, podman and skopeo' : false;
let dir = '';
let pod = '';
let podId = '';
let podLayers: string[] = [];

function inspect(root: string, ref: string): { Id: string; RootFS: { Layers: string[] }; ManifestDigest: string } {
  return JSON.parse(ok(berth(root, ['image', 'inspect', ref]), 'inspect').stdout)[0];
}

before(() => {
  if (skip) return;
  dir = tempDir('roundtrip');
  pod = join(dir, 'podman');
  const tar = busyboxTarball(dir);
  ok(podman(pod, ['import', '--change', 'CMD ["/bin/sh"]', tar, 'localhost/bb:test']), 'podman import');
  ok(podman(pod, ['save', '--format', 'docker-archive', '-o', join(dir, 'pd.tar'), 'localhost/bb:test']), 'podman save');
  ok(podman(pod, ['save', '--format', 'oci-archive', '-o', join(dir, 'po.tar'), 'localhost/bb:test']), 'podman save oci');
  const info = JSON.parse(ok(podman(pod, ['image', 'inspect', 'localhost/bb:test'])).stdout)[0];
  podId = `sha256:${info.Id}`;
  podLayers = info.RootFS.Layers;
});
after(() => {
  if (dir) cleanup(dir);
});

test('podman docker-archive loads in berth with the same ID and diffIDs', { skip }, () => {
  const root = join(dir, 'b1');
  const r = ok(berth(root, ['load', '-i', join(dir, 'pd.tar')]));
  assert.match(r.stdout, /Loaded image: localhost\/bb:test/);
  const img = inspect(root, 'localhost/bb:test');
  assert.equal(img.Id, podId);
  assert.deepEqual(img.RootFS.Layers, podLayers);
  assert.match(ok(berth(root, ['images'])).stdout, /localhost\/bb\s+test\s+[0-9a-f]{12}/);
});

test('podman oci-archive loads in berth with the same manifest digest', { skip }, () => {
  const root = join(dir, 'b2');
  ok(berth(root, ['load', '-i', join(dir, 'po.tar')]));
  const index = JSON.parse(spawnSync('tar', ['-xOf', join(dir, 'po.tar'), 'index.json']).stdout.toString());
  const img = inspect(root, 'localhost/bb:test');
  assert.equal(img.Id, podId);
  assert.deepEqual(img.RootFS.Layers, podLayers);
  assert.equal(img.ManifestDigest, index.manifests[0].digest);
  const digests = ok(berth(root, ['images', '--digests', '--format', '{{.Digest}}'])).stdout.trim();
  assert.equal(digests, index.manifests[0].digest);
});

test('berth docker-archive and oci-archive load in podman; digests and diffIDs match', { skip }, () => {
  const root = join(dir, 'b3');
  ok(berth(root, ['load', '-i', join(dir, 'po.tar')]));
  ok(berth(root, ['tag', 'localhost/bb:test', 'bb:copy']));
  ok(berth(root, ['save', '-o', join(dir, 'bd.tar'), 'bb:copy']));
  ok(berth(root, ['save', '--format', 'oci-archive', '-o', join(dir, 'bo.tar'), 'localhost/bb:test']));
  const ours = inspect(root, 'localhost/bb:test');

  const p2 = join(dir, 'podman2');
  assert.match(ok(podman(p2, ['load', '-i', join(dir, 'bd.tar')]), 'podman load docker-archive').stdout, /bb:copy/);
  const fromDocker = JSON.parse(ok(podman(p2, ['image', 'inspect', 'docker.io/library/bb:copy'])).stdout)[0];
  assert.equal(`sha256:${fromDocker.Id}`, podId);
  assert.deepEqual(fromDocker.RootFS.Layers, podLayers);

  const p3 = join(dir, 'podman3');
  ok(podman(p3, ['load', '-i', join(dir, 'bo.tar')]), 'podman load oci-archive');
  const fromOci = JSON.parse(ok(podman(p3, ['image', 'inspect', 'localhost/bb:test'])).stdout)[0];
  assert.equal(`sha256:${fromOci.Id}`, podId);
  assert.equal(fromOci.Digest, ours.ManifestDigest, 'podman sees the manifest berth wrote, byte for byte');
});

test('skopeo copies berth OCI output; berth loads the resulting OCI layout directory', { skip }, () => {
  const root = join(dir, 'b4');
  ok(berth(root, ['load', '-i', join(dir, 'po.tar')]));
  const archive = join(dir, 'b4.tar');
  ok(berth(root, ['save', '--format', 'oci-archive', '-o', archive, 'localhost/bb:test']));
  const layout = join(dir, 'layout');
  const r = spawnSync('skopeo', ['copy', `oci-archive:${archive}`, `oci:${layout}:bb`]);
  assert.equal(r.status, 0, r.stderr.toString());
  const raw = spawnSync('skopeo', ['inspect', '--raw', `oci-archive:${archive}`]).stdout;
  assert.equal(sha(raw), inspect(root, 'localhost/bb:test').ManifestDigest);
  const root2 = join(dir, 'b5');
  const out = ok(berth(root2, ['load', '-i', layout])).stdout;
  assert.match(out, /Loaded image ID: sha256:/, 'skopeo names the image by a bare tag, so it loads untagged');
  assert.equal(inspect(root2, podId.slice(7, 19)).Id, podId);
  assert.deepEqual(JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')).manifests.length, 1);
});

test('podman-saved archives run in berth; the berth-saved archive runs in podman', { skip }, () => {
  const root = join(dir, 'runs');
  for (const archive of ['pd.tar', 'po.tar']) {
    ok(berth(root, ['load', '-i', join(dir, archive)]));
    const r = berth(root, ['run', '--rm', '--network', 'none', 'localhost/bb:test', 'sh', '-c', 'echo ran from $0']);
    assert.equal(r.stdout, 'ran from sh\n', `${archive}: ${r.stderr}`);
    ok(berth(root, ['rmi', 'localhost/bb:test']));
  }
  ok(berth(root, ['load', '-i', join(dir, 'pd.tar')]));
  ok(berth(root, ['tag', 'localhost/bb:test', 'bb:back']));
  ok(berth(root, ['save', '-o', join(dir, 'back.tar'), 'bb:back']));
  const p3 = join(dir, 'podman-run');
  ok(podman(p3, ['load', '-i', join(dir, 'back.tar')]));
  // this host's bounding set lacks CAP_SYS_RESOURCE: podman's default ulimits are lowered for this run only
  const conf = join(dir, 'containers.conf');
  writeFileSync(conf, '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n[engine]\ncgroup_manager = "cgroupfs"\n');
  const r = spawnSync('podman', ['--root', join(p3, 'root'), '--runroot', join(p3, 'run'), '--storage-driver', 'vfs', '--events-backend', 'file', '--runtime', 'runc', 'run', '--rm', '--network', 'none', 'docker.io/library/bb:back', 'echo', 'ran in podman'], {
    env: { ...process.env, CONTAINERS_CONF: conf },
    encoding: 'utf8',
  });
  assert.equal(r.stdout, 'ran in podman\n', r.stderr);
});
