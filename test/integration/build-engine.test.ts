/**
 * `berth build` end to end with the built CLI: a multi-stage build that runs, the build cache
 * (identical rebuild, mtime-only change, content change, build-arg change), heredocs, --squash,
 * history and config, contexts from a tarball and from stdin, and bad Dockerfiles (one line
 * naming the Dockerfile line, exit status 1, nothing dangling left behind).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { engineRoot, type EngineRoot } from '../helpers/engine.ts';
import { tempDir } from '../helpers/fixtures.ts';

const made: string[] = [];

function context(files: Record<string, string>): string {
  const dir = tempDir('build-ctx');
  made.push(dir);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

/** Step headers followed by "Using cache", by step number. */
function cacheHits(out: string): { step: number; cached: boolean }[] {
  const res: { step: number; cached: boolean }[] = [];
  for (const block of out.split(/^Step /m).slice(1)) {
    const n = Number(block.split('/', 1)[0]);
    res.push({ step: n, cached: block.includes(' ---> Using cache') });
  }
  return res;
}

describe('berth build', { concurrency: false }, () => {
  let eng: EngineRoot;
  before(() => {
    eng = engineRoot('build');
  });
  after(() => {
    eng.teardown();
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });

  test('multi-stage: the final image runs, the intermediate stage contents are absent', () => {
    const ctx = context({
      Dockerfile: [
        'FROM busybox AS build',
        'RUN mkdir /out && echo "built by stage one" > /out/msg && echo secret > /stage1-only',
        'FROM busybox',
        'COPY --from=build /out/msg /msg',
        'CMD ["cat", "/msg"]',
      ].join('\n'),
    });
    const b = eng.berth(['build', '-t', 'ms:1', ctx]);
    assert.equal(b.status, 0, b.stderr);
    assert.match(b.stdout, /^Step 1\/5 : FROM busybox AS build$/m);
    assert.match(b.stdout, /^Successfully built [0-9a-f]{12}$/m);
    assert.match(b.stdout, /^Successfully tagged ms:1$/m);
    const r = eng.berth(['run', '--rm', 'ms:1']);
    assert.equal(r.stdout, 'built by stage one\n');
    const ls = eng.berth(['run', '--rm', 'ms:1', 'ls', '/']);
    assert.doesNotMatch(ls.stdout, /stage1-only|^out$/m);

    // FROM scratch as the final stage
    const ctx2 = context({
      Dockerfile: ['FROM busybox AS build', 'RUN echo scratch-ok > /m', 'FROM scratch', 'COPY --from=build /m /m', 'COPY --from=build /bin/busybox /busybox', 'ENTRYPOINT ["/busybox", "cat", "/m"]'].join('\n'),
    });
    assert.equal(eng.berth(['build', '-q', '-t', 'ms:scratch', ctx2]).status, 0);
    assert.equal(eng.berth(['run', '--rm', 'ms:scratch']).stdout, 'scratch-ok\n');
    const hist = eng.berth(['history', '--no-trunc', 'ms:scratch']).stdout;
    assert.match(hist, /ENTRYPOINT \["\/busybox", "cat", "\/m"\]/);
    assert.match(hist, /COPY --from=build/);
  });

  test('cache: identical rebuild, mtime-only touch, content change, build-arg change', () => {
    const ctx = context({
      'a.txt': 'first\n',
      'b.txt': 'bee\n',
      Dockerfile: [
        'FROM busybox', // 1
        'RUN echo base > /base', // 2
        'COPY b.txt /b.txt', // 3
        'COPY a.txt /a.txt', // 4
        'RUN cat /a.txt > /a.copy', // 5
        'ARG FLAVOR=plain', // 6: a RUN after an ARG sees it: its cache key has the value
        'RUN echo "$FLAVOR" > /flavor', // 7
        'ENV DONE=1', // 8
      ].join('\n'),
    });
    const first = eng.berth(['build', '-t', 'cache:t', ctx]);
    assert.equal(first.status, 0, first.stderr);
    assert.ok(cacheHits(first.stdout).slice(1).every((s) => !s.cached), first.stdout);
    const id1 = eng.berth(['images', '-q', '--no-trunc', 'cache:t']).stdout.trim();

    const second = eng.berth(['build', '-t', 'cache:t', ctx]);
    assert.equal(second.status, 0, second.stderr);
    assert.deepEqual(cacheHits(second.stdout).slice(1).map((s) => s.cached), [true, true, true, true, true, true, true], second.stdout);
    assert.equal(eng.berth(['images', '-q', '--no-trunc', 'cache:t']).stdout.trim(), id1);

    utimesSync(path.join(ctx, 'a.txt'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    const touched = eng.berth(['build', '-t', 'cache:t', ctx]);
    assert.ok(cacheHits(touched.stdout).slice(1).every((s) => s.cached), touched.stdout);

    writeFileSync(path.join(ctx, 'a.txt'), 'second\n');
    const changed = eng.berth(['build', '-t', 'cache:t', ctx]);
    assert.deepEqual(cacheHits(changed.stdout).map((s) => s.cached), [false, true, true, false, false, false, false, false], changed.stdout);
    assert.equal(eng.berth(['run', '--rm', 'cache:t', 'cat', '/a.copy']).stdout, 'second\n');

    const arg = eng.berth(['build', '--build-arg', 'FLAVOR=spicy', '-t', 'cache:t', ctx]);
    assert.equal(arg.status, 0, arg.stderr);
    assert.deepEqual(cacheHits(arg.stdout).map((s) => s.cached), [false, true, true, true, true, true, false, false], arg.stdout);
    assert.equal(eng.berth(['run', '--rm', 'cache:t', 'cat', '/flavor']).stdout, 'spicy\n');

    // intermediate images stay out of `images` but are there with -a, and image prune collects them
    const visible = eng.berth(['images', '-q']).stdout.trim().split('\n');
    const all = eng.berth(['images', '-a', '-q']).stdout.trim().split('\n');
    assert.ok(all.length > visible.length + 5);
    // only the two finals that lost `cache:t` to a rebuild are <none>, as in Docker
    assert.equal(eng.berth(['images']).stdout.split('\n').filter((l) => l.startsWith('<none>')).length, 2);
    const pruned = eng.berth(['image', 'prune', '-f']);
    assert.equal(pruned.status, 0, pruned.stderr);
    assert.equal(eng.berth(['images', '-a', '-q']).stdout, eng.berth(['images', '-q']).stdout);
    assert.equal(eng.berth(['run', '--rm', 'cache:t', 'cat', '/flavor']).stdout, 'spicy\n');
  });

  test('RUN layers are diffs of the upper directory: a one-file change is a small layer', () => {
    const ctx = context({ Dockerfile: 'FROM busybox\nRUN echo tiny > /tiny\nRUN rm /bin/vi\n' });
    assert.equal(eng.berth(['build', '-q', '-t', 'small', ctx]).status, 0);
    const hist = eng.berth(['history', '--format', '{{.Size}} {{.CreatedBy}}', 'small']).stdout.trim().split('\n');
    const sizeOf = (re: RegExp) => Number(hist.find((l) => re.test(l))!.split(' ', 1)[0]);
    assert.ok(sizeOf(/echo tiny/) < 100, hist.join('\n')); // bytes of /tiny, not the base's megabytes
    assert.equal(eng.berth(['run', '--rm', 'small', 'sh', '-c', 'test -e /bin/vi || echo gone']).stdout, 'gone\n');
  });

  test('heredocs, --squash, labels, --iidfile, -q and config', () => {
    const ctx = context({
      Dockerfile: [
        'FROM busybox',
        'RUN <<EOF',
        'echo from-heredoc > /h1',
        'echo line2 >> /h1',
        'EOF',
        'COPY <<EOT /etc/greeting',
        'hello $NAME',
        'EOT',
        'ENV NAME=world',
        'RUN echo one > /one && echo two > /two',
        'RUN rm /one',
        'USER nobody',
        'EXPOSE 8080',
        'STOPSIGNAL SIGINT',
        'HEALTHCHECK --interval=10s CMD true',
      ].join('\n'),
    });
    const iid = path.join(ctx, 'iid');
    const q = eng.berth(['build', '-q', '--squash', '--label', 'k=v', '--iidfile', iid, '-t', 'sq', ctx]);
    assert.equal(q.status, 0, q.stderr);
    assert.match(q.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const inspect = JSON.parse(eng.berth(['image', 'inspect', 'sq']).stdout)[0];
    assert.equal(inspect.Id, q.stdout.trim());
    assert.equal(spawnSync('cat', [iid], { encoding: 'utf8' }).stdout, q.stdout.trim());
    assert.equal(inspect.RootFS.Layers.length, 2); // busybox + one squashed layer
    assert.equal(inspect.Config.User, 'nobody');
    assert.deepEqual(inspect.Config.ExposedPorts, { '8080/tcp': {} });
    assert.equal(inspect.Config.StopSignal, 'SIGINT');
    assert.deepEqual(inspect.Config.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 10e9 });
    assert.equal(inspect.Config.Labels.k, 'v');
    const out = eng.berth(['run', '--rm', 'sq', 'sh', '-c', 'cat /h1 /etc/greeting /two; test -e /one || echo no-one']).stdout;
    assert.equal(out, 'from-heredoc\nline2\nhello \ntwo\nno-one\n');
  });

  test('contexts: a tarball, and a Dockerfile on stdin', () => {
    const ctx = context({ 'f.txt': 'from-tar\n', Dockerfile: 'FROM busybox\nCOPY f.txt /f\nCMD ["cat", "/f"]\n' });
    const tar = path.join(ctx, '..', `${path.basename(ctx)}.tar.gz`);
    made.push(tar);
    spawnSync('tar', ['-C', ctx, '-czf', tar, '.']);
    assert.equal(eng.berth(['build', '-q', '-t', 'fromtar', tar]).status, 0);
    assert.equal(eng.berth(['run', '--rm', 'fromtar']).stdout, 'from-tar\n');
    const s = eng.berth(['build', '-q', '-t', 'stdin', '-'], { input: 'FROM busybox\nRUN echo stdin > /s\n' });
    assert.equal(s.status, 0, s.stderr);
    assert.equal(eng.berth(['run', '--rm', 'stdin', 'cat', '/s']).stdout, 'stdin\n');
  });

  test('bad Dockerfiles: one line with the Dockerfile line, exit 1, nothing left', () => {
    const before = eng.berth(['images', '-q']).stdout;
    const dangling = eng.berth(['images', '--filter', 'dangling=true', '-q']).stdout;
    const cases: [string, Record<string, string>, RegExp][] = [
      ['unknown instruction', { Dockerfile: 'FROM busybox\nRUN true\nFROBNICATE now\n' }, /^berth: Dockerfile:3: unknown instruction: FROBNICATE\n$/],
      ['missing FROM', { Dockerfile: '# nothing\nRUN true\n' }, /^berth: Dockerfile:2: no build stage in current context/],
      ['COPY outside the context', { Dockerfile: 'FROM busybox\nCOPY ../etc/passwd /x\n' }, /^berth: Dockerfile:2: forbidden path outside the build context: \.\.\/etc\/passwd\n$/],
      ['a failing RUN', { Dockerfile: 'FROM busybox\nRUN echo ok\nRUN exit 3\nRUN echo never\n' }, /^berth: Dockerfile:3: The command '\/bin\/sh -c exit 3' returned a non-zero code: 3\n$/],
      ['missing file', { Dockerfile: 'FROM busybox\nCOPY nope /x\n' }, /^berth: Dockerfile:2: file not found in build context/],
    ];
    for (const [what, files, re] of cases) {
      const r = eng.berth(['build', '-t', 'bad', context(files)]);
      assert.equal(r.status, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, re, what);
      assert.equal(r.stderr.trim().split('\n').length, 1, what);
    }
    assert.equal(eng.berth(['images', '-q']).stdout, before);
    assert.equal(eng.berth(['images', '--filter', 'dangling=true', '-q']).stdout, dangling);
    assert.equal(eng.berth(['ps', '-aq']).stdout, '');
  });
});
