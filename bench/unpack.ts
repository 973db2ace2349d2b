/**
 * Unpack benchmark (issue #3): berth against `umoci unpack` and `podman load` on the same image.
 *
 *   node_modules/node/bin/node bench/unpack.ts [--rounds 5] [--no-drop-caches] [--work DIR] [--keep]
 *
 * The image is generated here, deterministically and without network: four layers of a
 * Debian-like tree (many small files, some medium, a few large, directories, symlinks, hardlinks,
 * files replaced by an upper layer, a file and a directory whiteout and an opaque directory), about
 * 110 MB and 6,000 regular files. It is written once (cached under --work, keyed by GEN_VERSION)
 * in two forms: an OCI layout with gzip layers (what a registry serves; umoci's input) and a
 * Docker archive with plain tar layers (what `docker save` writes; podman load's input). berth
 * loads both.
 *
 * Every timed run starts cold: a fresh root/bundle, `sync`, the page cache dropped (root only;
 * printed in the header), then the tool's own binaries warmed with a `--version` run so that only
 * the image data is cold. The runs of one round are interleaved in a rotating order, so machine
 * drift (other users of the host) spreads over all tools. Each tool does the same kind of work:
 *   - berth load: ingests (and verifies) every blob into its content store, then unpacks each layer
 *     into its own snapshot in overlay form (load unpacks eagerly; no prepare needed);
 *   - podman load (overlay driver, private --root/--runroot): copies the blobs, then extracts each
 *     layer into its own overlay diff directory;
 *   - umoci unpack: extracts the layers on top of each other into one bundle rootfs (whiteouts
 *     applied) and writes its mtree manifest.
 * "cmd" is the command's wall time; "+sync" adds the `sync` that follows it, i.e. the time until
 * the result is on disk (berth fsyncs before it reports success, the peers leave dirty pages).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync, lstatSync } from 'node:fs';
import { availableParallelism, cpus, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { encodeTarHeader, TAR_END, tarPadding, type TarEntry } from '../src/unpack/tar-writer.ts';
import { buildImage, writeOciLayout } from '../test/helpers/registry.ts';

const REPO = resolve(import.meta.dirname, '..');
const NODE = process.execPath;
/** Bump when the generated image changes, so a cached copy is not reused. */
const GEN_VERSION = 'v1';
const EPOCH = 1_700_000_000;

// ---------------------------------------------------------------------------------------------
// Options

function parseArgs(argv: string[]) {
  const o = { rounds: 5, dropCaches: true, work: join(tmpdir(), 'berth-bench-unpack'), keep: false, only: [] as string[], baseline: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--rounds') o.rounds = Math.max(1, Number.parseInt(argv[++i] ?? '5', 10));
    else if (a === '--no-drop-caches') o.dropCaches = false;
    else if (a === '--work') o.work = resolve(argv[++i] ?? o.work);
    else if (a === '--keep') o.keep = true;
    else if (a === '--only') o.only = (argv[++i] ?? '').split(',');
    else if (a === '--baseline') o.baseline = argv[++i] ?? '';
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Deterministic content

/** mulberry32: small, fast, and the same sequence on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the of and to in is for on with as by this that from be are or an it at not which can if ' +
  'file data value error system config return static const void int char struct include define ' +
  'package version license copyright debian usr lib share doc bin etc var local user group mode'
).split(' ');

/**
 * A pool of bytes that compresses roughly like a distribution (about 2:1): text-like runs,
 * incompressible runs (code, compressed data) and zero-heavy runs (binaries' padding). Files are
 * slices of it, so 100 MB of content costs no more than the pool to make.
 */
function makePool(size: number, rnd: () => number): Buffer {
  const pool = Buffer.alloc(size);
  for (let off = 0; off < size; off += 4096) {
    const end = Math.min(size, off + 4096);
    const kind = rnd();
    if (kind < 0.45) {
      let p = off;
      while (p < end) {
        const w = WORDS[Math.floor(rnd() * WORDS.length)]!;
        p += pool.write(rnd() < 0.1 ? `${w}\n` : `${w} `, p, end - p, 'latin1');
      }
    } else if (kind < 0.8) {
      for (let p = off; p < end; p += 4) pool.writeUInt32LE(Math.floor(rnd() * 4294967296), p);
    } else {
      for (let p = off; p < end; p += 64) pool[p] = Math.floor(rnd() * 256);
    }
  }
  return pool;
}

// ---------------------------------------------------------------------------------------------
// The image

interface GenEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link';
  mode: number;
  uid?: number;
  gid?: number;
  size?: number;
  linkname?: string;
  /** Seed of the content slice. */
  seed?: number;
}

interface LayerPlan {
  entries: GenEntry[];
}

interface Stats {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  whiteouts: number;
  bytes: number;
}

/** Log-uniform size in [lo, hi]. */
function logSize(rnd: () => number, lo: number, hi: number): number {
  return Math.floor(Math.exp(Math.log(lo) + rnd() * (Math.log(hi) - Math.log(lo))));
}

function planLayers(): LayerPlan[] {
  const rnd = prng(0xbe47);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const pkgs = Array.from({ length: 140 }, (_, i) => `pkg${String(i).padStart(3, '0')}-${pick(WORDS)}`);

  const layers: Map<string, GenEntry>[] = [];
  const ensureDirs = (m: Map<string, GenEntry>, path: string) => {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!m.has(d)) m.set(d, { name: d, type: 'directory', mode: 0o755 });
    }
  };
  const add = (m: Map<string, GenEntry>, e: GenEntry) => {
    ensureDirs(m, e.name);
    m.set(e.name, e);
  };
  let seed = 1;
  const file = (m: Map<string, GenEntry>, name: string, size: number, mode = 0o644, owner?: [number, number]) =>
    add(m, { name, type: 'file', mode, size, seed: seed++, ...(owner ? { uid: owner[0], gid: owner[1] } : {}) });

  const smallDirs = (p: string) => [`usr/share/doc/${p}`, `usr/share/${p}`, `usr/share/${p}/data`, `usr/share/${p}/data/${pick(WORDS)}`, `usr/lib/${p}`, `etc/${p}`];
  const fileName = (i: number) => `${pick(WORDS)}-${i}${pick(['', '.txt', '.conf', '.py', '.h', '.gz', '.json'])}`;

  // Layer 0: the base system.
  const l0 = new Map<string, GenEntry>();
  for (let i = 0; i < 3200; i++) file(l0, `${pick(smallDirs(pick(pkgs)))}/${fileName(i)}`, logSize(rnd, 40, 9000));
  for (let i = 0; i < 300; i++) {
    const p = pick(pkgs);
    if (i % 3 === 0) file(l0, `usr/bin/${p}-${i}`, logSize(rnd, 16 << 10, 640 << 10), 0o755);
    else file(l0, `usr/lib/x86_64-linux-gnu/lib${p}-${i}.so.1.0.${i % 7}`, logSize(rnd, 16 << 10, 640 << 10));
  }
  file(l0, 'usr/bin/passwd-suid', 60 << 10, 0o4755);
  file(l0, 'var/lib/postgres/data.bin', 200 << 10, 0o600, [104, 108]);
  file(l0, 'usr/lib/x86_64-linux-gnu/libbig-core.so.3', 10 << 20);
  file(l0, 'usr/lib/x86_64-linux-gnu/libbig-ui.so.5', 6 << 20);
  file(l0, 'usr/share/icons/cache.bin', 4 << 20);
  layers.push(l0);

  // Layer 1: more packages, and new versions of some base files.
  const l1 = new Map<string, GenEntry>();
  const l0files = [...l0.values()].filter((e) => e.type === 'file');
  for (let i = 0; i < 1500; i++) file(l1, `${pick(smallDirs(pick(pkgs)))}/${fileName(10_000 + i)}`, logSize(rnd, 40, 9000));
  for (let i = 0; i < 120; i++) file(l1, `opt/app/lib/mod${i}.so`, logSize(rnd, 16 << 10, 640 << 10));
  for (let i = 0; i < 100; i++) {
    const e = pick(l0files);
    file(l1, e.name, e.size! + 17, e.mode);
  }
  file(l1, 'opt/app/share/assets.pak', 8 << 20);
  file(l1, 'opt/app/bin/app', 4 << 20, 0o755);
  for (let i = 0; i < 30; i++) file(l1, `opt/app/plugins/p${i}.conf`, logSize(rnd, 100, 3000));
  layers.push(l1);

  // Layer 2: configuration, a whited-out file and directory, an opaque directory.
  const l2 = new Map<string, GenEntry>();
  for (let i = 0; i < 400; i++) file(l2, `etc/${pick(pkgs)}/${fileName(20_000 + i)}`, logSize(rnd, 40, 4000));
  const goneFile = l0files.find((e) => e.name.startsWith('usr/share/doc/'))!.name;
  const goneDir = [...l0.values()].find((e) => e.type === 'directory' && /^usr\/share\/pkg\d+-[a-z]+$/.test(e.name))!.name;
  const wh = (path: string) => {
    const i = path.lastIndexOf('/');
    return `${path.slice(0, i)}/.wh.${path.slice(i + 1)}`;
  };
  add(l2, { name: wh(goneFile), type: 'file', mode: 0o644, size: 0, seed: 0 });
  add(l2, { name: wh(goneDir), type: 'file', mode: 0o644, size: 0, seed: 0 });
  add(l2, { name: 'opt/app/plugins/.wh..wh..opq', type: 'file', mode: 0o644, size: 0, seed: 0 });
  for (let i = 0; i < 5; i++) file(l2, `opt/app/plugins/only${i}.conf`, 300);
  layers.push(l2);

  // Layer 3: the application.
  const l3 = new Map<string, GenEntry>();
  for (let i = 0; i < 100; i++) file(l3, `srv/app/static/${fileName(30_000 + i)}`, logSize(rnd, 200, 20_000));
  file(l3, 'srv/app/bin/server', 12 << 20, 0o755);
  file(l3, 'srv/app/data/model.bin', 6 << 20, 0o644, [1000, 1000]);
  layers.push(l3);

  // Symlinks and hardlinks, placed beside existing files (as in a distribution).
  const plans: LayerPlan[] = [];
  for (const [li, m] of layers.entries()) {
    const files = [...m.values()].filter((e) => e.type === 'file' && !e.name.includes('.wh.'));
    const nSym = [400, 150, 20, 10][li]!;
    const nHard = [100, 40, 5, 2][li]!;
    for (let i = 0; i < nSym; i++) {
      const t = pick(files);
      const base = t.name.slice(t.name.lastIndexOf('/') + 1);
      const dir = t.name.slice(0, t.name.lastIndexOf('/'));
      const kind = rnd();
      const linkname = kind < 0.6 ? base : kind < 0.85 ? `/${t.name}` : `../missing/${base}`;
      const name = `${dir}/link${i}-${base}`;
      if (!m.has(name)) m.set(name, { name, type: 'symlink', mode: 0o777, linkname });
    }
    const hard: GenEntry[] = [];
    for (let i = 0; i < nHard; i++) {
      const t = pick(files);
      const name = `${t.name}.hl${i}`;
      if (!m.has(name)) hard.push({ name, type: 'link', mode: t.mode, linkname: t.name });
    }
    // Depth-first, sorted: every directory before its contents; hardlinks after their targets.
    const entries = [...m.values(), ...hard].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    plans.push({ entries });
  }
  return plans;
}

function layerTar(plan: LayerPlan, pool: Buffer, stats: Stats): Buffer {
  const parts: Buffer[] = [];
  for (const [i, e] of plan.entries.entries()) {
    const mtime = EPOCH + (i % 86_400);
    const entry: TarEntry = {
      name: e.name,
      type: e.type,
      mode: e.mode,
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime,
      ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
    };
    if (e.type === 'file') {
      const size = e.size ?? 0;
      parts.push(encodeTarHeader({ ...entry, size }));
      if (size > 0) {
        const body = Buffer.alloc(size);
        const r = prng(e.seed ?? 0);
        for (let off = 0; off < size; ) {
          const start = Math.floor(r() * (pool.length - 65536));
          const n = Math.min(size - off, 65536);
          pool.copy(body, off, start, start + n);
          off += n;
        }
        body.write(`${e.name}#${e.seed}`.slice(0, Math.min(size, 200)), 0, 'latin1'); // unique content
        parts.push(body, tarPadding(size));
      }
      if (e.name.includes('/.wh.')) stats.whiteouts++;
      else {
        stats.files++;
        stats.bytes += size;
      }
    } else {
      parts.push(encodeTarHeader(entry));
      if (e.type === 'directory') stats.dirs++;
      else if (e.type === 'symlink') stats.symlinks++;
      else stats.hardlinks++;
    }
  }
  parts.push(TAR_END);
  return Buffer.concat(parts);
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Writes a tar of whole in-memory files to `path`. */
function writeTarFile(path: string, files: [string, Buffer][]): void {
  const fd = openSync(path, 'w', 0o644);
  try {
    const put = (b: Buffer) => {
      for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
    };
    for (const [name, body] of files) {
      put(encodeTarHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: EPOCH }));
      put(body);
      put(tarPadding(body.length));
    }
    put(TAR_END);
  } finally {
    closeSync(fd);
  }
}

interface Image {
  oci: string;
  docker: string;
  stats: Stats;
  layers: number;
  compressed: number;
  uncompressed: number;
}

function generate(dir: string): Image {
  const done = join(dir, 'stats.json');
  if (existsSync(done)) return JSON.parse(readFileSync(done, 'utf8')) as Image;
  rmSync(dir, { recursive: true, force: true });
  const t0 = performance.now();
  const pool = makePool(16 << 20, prng(42));
  const stats: Stats = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, whiteouts: 0, bytes: 0 };
  const tars = planLayers().map((p) => layerTar(p, pool, stats));
  const oci = join(dir, 'oci');
  const built = buildImage(tars, { cmd: ['/srv/app/bin/server'] });
  const gz = built.layers.map((l) => l.blob);
  const config = built.config;
  const diffIDs = tars.map((t) => `sha256:${sha256(t)}`);
  writeOciLayout(oci, [built], 'latest', { 'io.containerd.image.name': 'localhost/bench/unpack:latest' });

  const docker = join(dir, 'docker.tar');
  const layerNames = diffIDs.map((d) => `${d.slice(7)}/layer.tar`);
  writeTarFile(docker, [
    [`${sha256(config)}.json`, config],
    ...tars.map((t, i): [string, Buffer] => [layerNames[i]!, t]),
    ['manifest.json', Buffer.from(JSON.stringify([{ Config: `${sha256(config)}.json`, RepoTags: ['localhost/bench/unpack:latest'], Layers: layerNames }]))],
  ]);
  const img: Image = {
    oci,
    docker,
    stats,
    layers: tars.length,
    compressed: gz.reduce((a, b) => a + b.length, 0),
    uncompressed: tars.reduce((a, b) => a + b.length, 0),
  };
  writeFileSync(done, JSON.stringify(img));
  console.error(`generated the image in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return img;
}

// ---------------------------------------------------------------------------------------------
// Tools

interface Tool {
  name: string;
  /** Prepares a cold, empty destination under `dir` and returns the command to time. */
  command(dir: string): { argv: string[]; env?: NodeJS.ProcessEnv };
  warm: string[];
  /** What the run left on disk (outside the timing), to show the work is comparable. */
  check(dir: string): string;
}

/** Unmounts whatever a run left mounted below `dir` (none of the tools should), deepest first. */
function unmountUnder(dir: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${dir}/`));
  for (const m of mounts.sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', m]);
}

function removeRun(dir: string): void {
  unmountUnder(dir);
  rmSync(dir, { recursive: true, force: true });
}

function run(argv: string[], env?: NodeJS.ProcessEnv): SpawnSyncReturns<Buffer> {
  return spawnSync(argv[0]!, argv.slice(1), { env: env ?? process.env, maxBuffer: 64 << 20 });
}

function have(cmd: string): boolean {
  return spawnSync(cmd, ['--version']).status === 0;
}

/** Counts entries (and regular-file bytes) under each of `dirs`. */
function census(dirs: string[]): { entries: number; bytes: number } {
  let entries = 0;
  let bytes = 0;
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = lstatSync(p);
      entries++;
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) bytes += st.size;
    }
  };
  for (const d of dirs) walk(d);
  return { entries, bytes };
}

/** Width of the tool-name column. */
const W = 32;
const MB = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/**
 * Bundles the berth CLI as it ships (esbuild, compile cache), without touching dist/. With `rev`,
 * the sources of that git revision are bundled instead (for before/after runs).
 */
async function bundleBerth(out: string, rev?: string): Promise<string> {
  const { build } = await import('esbuild');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  let srcRoot = REPO;
  if (rev) {
    srcRoot = join(out, 'tree');
    mkdirSync(srcRoot);
    const archive = spawnSync('git', ['-C', REPO, 'archive', rev, 'src'], { maxBuffer: 256 << 20 });
    if (archive.status !== 0) throw new Error(`git archive ${rev}: ${archive.stderr.toString()}`);
    const untar = spawnSync('tar', ['-x', '-C', srcRoot], { input: archive.stdout });
    if (untar.status !== 0) throw new Error(`untar ${rev}: ${untar.stderr.toString()}`);
  }
  await build({
    entryPoints: { 'berth-main': join(srcRoot, 'src/cli/berth/main.ts') },
    nodePaths: [join(REPO, 'node_modules')],
    outdir: out,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true, // as scripts/build.mjs: lazily imported commands are chunks loaded on use
    chunkNames: 'chunks/[name]-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node24',
    external: ['koffi'],
    logLevel: 'warning',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  const entry = join(out, 'berth.mjs');
  writeFileSync(
    entry,
    `import { enableCompileCache } from 'node:module';\ntry { enableCompileCache(${JSON.stringify(join(out, 'compile-cache'))}); } catch {}\nawait import('./berth-main.mjs');\n`,
  );
  return entry;
}

function berthTool(name: string, cli: string, input: string): Tool {
  return {
    name,
    command: (dir) => ({ argv: [NODE, cli, '--root', join(dir, 'root'), 'load', '-q', '-i', input] }),
    warm: [NODE, cli, '--version'],
    check(dir) {
      const snaps = readdirSync(join(dir, 'root', 'snapshots')).filter((n) => !n.startsWith('.'));
      const c = census(snaps.map((s) => join(dir, 'root', 'snapshots', s, 'fs')));
      return `${snaps.length} snapshots, ${c.entries} entries, ${MB(c.bytes)}`;
    },
  };
}

function podmanTool(input: string): Tool {
  const base = (dir: string) => ['podman', '--root', join(dir, 'root'), '--runroot', join(dir, 'run'), '--storage-driver', 'overlay', '--events-backend', 'file'];
  return {
    name: 'podman load',
    command: (dir) => ({ argv: [...base(dir), 'load', '-q', '-i', input], env: { ...process.env, TMPDIR: join(dir, 'tmp') } }),
    warm: ['podman', '--version'],
    check(dir) {
      const ov = join(dir, 'root', 'overlay');
      const layers = readdirSync(ov).filter((n) => n !== 'l' && existsSync(join(ov, n, 'diff')));
      const c = census(layers.map((l) => join(ov, l, 'diff')));
      return `${layers.length} layers, ${c.entries} entries, ${MB(c.bytes)}`;
    },
  };
}

function umociTool(oci: string): Tool {
  return {
    name: 'umoci unpack',
    command: (dir) => ({ argv: ['umoci', 'unpack', '--image', `${oci}:latest`, join(dir, 'bundle')] }),
    warm: ['umoci', '--version'],
    check(dir) {
      const c = census([join(dir, 'bundle', 'rootfs')]);
      return `1 merged rootfs, ${c.entries} entries, ${MB(c.bytes)}`;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Running

function dropCaches(enabled: boolean): boolean {
  spawnSync('sync');
  if (!enabled) return false;
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Sample {
  cmd: number;
  synced: number;
  /** User + system CPU seconds of the command and its children (less noisy than wall time on a shared host). */
  cpu: number;
}

/** GNU time, to get the CPU time of a command and all its children. */
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

function timeOnce(tool: Tool, dir: string, drop: boolean): { sample: Sample; dropped: boolean } {
  removeRun(dir);
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const { argv, env } = tool.command(dir);
  const dropped = dropCaches(drop);
  run(tool.warm);
  const cpuFile = join(dir, 'tmp', 'cpu');
  const t0 = process.hrtime.bigint();
  const r = run(TIME ? [TIME, '-f', '%U %S', '-o', cpuFile, ...argv] : argv, env);
  const t1 = process.hrtime.bigint();
  spawnSync('sync');
  const t2 = process.hrtime.bigint();
  if (r.status !== 0) throw new Error(`${tool.name} failed (${r.status}): ${r.stderr.toString()}${r.stdout.toString()}`);
  const cpu = TIME ? readFileSync(cpuFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number).reduce((a, b) => a + b, 0) : Number.NaN;
  return { sample: { cmd: Number(t1 - t0) / 1e9, synced: Number(t2 - t0) / 1e9, cpu }, dropped };
}

function version(argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1));
  return r.status === 0 ? r.stdout.toString().trim().split('\n')[0]! : 'unknown';
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const started = performance.now();
  mkdirSync(opts.work, { recursive: true });
  const img = generate(join(opts.work, `image-${GEN_VERSION}`));
  const s = img.stats;
  if (s.bytes < 100e6 || s.files < 5000) throw new Error('the generated image is smaller than the benchmark promises');
  const cli = await bundleBerth(join(REPO, '.cache', 'bench', 'berth'));

  const tools: Tool[] = [berthTool('berth load (docker-archive)', cli, img.docker), berthTool('berth load (oci layout)', cli, img.oci)];
  if (opts.baseline) {
    const old = await bundleBerth(join(REPO, '.cache', 'bench', 'berth-baseline'), opts.baseline);
    const rev = spawnSync('git', ['-C', REPO, 'rev-parse', '--short', opts.baseline]).stdout.toString().trim();
    tools.push(berthTool(`berth@${rev} (docker-archive)`, old, img.docker), berthTool(`berth@${rev} (oci layout)`, old, img.oci));
  }
  const missing: string[] = [];
  if (have('podman')) tools.push(podmanTool(img.docker));
  else missing.push('podman');
  if (have('umoci')) tools.push(umociTool(img.oci));
  else missing.push('umoci');
  const selected = opts.only.length ? tools.filter((t) => opts.only.some((o) => t.name.includes(o))) : tools;

  console.log('# berth unpack benchmark');
  console.log(`host: ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), Linux ${release()}, node ${process.version}`);
  console.log(`tools: ${version([NODE, cli, '--version'])} (berth), ${have('podman') ? version(['podman', '--version']) : 'no podman'}, ${have('umoci') ? version(['umoci', '--version']) : 'no umoci'}`);
  if (missing.length) console.log(`skipped (not installed): ${missing.join(', ')}`);
  console.log(
    `image: ${img.layers} layers, ${s.files} regular files (${MB(s.bytes)}), ${s.dirs} dir entries, ${s.symlinks} symlinks, ` +
      `${s.hardlinks} hardlinks, ${s.whiteouts} whiteouts; tar ${MB(img.uncompressed)}, gzip ${MB(img.compressed)}`,
  );
  console.log(`inputs: ${img.docker} (docker-archive, plain tar layers), ${img.oci} (OCI layout, gzip layers)`);
  console.log(`run: node_modules/node/bin/node bench/unpack.ts ${process.argv.slice(2).join(' ')}`.trimEnd());
  console.log('commands timed (DIR: a fresh directory per run):');
  for (const t of selected) console.log(`  ${t.name.padEnd(W)} ${t.command('DIR').argv.map((a) => (a === NODE ? 'node' : a === cli ? 'berth.mjs' : a)).join(' ')}`);

  // Warm-up: one untimed run each (compile cache, first-use setup), and a look at what each wrote.
  const runDir = join(opts.work, 'run');
  console.log('\nwork done per run (warm-up, untimed):');
  for (const t of selected) {
    const d = join(runDir, t.name.replace(/\W+/g, '-'));
    timeOnce(t, d, false);
    console.log(`  ${t.name.padEnd(W)} ${t.check(d)}`);
    removeRun(d);
  }

  const samples = new Map<string, Sample[]>(selected.map((t) => [t.name, []]));
  let dropped = false;
  for (let round = 0; round < opts.rounds; round++) {
    const order = selected.map((_, i) => selected[(i + round) % selected.length]!);
    const line: string[] = [];
    for (const t of order) {
      const d = join(runDir, t.name.replace(/\W+/g, '-'));
      const r = timeOnce(t, d, opts.dropCaches);
      dropped ||= r.dropped;
      samples.get(t.name)!.push(r.sample);
      line.push(`${t.name.split(' ')[0]} ${r.sample.cmd.toFixed(2)}s`);
      if (!opts.keep) removeRun(d);
    }
    console.error(`round ${round + 1}/${opts.rounds}: ${line.join(', ')}`);
  }

  console.log(`\ncold runs: ${opts.rounds} rounds, interleaved; page cache ${dropped ? 'dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before every run' : 'NOT dropped (only synced)'}, tool binaries warmed`);
  const f = (x: number) => x.toFixed(2).padStart(6);
  console.log(`\n${'tool'.padEnd(W)} ${'median'.padStart(6)} ${'min'.padStart(6)} ${'max'.padStart(6)}   ${'+sync'.padStart(6)}   ${'cpu'.padStart(6)}  (seconds, medians unless noted)`);
  const med = new Map<string, { cmd: number; synced: number; cpu: number }>();
  for (const t of selected) {
    const xs = samples.get(t.name)!;
    const cmd = xs.map((x) => x.cmd);
    const m = { cmd: median(cmd), synced: median(xs.map((x) => x.synced)), cpu: median(xs.map((x) => x.cpu)) };
    med.set(t.name, m);
    console.log(`${t.name.padEnd(W)} ${f(m.cmd)} ${f(Math.min(...cmd))} ${f(Math.max(...cmd))}   ${f(m.synced)}   ${f(m.cpu)}`);
  }
  const current = selected.filter((t) => t.name.startsWith('berth load'));
  const baseline = selected.filter((t) => t.name.startsWith('berth@'));
  const peers = selected.filter((t) => !t.name.startsWith('berth'));
  const ratio = (a: Tool, b: Tool) => {
    const ma = med.get(a.name)!;
    const mb = med.get(b.name)!;
    return `cmd ${(ma.cmd / mb.cmd).toFixed(2)}   +sync ${(ma.synced / mb.synced).toFixed(2)}   cpu ${(ma.cpu / mb.cpu).toFixed(2)}`;
  };
  if (current.length && peers.length) {
    console.log('\nratios of medians, berth / peer (below 1.00: berth is faster):');
    for (const b of [...current, ...baseline]) for (const p of peers) console.log(`  ${b.name.padEnd(W)} / ${p.name.padEnd(14)} ${ratio(b, p)}`);
    const fastest = Math.min(...peers.map((p) => med.get(p.name)!.cmd));
    const best = Math.min(...current.map((b) => med.get(b.name)!.cmd));
    console.log(`  fastest berth / fastest peer: ${(best / fastest).toFixed(2)}`);
  }
  if (baseline.length) {
    console.log('\nthis tree / baseline, same input:');
    for (const b of current) {
      const old = baseline.find((o) => o.name.endsWith(b.name.slice(b.name.indexOf('('))));
      if (old) console.log(`  ${b.name.padEnd(W)} / ${old.name.padEnd(W)} ${ratio(b, old)}`);
    }
  }
  console.log(`\ntotal wall time ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (!opts.keep) rmSync(runDir, { recursive: true, force: true });
}

await main();
