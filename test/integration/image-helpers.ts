/**
 * Shared by the image-*.test.ts integration tests: run the berth CLI (from source) against a
 * private root, run podman against a private store, build image archives in memory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import tarStream from 'tar-stream';

export const REPO = resolve(import.meta.dirname, '../..');
const NODE = join(REPO, 'node_modules/node/bin/node');
const MAIN = join(REPO, 'src/cli/berth/main.ts');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function berth(root: string, args: string[], input?: Buffer, env?: NodeJS.ProcessEnv): Run {
  const r = spawnSync(NODE, [MAIN, '--root', root, ...args], { input, maxBuffer: 256 << 20, env: env ?? process.env });
  return { code: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Starts berth without waiting; resolves with its result. */
export function berthAsync(root: string, args: string[]): { child: ReturnType<typeof spawn>; done: Promise<Run> } {
  const child = spawn(NODE, [MAIN, '--root', root, ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<Run>((res) => child.on('close', (code, sig) => res({ code: code ?? (sig ? -1 : -2), stdout, stderr })));
  return { child, done };
}

export function ok(r: Run, what = 'command'): Run {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `berth-it-${prefix}-`));
}

/** Unmounts anything still mounted below `dir` (deepest first), then removes it. */
export function cleanup(dir: string): void {
  const mounts = spawnSync('findmnt', ['-rn', '-o', 'TARGET']).stdout.toString().split('\n');
  for (const m of mounts.filter((m) => m.startsWith(dir)).sort((a, b) => b.length - a.length))
    spawnSync('umount', ['-l', m]);
  rmSync(dir, { recursive: true, force: true });
}

export function hasPodman(): boolean {
  return spawnSync('podman', ['--version']).status === 0 && spawnSync('skopeo', ['--version']).status === 0;
}

/** podman with a private store under `dir`, so the machine's podman state is untouched. */
export function podman(dir: string, args: string[]): Run {
  const r = spawnSync(
    'podman',
    ['--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--storage-driver', 'vfs', '--events-backend', 'file', ...args],
    { maxBuffer: 64 << 20 },
  );
  return { code: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** A small root filesystem tarball: static busybox and a few symlinks to it. */
export function busyboxTarball(dir: string): string {
  const root = join(dir, 'rootfs');
  mkdirSync(join(root, 'bin'), { recursive: true });
  mkdirSync(join(root, 'etc'));
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  for (const l of ['sh', 'ls', 'cat', 'echo']) symlinkSync('busybox', join(root, 'bin', l));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  const tar = join(dir, 'rootfs.tar');
  const r = spawnSync('tar', ['-C', root, '--numeric-owner', '-cf', tar, '.']);
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return tar;
}

// layer tars: one builder for the image and the registry tests (test/helpers/registry.ts)
export { tarLayer as tarOf, type FileEntry as Entry } from '../helpers/registry.ts';

export const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A Docker archive (manifest.json form) of the given layer tars; `diffIDs` may be forged. */
export async function dockerArchive(layers: Buffer[], tag: string, opts: { diffIDs?: string[] } = {}): Promise<Buffer> {
  const diffIDs = opts.diffIDs ?? layers.map(sha);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-01T00:00:00Z',
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: diffIDs },
      history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i}` })),
    }),
  );
  const files: [string, Buffer][] = [[`${sha(config).slice(7)}.json`, config]];
  const names = layers.map((_, i) => `${i}/layer.tar`);
  layers.forEach((layer, i) => files.push([names[i]!, layer]));
  files.push(['manifest.json', Buffer.from(JSON.stringify([{ Config: files[0]![0], RepoTags: [tag], Layers: names }]))]);
  const pack = tarStream.pack();
  for (const [name, body] of files) pack.entry({ name, mode: 0o644 }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** An OCI archive of one image; `corrupt` swaps a layer's bytes after its digest was taken. */
export async function ociArchive(layers: Buffer[], ref: string, opts: { corrupt?: boolean } = {}): Promise<Buffer> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map(sha) } }));
  const desc = (mediaType: string, b: Buffer) => ({ mediaType, digest: sha(b), size: b.length });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: desc('application/vnd.oci.image.config.v1+json', config),
      layers: layers.map((l) => desc('application/vnd.oci.image.layer.v1.tar', l)),
    }),
  );
  const index = { schemaVersion: 2, manifests: [{ ...desc('application/vnd.oci.image.manifest.v1+json', manifest), annotations: { 'org.opencontainers.image.ref.name': ref } }] };
  const pack = tarStream.pack();
  pack.entry({ name: 'oci-layout' }, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const b of [config, manifest]) pack.entry({ name: `blobs/sha256/${sha(b).slice(7)}` }, b);
  for (const l of layers) {
    const body = opts.corrupt ? Buffer.concat([l.subarray(0, l.length - 1), Buffer.from([l[l.length - 1]! ^ 1])]) : l;
    pack.entry({ name: `blobs/sha256/${sha(l).slice(7)}` }, body);
  }
  pack.entry({ name: 'index.json' }, JSON.stringify(index));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}
