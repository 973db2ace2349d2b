/**
 * The network modes with real namespaces: `none` has only lo (up), `host` has no namespace of its own
 * and the host's files, `container:<id>` shares the first container's namespace and interfaces.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { haveTools, testEnv, type TestEnv } from './network-helpers.ts';

const skip = haveTools();
let env: TestEnv;
before(async () => {
  if (!skip) env = await testEnv('modes');
});
after(async () => {
  await env?.cleanup();
});

/** `ip -br link` inside a namespace: [name, state, mac]. */
function linksIn(netns: string): string[][] {
  const r = spawnSync('nsenter', [`--net=${netns}`, 'ip', '-br', 'link'], { encoding: 'utf8' });
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).slice(0, 3));
}

describe('network modes', { skip }, () => {
  it('none: only lo, and it is up', async () => {
    const a = await env.m.attach('none0000', { name: 'nothing', network: 'none' });
    const l = linksIn(a.netnsPath!);
    assert.deepEqual(l.map((x) => x[0]), ['lo']);
    assert.equal(l[0]![1], 'UNKNOWN'); // lo reports UNKNOWN when up
    const ping = spawnSync('nsenter', [`--net=${a.netnsPath}`, '/bin/busybox', 'ping', '-c', '1', '-W', '2', '127.0.0.1'], { encoding: 'utf8' });
    assert.equal(ping.status, 0, ping.stdout + ping.stderr);
    await env.m.detach('none0000');
  });

  it('host: no namespace of its own, the host hostname, hosts and resolv.conf', async () => {
    const a = await env.m.attach('host0000', { name: 'hosty', network: 'host', extraHosts: ['gw:host-gateway'] });
    assert.equal(a.netnsPath, null);
    assert.deepEqual(a.interfaces, []);
    assert.equal(readFileSync(a.hostnameFile, 'utf8'), `${hostname()}\n`);
    assert.ok(readFileSync(a.hostsFile, 'utf8').startsWith(readFileSync('/etc/hosts', 'utf8').replace(/\n+$/, '')));
    assert.match(readFileSync(a.hostsFile, 'utf8'), /127\.0\.0\.1\tgw\n$/);
    await env.m.detach('host0000');
  });

  it('container:<id>: the same namespace, the same interfaces', async () => {
    const first = await env.m.attach('first0000', { name: 'first' });
    const second = await env.m.attach('second000', { name: 'second', network: 'container:first' });
    assert.equal(second.netnsPath, first.netnsPath);
    assert.equal(second.mode, 'container');
    assert.equal(second.hostsFile, first.hostsFile);
    const l = linksIn(second.netnsPath!);
    const eth0 = l.find((x) => x[0]!.startsWith('eth0'));
    assert.equal(eth0?.[2], first.interfaces[0]!.mac);
    // by ID works as well as by name
    const third = await env.m.attach('third0000', { name: 'third', network: 'container:first0000' });
    assert.equal(third.netnsPath, first.netnsPath);
    await env.m.detach('third0000');
    await env.m.detach('second000');
    await env.m.detach('first0000');
  });
});
