/**
 * `berth build` against the reference, `buildah bud` (Debian's buildah, `--format docker` so
 * HEALTHCHECK, ONBUILD and SHELL are kept): for every Dockerfile of the corpus in
 * test/fixtures/dockerfiles, both builders start from the same busybox bytes (imported into a
 * private berth root and a private buildah storage) and must produce the same file tree (paths,
 * types, modes, owners, contents, link targets) and the same config fields.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import path from 'node:path';
import { engineRoot, type EngineRoot } from '../helpers/engine.ts';
import { busyboxRootfs, REPO, tempDir } from '../helpers/fixtures.ts';

const CORPUS = path.join(REPO, 'test/fixtures/dockerfiles');
/** The runtime's mount points: Docker's builder keeps them out of layers; buildah 1.28 leaves some behind. */
const RUNTIME_PATHS = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/run', '/run/.containerenv']);
const FIELDS = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'Labels', 'StopSignal', 'Healthcheck', 'OnBuild', 'Shell'];

function sh(cmd: string, args: string[], opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, { input: opts.input, env: opts.env ?? process.env, maxBuffer: 256 << 20, timeout: 600_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr?.toString()}`);
  return r.stdout.toString();
}

/** Every path of a tree with what the comparison looks at. */
function treeOf(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    const abs = path.join(root, rel);
    const st = lstatSync(abs);
    const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : st.isFile() ? 'file' : 'other';
    const what = type === 'file' ? createHash('sha256').update(readFileSync(abs)).digest('hex').slice(0, 16) : type === 'link' ? readlinkSync(abs) : '';
    if (rel && !RUNTIME_PATHS.has(rel)) out.set(rel, `${type} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${what}`);
    if (type === 'dir') for (const n of readdirSync(abs)) walk(`${rel}/${n}`);
  };
  walk('');
  return out;
}

function normalizeConfig(c: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) {
    let v = c[f];
    if (f === 'Labels' && v && typeof v === 'object') v = Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'io.buildah.version'));
    if (v === null || v === '' || (Array.isArray(v) && v.length === 0) || (v && typeof v === 'object' && Object.keys(v).length === 0)) v = undefined;
    if (v !== undefined) out[f] = v;
  }
  return out;
}

describe('berth build matches buildah bud', { concurrency: false }, () => {
  let eng: EngineRoot;
  let work: string;
  let B: string[];
  const env = { ...process.env, BUILDAH_RUNTIME: '/usr/sbin/runc' };
  before(() => {
    eng = engineRoot('build-ref');
    work = tempDir('build-ref');
    B = ['--root', path.join(work, 'storage'), '--runroot', path.join(work, 'run'), '--storage-driver', 'overlay'];
    // the same busybox bytes as berth's: a scratch container filled from the same tree
    const c = sh('buildah', [...B, 'from', 'scratch'], { env }).trim();
    const m = sh('buildah', [...B, 'mount', c], { env }).trim();
    sh('cp', ['-a', `${busyboxRootfs()}/.`, `${m}/`]);
    sh('buildah', [...B, 'commit', '-q', c, 'localhost/busybox'], { env });
    sh('buildah', [...B, 'rm', c], { env });
  });
  after(() => {
    spawnSync('buildah', [...B, 'rm', '--all'], { env });
    spawnSync('buildah', [...B, 'unshare', 'true'], { env });
    spawnSync('umount', ['-R', path.join(work, 'storage')]);
    rmSync(work, { recursive: true, force: true });
    eng.teardown();
  });

  const cases = readdirSync(CORPUS).sort();
  test('the corpus covers at least 15 Dockerfiles', () => assert.ok(cases.length >= 15));

  for (const name of cases) {
    test(name, () => {
      const ctx = path.join(CORPUS, name);
      const tag = `corpus-${name}`;
      const r = eng.berth(['build', '-q', '-t', tag, ctx], { timeout: 600_000 });
      assert.equal(r.status, 0, r.stderr);
      sh('buildah', [...B, 'bud', '--format', 'docker', '--network', 'none', '--runtime', '/usr/sbin/runc', '-q', '-t', tag, ctx], { env });

      // config
      const ours = JSON.parse(eng.berth(['image', 'inspect', '--format', '{{json .Config}}', tag]).stdout) as Record<string, unknown>;
      const inspected = JSON.parse(sh('buildah', [...B, 'inspect', '--type', 'image', tag], { env })) as { Docker: { config: Record<string, unknown> } };
      const theirs = inspected.Docker.config;
      assert.deepEqual(normalizeConfig(ours), normalizeConfig(theirs), 'config fields differ');

      // file tree: berth's image through an overlay of its snapshots, buildah's through buildah mount
      const lower = (JSON.parse(eng.berth(['image', 'inspect', tag]).stdout) as { GraphDriver: { Data: { LowerDir: string } } }[])[0]!.GraphDriver.Data.LowerDir;
      const mnt = path.join(work, `mnt-${name}`);
      mkdirSync(mnt);
      const dirs = lower.split(':');
      if (dirs.length === 1) sh('mount', ['--bind', '-o', 'ro', dirs[0]!, mnt]);
      else sh('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lower}`, mnt]);
      let ourTree: Map<string, string>;
      try {
        ourTree = treeOf(mnt);
      } finally {
        sh('umount', [mnt]);
      }
      const c = sh('buildah', [...B, 'from', tag], { env }).trim();
      let theirTree: Map<string, string>;
      try {
        theirTree = treeOf(sh('buildah', [...B, 'mount', c], { env }).trim());
      } finally {
        sh('buildah', [...B, 'rm', c], { env });
      }
      const diff: string[] = [];
      for (const [p, v] of ourTree) if (theirTree.get(p) !== v) diff.push(`${p}: berth ${v} / buildah ${theirTree.get(p) ?? 'absent'}`);
      for (const [p, v] of theirTree) if (!ourTree.has(p)) diff.push(`${p}: berth absent / buildah ${v}`);
      assert.deepEqual(diff, [], 'file trees differ');
    });
  }
});
