import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile, parseInstruction } from '../../../src/build/dockerfile.ts';
import { globRegExp, resolveInRoot } from '../../../src/build/paths.ts';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

test('stages, global ARGs, names, continuations and comments', () => {
  const df = parseDockerfile(
    '# syntax=docker/dockerfile:1\nARG BASE=busybox\nFROM ${BASE} AS Build\nRUN echo a \\\n# inside\n  b\nfrom scratch\ncopy --from=build --chown=1:2 /a /b\n',
  );
  assert.deepEqual(df.globalArgs.map((s) => s.args), ['BASE=busybox']);
  assert.equal(df.stages.length, 2);
  assert.equal(df.stages[0]!.name, 'build');
  assert.equal(df.stages[0]!.steps[0]!.args, 'echo a   b');
  assert.equal(df.stages[0]!.steps[0]!.line, 4);
  const copy = df.stages[1]!.steps[0]!;
  assert.equal(copy.keyword, 'COPY');
  assert.deepEqual(copy.flags, [{ name: 'from', value: 'build' }, { name: 'chown', value: '1:2' }]);
  assert.equal(copy.text, 'COPY --from=build --chown=1:2 /a /b');
});

test('exec form, heredocs and the escape directive', () => {
  const df = parseDockerfile('# escape=`\nFROM busybox\nRUN ["echo", "a b"]\nRUN <<EOF\necho 1\necho 2\nEOF\nCOPY <<"X" /f\n$NOT\nX\nRUN echo a `\n  b\n');
  const [exec, heredoc, copy, esc] = df.stages[0]!.steps;
  assert.equal(df.escape, '`');
  assert.deepEqual(exec!.json, ['echo', 'a b']);
  assert.deepEqual(heredoc!.heredocs, [{ name: 'EOF', content: 'echo 1\necho 2\n', expand: true }]);
  assert.equal(heredoc!.args, '<<EOF');
  assert.deepEqual(copy!.heredocs, [{ name: 'X', content: '$NOT\n', expand: false }]);
  assert.equal(esc!.args, 'echo a   b');
});

test('rejects what Docker rejects, naming the line', () => {
  assert.throws(() => parseDockerfile('FROM busybox\nFROBNICATE x\n'), /^Error: Dockerfile:2: unknown instruction: FROBNICATE$|Dockerfile:2: unknown instruction: FROBNICATE/);
  assert.throws(() => parseDockerfile('\nRUN true\n'), /Dockerfile:2: no build stage/);
  assert.throws(() => parseDockerfile('# only a comment\n'), /no FROM/);
  assert.throws(() => parseDockerfile('FROM a AS x\nFROM b AS X\n'), /duplicate name/);
  assert.throws(() => parseDockerfile('FROM a b\n'), /one or three arguments/);
  assert.equal(parseInstruction('RUN echo hi').keyword, 'RUN');
});

test("globs are Go's filepath.Match", () => {
  assert.ok(globRegExp('*.txt').test('a.txt'));
  assert.ok(!globRegExp('*.txt').test('d/a.txt'));
  assert.ok(globRegExp('src/?.[ch]').test('src/m.c'));
  assert.ok(!globRegExp('[!a]*').test('abc'));
});

test('resolveInRoot never leaves the root through symlinks', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'berth-unit-scope-'));
  try {
    mkdirSync(path.join(root, 'real'));
    symlinkSync('/etc', path.join(root, 'abs'));
    symlinkSync('../../..', path.join(root, 'real', 'up'));
    assert.equal(resolveInRoot(root, '/abs/passwd'), path.join(root, 'etc/passwd'));
    assert.equal(resolveInRoot(root, 'real/up/x'), path.join(root, 'x'));
    assert.equal(resolveInRoot(root, '../../x'), path.join(root, 'x'));
    assert.equal(resolveInRoot(root, '/abs', false), path.join(root, 'abs'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
