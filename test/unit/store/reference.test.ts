import { test } from 'node:test';
import assert from 'node:assert/strict';
import { familiarName, normalizeTagged, parseReference } from '../../../src/image/reference.ts';
import { applyChanges } from '../../../src/image/changes.ts';
import { InvalidArgumentError } from '../../../src/common/errors.ts';

test('local names normalise like Docker', () => {
  assert.equal(normalizeTagged('busybox'), 'docker.io/library/busybox:latest');
  assert.equal(normalizeTagged('bb:1'), 'docker.io/library/bb:1');
  assert.equal(normalizeTagged('me/app:v1.2'), 'docker.io/me/app:v1.2');
  assert.equal(normalizeTagged('localhost/bb:test'), 'localhost/bb:test');
  assert.equal(normalizeTagged('registry.example:5000/a/b'), 'registry.example:5000/a/b:latest');
  assert.equal(familiarName('docker.io/library/busybox'), 'busybox');
  assert.equal(familiarName('docker.io/me/app'), 'me/app');
  assert.equal(familiarName('localhost/bb'), 'localhost/bb');
  const r = parseReference(`bb@sha256:${'a'.repeat(64)}`);
  assert.equal(r.digest, `sha256:${'a'.repeat(64)}`);
  assert.equal(r.tag, undefined);
});

test('invalid names are refused with a reason', () => {
  for (const bad of ['', 'UPPER', 'a//b', 'a:b:c', 'x:-bad', '-x', 'a/../b', `bb@sha256:short`])
    assert.throws(() => normalizeTagged(bad), InvalidArgumentError, bad);
});

test('--change instructions', () => {
  const c = applyChanges({}, [
    'CMD ["/bin/sh", "-c", "echo hi"]',
    'ENTRYPOINT /bin/init --flag',
    'ENV A=1 B="two words"',
    'ENV PATH /usr/bin:/bin',
    'WORKDIR /srv',
    'USER 1000:1000',
    'EXPOSE 80 53/udp',
    'LABEL a=b',
  ]);
  assert.deepEqual(c.Cmd, ['/bin/sh', '-c', 'echo hi']);
  assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c', '/bin/init --flag']);
  assert.deepEqual(c.Env, ['A=1', 'B=two words', 'PATH=/usr/bin:/bin']);
  assert.equal(c.WorkingDir, '/srv');
  assert.equal(c.User, '1000:1000');
  assert.deepEqual(Object.keys(c.ExposedPorts ?? {}), ['80/tcp', '53/udp']);
  assert.deepEqual(c.Labels, { a: 'b' });
  assert.throws(() => applyChanges({}, ['RUN rm -rf /']), InvalidArgumentError);
});
