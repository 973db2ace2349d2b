/**
 * Test registries and test images, without the internet: Debian's `docker-registry` (the CNCF
 * distribution registry) on a free 127.0.0.1 port with filesystem storage in a temp dir,
 * optionally behind TLS (a CA and server certificate made with openssl) and htpasswd Basic auth;
 * OCI image layouts written from in-memory tar layers (static busybox and friends), and skopeo
 * as the independent client that puts them into the registry and reads berth's pushes back.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export function hasRegistryTools(): boolean {
  return spawnSync(REGISTRY_BIN, ['--version']).status === 0 && spawnSync('skopeo', ['--version']).status === 0;
}

export function sha(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TlsFiles {
  caCert: string;
  cert: string;
  key: string;
  /** A directory with ca.crt, for skopeo's --*-cert-dir and berth's certs.d. */
  certDir: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1 signed by it. */
export function makeTls(dir: string): TlsFiles {
  mkdirSync(dir, { recursive: true });
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir });
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
  };
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=berth test CA']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf']);
  const certDir = join(dir, 'certs');
  mkdirSync(certDir, { recursive: true });
  writeFileSync(join(certDir, 'ca.crt'), readFileSync(join(dir, 'ca.crt')));
  return { caCert: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), certDir };
}

/** An htpasswd line with a bcrypt hash (what the registry's htpasswd auth accepts). */
export function htpasswdLine(user: string, password: string): string {
  const r = spawnSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`htpasswd: ${r.stderr || 'not installed (apt-get install apache2-utils)'}`);
  return r.stdout.trim();
}

export interface Registry {
  host: string;
  port: number;
  dir: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  tls?: TlsFiles;
  users?: Record<string, string>;
}

/** Starts docker-registry on a free port; resolves once it answers /v2/. */
export async function startRegistry(dir: string, opts: RegistryOptions = {}): Promise<Registry> {
  mkdirSync(join(dir, 'data'), { recursive: true });
  const port = await freePort();
  let yml = `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`;
  if (opts.tls) yml += `  tls:\n    certificate: ${opts.tls.cert}\n    key: ${opts.tls.key}\n`;
  if (opts.users) {
    writeFileSync(join(dir, 'htpasswd'), Object.entries(opts.users).map(([u, p]) => htpasswdLine(u, p)).join('\n') + '\n');
    yml += `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  writeFileSync(join(dir, 'config.yml'), yml);
  // Output to a file, not a pipe: a registry that outlives its test must not die of SIGPIPE.
  const logFd = openSync(join(dir, 'registry.log'), 'w');
  const proc = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const log = () => readFileSync(join(dir, 'registry.log'), 'utf8').slice(-2000);
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };
  const scheme = opts.tls ? 'https' : 'http';
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited: ${log()}`);
    const r = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...(opts.tls ? ['--cacert', opts.tls.caCert] : []), `${scheme}://127.0.0.1:${port}/v2/`], {
      encoding: 'utf8',
    });
    if (r.stdout === '200' || r.stdout === '401') return { host: `127.0.0.1:${port}`, port, dir, proc, stop };
    await new Promise((res) => setTimeout(res, 100));
  }
  await stop();
  throw new Error(`docker-registry did not start: ${log()}`);
}

export interface FileEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  body?: Buffer | string;
  linkname?: string;
  mode?: number;
}

export async function tarLayer(entries: FileEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const h = { name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), mtime: new Date(1_600_000_000_000), uid: 0, gid: 0, ...(e.linkname ? { linkname: e.linkname } : {}) };
    if (type === 'file') pack.entry(h, e.body ?? '');
    else pack.entry(h);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

export interface BuiltImage {
  manifest: Buffer;
  manifestDigest: string;
  config: Buffer;
  configDigest: string;
  layers: { tar: Buffer; blob: Buffer; digest: string }[];
}

/** A single-platform image from uncompressed layer tars (gzipped here). */
export function buildImage(tars: Buffer[], opts: { arch?: string; cmd?: string[]; level?: number } = {}): BuiltImage {
  const layers = tars.map((tar) => {
    const blob = gzipSync(tar, { level: opts.level ?? 6 });
    return { tar, blob, digest: sha(blob) };
  });
  const config = Buffer.from(
    JSON.stringify({
      created: '2024-01-01T00:00:00Z',
      architecture: opts.arch ?? 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: opts.cmd ?? ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: tars.map(sha) },
      history: tars.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i}` })),
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.blob.length })),
    }),
  );
  return { manifest, manifestDigest: sha(manifest), config, configDigest: sha(config), layers };
}

function writeBlob(dir: string, b: Buffer): void {
  writeFileSync(join(dir, 'blobs', 'sha256', sha(b).slice(7)), b);
}

/**
 * Writes an OCI layout with one image (or, with several, an index of them by platform) tagged
 * `tag`. Returns the digest of the top-level manifest or index.
 */
export function writeOciLayout(dir: string, images: BuiltImage[], tag: string, annotations: Record<string, string> = {}): { digest: string; index?: Buffer } {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const img of images) {
    writeBlob(dir, img.manifest);
    writeBlob(dir, img.config);
    for (const l of img.layers) writeBlob(dir, l.blob);
  }
  const ann = { 'org.opencontainers.image.ref.name': tag, ...annotations };
  let top: { mediaType: string; digest: string; size: number };
  let index: Buffer | undefined;
  if (images.length === 1) {
    top = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: images[0]!.manifestDigest, size: images[0]!.manifest.length };
  } else {
    index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: images.map((img) => ({
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: img.manifestDigest,
          size: img.manifest.length,
          platform: { os: 'linux', architecture: (JSON.parse(img.config.toString()) as { architecture: string }).architecture },
        })),
      }),
    );
    writeBlob(dir, index);
    top = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha(index), size: index.length };
  }
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...top, annotations: ann }] }));
  return { digest: top.digest, ...(index ? { index } : {}) };
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function skopeo(args: string[], timeout = 120_000): Run {
  const r = spawnSync('skopeo', ['--insecure-policy', ...args], { encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** skopeo copy of an OCI layout into a registry (plain HTTP unless certDir/creds are given). */
export function pushLayout(layout: string, tag: string, dest: string, opts: { certDir?: string; creds?: string; all?: boolean } = {}): void {
  const tls = opts.certDir ? ['--dest-cert-dir', opts.certDir] : ['--dest-tls-verify=false'];
  const r = skopeo(['copy', ...(opts.all ? ['--all'] : []), ...tls, ...(opts.creds ? ['--dest-creds', opts.creds] : []), `oci:${layout}:${tag}`, `docker://${dest}`]);
  if (r.code !== 0) throw new Error(`skopeo copy to ${dest} failed: ${r.stderr}`);
}

/** The files of a small busybox image in 3 layers: busybox, /etc files, a data file. */
export async function busyboxLayers(dataBytes = 256 << 10): Promise<Buffer[]> {
  const bb = readFileSync('/bin/busybox');
  const l1 = await tarLayer([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', body: bb, mode: 0o755 },
    ...['sh', 'ls', 'cat', 'echo', 'true'].map((n) => ({ name: `bin/${n}`, type: 'symlink' as const, linkname: 'busybox' })),
  ]);
  const l2 = await tarLayer([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', body: 'root:x:0:0:root:/root:/bin/sh\n' },
    { name: 'etc/berth-release', body: 'berth test image\n' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
  ]);
  const l3 = await tarLayer([
    { name: 'data/', type: 'directory' },
    { name: 'data/random.bin', body: randomBytes(dataBytes) },
  ]);
  return [l1, l2, l3];
}

const REPO = join(import.meta.dirname, '..', '..');
const NODE = join(REPO, 'node_modules/node/bin/node');
/** The CLI entry the tests run (from source); BERTH_TEST_MAIN overrides it. */
const MAIN = process.env.BERTH_TEST_MAIN ?? join(REPO, 'src/cli/berth/main.ts');

/**
 * Runs the berth CLI without blocking the event loop (tests that serve HTTP in-process need it
 * running while berth talks to them).
 */
export function berthAsync(root: string, args: string[], opts: { env?: Record<string, string>; input?: string; timeout?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [MAIN, '--root', root, ...args], { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), opts.timeout ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin!.end(opts.input ?? '');
  });
}

export function must(r: Run, what: string): Run {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

/** True once `berth run` exists (another concern); the "image runs" checks turn on by themselves. */
export function hasBerthRun(): boolean {
  return spawnSync(NODE, [MAIN, 'run', '--help'], { stdio: 'ignore' }).status === 0;
}
