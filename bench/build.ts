/**
 * `berth build` vs `buildah bud --layers` on one 12-step Dockerfile over busybox (both starting from
 * the same busybox bytes, in private roots): a cold build (--no-cache) and a fully cached rebuild,
 * interleaved, medians and ratios. buildah runs with runc (crun refuses hybrid cgroups here),
 * `--format docker`, `--network none` (berth's default for RUN).
 *   node_modules/node/bin/node scripts/build.mjs && node_modules/node/bin/node bench/build.ts [runs]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BERTH, busyboxRootfs, tempDir } from '../test/helpers/fixtures.ts';
import { fmt, machine, median, printTable, timeCmd } from './lib.ts';

const RUNS = Number(process.argv[2] ?? 5);
const env = { ...process.env, BUILDAH_RUNTIME: '/usr/sbin/runc' };

function sh(cmd: string, args: string[], input?: Buffer): string {
  const r = spawnSync(cmd, args, { input, env, maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.toString();
}

const work = tempDir('bench-build');
const root = path.join(work, 'berth');
const ctx = path.join(work, 'ctx');
mkdirSync(path.join(ctx, 'src'), { recursive: true });
for (let i = 0; i < 20; i++) writeFileSync(path.join(ctx, 'src', `f${i}.txt`), `file ${i}\n`.repeat(100));
writeFileSync(path.join(ctx, 'app.sh'), '#!/bin/sh\necho app\n');
writeFileSync(
  path.join(ctx, 'Dockerfile'),
  [
    'FROM busybox',
    'ARG VERSION=1.0',
    'ENV APP_HOME=/app LANG=C.UTF-8',
    'WORKDIR /app',
    'COPY src/ ./src/',
    'COPY app.sh /usr/local/bin/app',
    'RUN chmod 0755 /usr/local/bin/app && mkdir -p /app/data',
    'RUN for i in 1 2 3 4 5; do echo "$i" >> /app/data/list; done',
    'RUN echo "version $VERSION" > /app/VERSION',
    'LABEL org.example.version=1.0',
    'EXPOSE 8080',
    'USER nobody',
    'CMD ["/usr/local/bin/app"]',
  ].join('\n') + '\n',
);

// the same busybox bytes in both
sh(BERTH, ['--root', root, 'import', '-', 'busybox'], spawnSync('tar', ['-C', busyboxRootfs(), '-c', '.'], { maxBuffer: 64 << 20 }).stdout);
const B = ['--root', path.join(work, 'storage'), '--runroot', path.join(work, 'run'), '--storage-driver', 'overlay'];
const c = sh('buildah', [...B, 'from', 'scratch']).trim();
sh('cp', ['-a', `${busyboxRootfs()}/.`, `${sh('buildah', [...B, 'mount', c]).trim()}/`]);
sh('buildah', [...B, 'commit', '-q', c, 'localhost/busybox']);
sh('buildah', [...B, 'rm', c]);

const berth = (extra: string[]) => timeCmd(BERTH, ['--root', root, 'build', '-q', ...extra, '-t', 'bench', ctx]);
const buildah = (extra: string[]) =>
  timeCmd('buildah', [...B, 'bud', '--layers', '--format', 'docker', '--network', 'none', '--runtime', '/usr/sbin/runc', '-q', ...extra, '-t', 'bench', ctx], { env });

const t = { berthCold: [] as number[], buildahCold: [] as number[], berthCached: [] as number[], buildahCached: [] as number[] };
try {
  for (let i = -1; i < RUNS; i++) {
    const runs = [
      ['berthCold', berth(['--no-cache'])],
      ['buildahCold', buildah(['--no-cache'])],
      ['berthCached', berth([])],
      ['buildahCached', buildah([])],
    ] as const;
    for (const [k, r] of runs) {
      if (r.status !== 0) throw new Error(`${k} failed: ${r.stderr}`);
      if (i >= 0) t[k].push(r.ms);
    }
  }
} finally {
  spawnSync('buildah', [...B, 'rm', '--all'], { env });
  spawnSync('umount', ['-R', path.join(work, 'storage')]);
  spawnSync('umount', ['-R', root]);
  rmSync(work, { recursive: true, force: true });
}

const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)])) as Record<keyof typeof t, number>;
console.log(`berth build vs buildah bud --layers: 13-step Dockerfile on busybox, ${RUNS} runs each, interleaved (${machine()})\n`);
printTable([
  ['', 'berth', 'buildah', 'buildah / berth'],
  ['cold (--no-cache)', fmt(m.berthCold), fmt(m.buildahCold), `${(m.buildahCold / m.berthCold).toFixed(2)}×`],
  ['fully cached', fmt(m.berthCached), fmt(m.buildahCached), `${(m.buildahCached / m.berthCached).toFixed(2)}×`],
]);
console.log('\ntargets: cached rebuild ≥ 3× faster than buildah; cold build no slower (ratio ≥ 1)');
