/**
 * `berth cp` in both directions, running and stopped, and never through a symlink that leads
 * out of the container (absolute or climbing), nor writing through any symlink.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { engineRoot } from '../helpers/engine.ts';
import { tempDir } from '../helpers/fixtures.ts';

describe('berth cp', () => {
  const e = engineRoot('cp');
  const host = tempDir('cp-host');
  after(() => {
    e.teardown();
    rmSync(host, { recursive: true, force: true });
  });

  it('copies files and trees both ways; symlinks resolve inside the container only', () => {
    // the container's links point at host-looking places: /etc absolutely, and climbing with ../
    const setup = 'mkdir -p /etc /tmp /data/sub; echo inside > /etc/only-in-container; echo a > /data/a; echo b > /data/sub/b; ln -s /etc /abs; ln -s ../../../../../../etc /climb; ln -s /etc/only-in-container /tmp/link; sleep 300';
    assert.equal(e.berthDetached(['run', '-d', '--name', 'c', 'busybox', 'sh', '-c', setup]).status, 0);
    for (let i = 0; i < 50 && e.berth(['exec', 'c', 'test', '-L', '/tmp/link']).status !== 0; i++) spawnWait(50);

    assert.equal(e.berth(['cp', 'c:/abs/only-in-container', path.join(host, 'x')]).status, 0);
    assert.equal(readFileSync(path.join(host, 'x'), 'utf8'), 'inside\n');
    // ../ stops at the container's root: this is the image's passwd, not the host's
    assert.equal(e.berth(['cp', 'c:/climb/passwd', path.join(host, 'y')]).status, 0);
    assert.equal(readFileSync(path.join(host, 'y'), 'utf8'), e.berth(['exec', 'c', 'cat', '/etc/passwd']).stdout);
    assert.notEqual(readFileSync(path.join(host, 'y'), 'utf8'), readFileSync('/etc/passwd', 'utf8'));

    assert.equal(e.berth(['cp', 'c:/data', host]).status, 0);
    assert.equal(readFileSync(path.join(host, 'data/sub/b'), 'utf8'), 'b\n');

    writeFileSync(path.join(host, 'in'), 'from host\n');
    assert.equal(e.berth(['cp', path.join(host, 'in'), 'c:/climb/pwned']).status, 0);
    assert.ok(!existsSync('/etc/pwned'), 'nothing was written on the host');
    assert.equal(e.berth(['exec', 'c', 'cat', '/etc/pwned']).stdout, 'from host\n');

    const w = e.berth(['cp', path.join(host, 'in'), 'c:/tmp/link']);
    assert.equal(w.status, 125);
    assert.match(w.stderr, /refusing to write through the symlink/);
    assert.equal(e.berth(['exec', 'c', 'cat', '/etc/only-in-container']).stdout, 'inside\n');

    mkdirSync(path.join(host, 'tree/deep'), { recursive: true });
    writeFileSync(path.join(host, 'tree/deep/f'), 'deep\n');
    assert.equal(e.berth(['cp', path.join(host, 'tree'), 'c:/data']).status, 0);
    assert.equal(e.berth(['exec', 'c', 'cat', '/data/tree/deep/f']).stdout, 'deep\n');

    // stopped: the same through a private mount of the container's overlay
    assert.equal(e.berth(['stop', '-t', '0', 'c']).status, 0);
    assert.equal(e.berth(['cp', 'c:/data/tree/deep/f', path.join(host, 'z')]).status, 0);
    assert.equal(readFileSync(path.join(host, 'z'), 'utf8'), 'deep\n');
    assert.match(e.berth(['cp', 'c:/no/such', host]).stderr, /Could not find the file \/no\/such in container/);
  });
});

function spawnWait(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
