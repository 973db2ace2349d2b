/**
 * Pull benchmark: the same image (≥100 MB of compressed layers in 6 layers, generated here) from a
 * local docker-registry, pulled by berth, by `skopeo copy docker://… oci:…` and by `podman pull`,
 * interleaved (the order rotates every round), each from a cold store, timed as whole processes;
 * and, for context, skopeo's copy followed by `umoci unpack` (a root filesystem at the end, as
 * berth's and podman's pulls leave).
 * Prints every run, the medians and the ratios. Run: node bench/pull.ts [rounds] [--tls] (after
 * `make build`); with --tls the registry serves HTTPS (a throwaway CA; every client skips verification).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildImage, makeTls, pushLayout, startRegistry, tarLayer, writeOciLayout, type Registry } from '../test/helpers/registry.ts';

const REPO = resolve(import.meta.dirname, '..');
const BERTH = process.env.BERTH_BENCH_CLI ?? join(REPO, 'bin/berth');
const ROUNDS = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 5);
const TLS = process.argv.includes('--tls');
const LAYERS = 6;
const RANDOM_PER_LAYER = 17 << 20;
const TEXT_PER_LAYER = 4 << 20;

function need(cmd: string, args: string[]): void {
  if (spawnSync(cmd, args, { stdio: 'ignore' }).status !== 0) {
    console.error(`bench/pull: ${cmd} is not usable; run 'make deps build' first`);
    process.exit(2);
  }
}

/** Semi-compressible text: log-like lines with random fields. */
function text(bytes: number): Buffer {
  const lines: string[] = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const l = `${new Date(1_700_000_000_000 + i * 997).toISOString()} worker-${i % 17} request ${randomBytes(6).toString('hex')} status=${200 + (i % 5)} bytes=${(i * 7919) % 100000}\n`;
    lines.push(l);
    n += l.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function timed(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 16 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return ms;
}

need(BERTH, ['--version']);
need('skopeo', ['--version']);
need('podman', ['--version']);
need('umoci', ['--version']);
need('/usr/bin/docker-registry', ['--version']);

const work = mkdtempSync(join(tmpdir(), 'berth-bench-pull-'));
let reg: Registry | undefined;
try {
  console.log(`generating ${LAYERS} layers of ${((RANDOM_PER_LAYER + TEXT_PER_LAYER) / 1e6).toFixed(1)} MB…`);
  const tars: Buffer[] = [];
  for (let i = 0; i < LAYERS; i++)
    tars.push(
      await tarLayer([
        { name: `layer${i}/`, type: 'directory' },
        { name: `layer${i}/random-a.bin`, body: randomBytes(RANDOM_PER_LAYER / 2) },
        { name: `layer${i}/random-b.bin`, body: randomBytes(RANDOM_PER_LAYER / 2) },
        { name: `layer${i}/log.txt`, body: text(TEXT_PER_LAYER) },
      ]),
    );
  const img = buildImage(tars, { level: 1 });
  const compressed = img.layers.reduce((n, l) => n + l.blob.length, 0);
  const raw = tars.reduce((n, t) => n + t.length, 0);
  writeOciLayout(join(work, 'layout'), [img], 'v1');
  const tls = TLS ? makeTls(join(work, 'tls')) : undefined;
  reg = await startRegistry(join(work, 'registry'), tls ? { tls } : {});
  const ref = `${reg.host}/bench/big:v1`;
  pushLayout(join(work, 'layout'), 'v1', ref, tls ? { certDir: tls.certDir } : {});
  console.log(`image ${ref}${TLS ? ' (HTTPS)' : ''}: ${LAYERS} layers, ${(compressed / 1e6).toFixed(1)} MB compressed, ${(raw / 1e6).toFixed(1)} MB uncompressed`);

  const tools: Record<string, (d: string) => number> = {
    berth: (d) => timed(BERTH, ['--root', join(d, 'root'), 'pull', '-q', '--tls-verify=false', ref]),
    skopeo: (d) => timed('skopeo', ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `oci:${join(d, 'oci')}:v1`]),
    // context, not a target: skopeo's download plus umoci's unpack ends, like berth and podman, with a root filesystem
    'skopeo+umoci': (d) =>
      timed('skopeo', ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `oci:${join(d, 'oci')}:v1`]) +
      timed('umoci', ['unpack', '--image', `${join(d, 'oci')}:v1`, join(d, 'bundle')]),
    // podman refuses a runroot longer than 50 characters: a short one under /tmp.
    podman: (d) =>
      timed('podman', ['--root', join(d, 'root'), '--runroot', mkdtempSync('/tmp/bpr-'), '--storage-driver', 'overlay', '--events-backend', 'file', 'pull', '-q', '--tls-verify=false', ref]),
  };
  const names = Object.keys(tools);
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  // A warm-up of each tool (not counted): the registry's files in the page cache, binaries loaded.
  for (const n of names) {
    const d = mkdtempSync(join(work, `${n}-warm-`));
    tools[n]!(d);
    podmanSafeRemove(d);
  }
  for (let round = 0; round < ROUNDS; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]!);
    for (const n of order) {
      const d = mkdtempSync(join(work, `${n}-`));
      const ms = tools[n]!(d);
      times[n]!.push(ms);
      podmanSafeRemove(d);
      spawnSync('sync');
    }
    console.log(`round ${round + 1}: ${order.map((n) => `${n} ${(times[n]!.at(-1)! / 1000).toFixed(2)}s`).join(', ')}`);
  }
  const med = Object.fromEntries(names.map((n) => [n, median(times[n]!)]));
  console.log('');
  console.log('tool           median   runs (s)');
  for (const n of names) console.log(`${n.padEnd(14)} ${(med[n]! / 1000).toFixed(2).padStart(6)}s  ${times[n]!.map((t) => (t / 1000).toFixed(2)).join(' ')}`);
  console.log('');
  for (const n of names.filter((x) => x !== 'berth'))
    console.log(`berth vs ${n}: ${(med[n]! / med.berth!).toFixed(2)}x (${med.berth! < med[n]! ? 'berth faster' : 'berth slower'})`);
} finally {
  await reg?.stop();
  podmanSafeRemove(work);
  for (const n of readdirSync('/tmp')) if (n.startsWith('bpr-')) rmSync(join('/tmp', n), { recursive: true, force: true });
}

/** podman leaves overlay mounts and read-only dirs behind: unmount, then remove. */
function podmanSafeRemove(d: string): void {
  if (!existsSync(d)) return;
  const mounts = spawnSync('findmnt', ['-rn', '-o', 'TARGET'], { encoding: 'utf8' }).stdout.split('\n').filter((m) => m.startsWith(d));
  for (const m of mounts.sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', m]);
  rmSync(d, { recursive: true, force: true });
}
