import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInstruction } from '../../../src/build/dockerfile.ts';
import { applyMeta, parseDuration, type MetaState } from '../../../src/build/instructions.ts';
import { cacheKey } from '../../../src/build/cache.ts';
import { resolveChown, resolveUserIds } from '../../../src/build/steps.ts';

function run(lines: string[], start: MetaState = { config: {}, cmdSet: false }): MetaState {
  const st = structuredClone(start);
  for (const l of lines) {
    const env = new Map((st.config.Env ?? []).map((e) => [e.split('=', 1)[0]!, e.slice(e.indexOf('=') + 1)]));
    assert.ok(applyMeta(st, parseInstruction(l), (n) => env.get(n), '\\'), l);
  }
  return st;
}

test('ENV pairs see the environment from before the instruction; legacy form', () => {
  const st = run(['ENV A=1', 'ENV A=2 B=$A', 'ENV C value with spaces']);
  assert.deepEqual(st.config.Env, ['A=2', 'B=1', 'C=value with spaces']);
});

test('CMD and ENTRYPOINT: shell forms use SHELL; ENTRYPOINT resets an inherited CMD only', () => {
  const inherited = run(['ENTRYPOINT ["/e"]'], { config: { Cmd: ['base'] }, cmdSet: false });
  assert.equal(inherited.config.Cmd, null);
  const own = run(['CMD ["c"]', 'ENTRYPOINT ["/e"]']);
  assert.deepEqual(own.config.Cmd, ['c']);
  const shell = run(['SHELL ["/bin/bash", "-ec"]', 'CMD echo hi']);
  assert.deepEqual(shell.config.Cmd, ['/bin/bash', '-ec', 'echo hi']);
});

test('EXPOSE expands ranges and defaults to tcp; VOLUME, LABEL, STOPSIGNAL, ONBUILD', () => {
  const st = run(['EXPOSE 80 53/udp 8000-8001', 'VOLUME ["/a", "/b"]', 'VOLUME /c', 'LABEL "k 1"=v x="a b"', 'STOPSIGNAL SIGINT', 'ONBUILD RUN echo hi']);
  assert.deepEqual(Object.keys(st.config.ExposedPorts!), ['80/tcp', '53/udp', '8000/tcp', '8001/tcp']);
  assert.deepEqual(Object.keys(st.config.Volumes!), ['/a', '/b', '/c']);
  assert.deepEqual(st.config.Labels, { 'k 1': 'v', x: 'a b' });
  assert.equal(st.config.StopSignal, 'SIGINT');
  assert.deepEqual(st.config.OnBuild, ['RUN echo hi']);
  assert.throws(() => run(['ONBUILD ONBUILD RUN x']), /isn't allowed/);
});

test('HEALTHCHECK: durations in ns, exec and shell forms, NONE', () => {
  const st = run(['HEALTHCHECK --interval=1m30s --timeout=500ms --retries=2 CMD curl -f x']);
  assert.deepEqual(st.config.Healthcheck, { Test: ['CMD-SHELL', 'curl -f x'], Interval: 90e9, Timeout: 500e6, Retries: 2 });
  assert.deepEqual(run(['HEALTHCHECK CMD ["true"]']).config.Healthcheck, { Test: ['CMD', 'true'] });
  assert.deepEqual(run(['HEALTHCHECK NONE']).config.Healthcheck, { Test: ['NONE'] });
  assert.equal(parseDuration('2h'), 7200e9);
  assert.throws(() => parseDuration('5 seconds'), /invalid duration/);
});

test('cache keys: args order does not matter, values and contents do', () => {
  const base = { parent: 'sha256:p', instruction: 'RUN x', args: { A: '1', B: '2' } };
  assert.equal(cacheKey(base), cacheKey({ ...base, args: { B: '2', A: '1' } }));
  assert.notEqual(cacheKey(base), cacheKey({ ...base, args: { A: '1', B: '3' } }));
  assert.notEqual(cacheKey(base), cacheKey({ ...base, contentHash: 'sha256:c' }));
});

test('--chown and USER against passwd and group', () => {
  const passwd = 'root:x:0:0::/root:/bin/sh\nnobody:x:65534:65533::/:/bin/false\n';
  const group = 'root:x:0:\nnogroup:x:65533:\n';
  assert.deepEqual(resolveChown('nobody:nogroup', passwd, group), { uid: 65534, gid: 65533 });
  assert.deepEqual(resolveChown('42', passwd, group), { uid: 42, gid: 42 });
  assert.throws(() => resolveChown('ghost', passwd, group), /no such user/);
  assert.deepEqual(resolveUserIds('nobody', passwd, group), { uid: 65534, gid: 65533 });
  assert.deepEqual(resolveUserIds('7:8', passwd, group), { uid: 7, gid: 8 });
});
