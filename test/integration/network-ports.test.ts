/**
 * Published ports on the default network with the real CNI plugins, without the engine: a
 * namespace from the library, busybox httpd inside it, curl from the host on 127.0.0.1, another
 * "container" reaching the port through the gateway, and a teardown that leaves no rule, veth, pin
 * or held port behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { formatPorts, parsePublishList } from '../../src/network/ports.ts';
import { haveTools, httpGet, iptablesSnapshot, links, SHARED_CHAINS, startHttpd, testEnv, type TestEnv } from './network-helpers.ts';

const skip = haveTools();
let env: TestEnv;
before(async () => {
  if (!skip) env = await testEnv('ports');
});
after(async () => {
  await env?.cleanup();
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

describe('published ports', { skip }, () => {
  it('curl on 127.0.0.1 reaches httpd in the namespace; rm leaves nothing behind', async () => {
    // warm-up: the plugins create the shared chains and this bridge's isolation rules once
    await env.m.attach('warmup0000', { name: 'warmup', ports: parsePublishList(['127.0.0.1::80']) });
    await env.m.detach('warmup0000');
    const id = 'c0ffee' + Math.random().toString(16).slice(2, 10);
    const peerId = 'beef' + Math.random().toString(16).slice(2, 10);
    const before = iptablesSnapshot(env, [id, peerId]);
    const linksBefore = links();
    const [hostPort, anyPort] = [await freePort(), await freePort()];

    const a = await env.m.attach(id, { name: 'web', ports: parsePublishList([`127.0.0.1:${hostPort}:8080`, `${anyPort}:8080`]) });
    await startHttpd(env, a.netnsPath!, 'hello from berth\n');
    const curl = spawnSync('curl', ['-s', '--max-time', '5', `http://127.0.0.1:${hostPort}/`], { encoding: 'utf8' });
    assert.equal(curl.stdout, 'hello from berth\n', curl.stderr);
    assert.deepEqual(formatPorts(env.m.get(id)!.ports).sort(), [`8080/tcp -> 0.0.0.0:${anyPort}`, `8080/tcp -> 127.0.0.1:${hostPort}`]);
    assert.deepEqual(formatPorts(env.m.get('web')!.ports, '8080/tcp').sort(), [`0.0.0.0:${anyPort}`, `127.0.0.1:${hostPort}`]);
    // the port is taken for other berth containers while published
    await assert.rejects(env.m.attach('other000', { name: 'other', ports: parsePublishList([`127.0.0.1:${hostPort}:80`]) }), /port is already allocated/);

    // another container reaches the published port through the gateway (hairpin through portmap)
    const peer = await env.m.attach(peerId, { name: 'peer' });
    const gw = peer.interfaces[0]!.gateway!;
    assert.equal(httpGet(peer.netnsPath, gw, anyPort), 'hello from berth\n');
    // and the container itself directly
    assert.equal(httpGet(peer.netnsPath, a.ips[0]!, 8080), 'hello from berth\n');
    const during = iptablesSnapshot(env, [id, peerId]);
    assert.ok(during.lines.some((l) => l.includes(`--dport ${hostPort}`)), 'a DNAT rule for the port');
    const hostVeth = a.interfaces[0]!.hostVeth!;
    assert.ok(links().includes(hostVeth));

    await env.m.detach(peerId);
    await env.m.detach(id);
    for (const c of env.children) c.kill('SIGKILL');
    const after = iptablesSnapshot(env, [id, peerId]);
    assert.deepEqual(after.lines, before.lines, 'the same rules as before the container');
    const leaked = [...during.chains].filter((c) => !SHARED_CHAINS.has(c) && after.declared.has(c));
    assert.deepEqual(leaked, [], 'no per-container chain left');
    assert.ok(!links().includes(hostVeth), 'veth gone');
    assert.deepEqual(links().filter((l) => !linksBefore.includes(l)), []);
    assert.deepEqual(readdirSync(env.m.ctx.layout.runDir), [], 'no namespace pin left');
    assert.ok(!existsSync(a.hostsFile));
    assert.equal(await canListen(hostPort), true, 'the host port is free');
    const gone = spawnSync('curl', ['-s', '--max-time', '2', `http://127.0.0.1:${hostPort}/`], { encoding: 'utf8' });
    assert.notEqual(gone.status, 0);
  });

  it('-P style random ports and udp mappings get concrete host ports', async () => {
    const id = 'rand' + Math.random().toString(16).slice(2, 10);
    const a = await env.m.attach(id, { name: 'rand', ports: parsePublishList(['127.0.0.1::8080', '127.0.0.1::53/udp']) });
    try {
      assert.equal(a.ports.length, 2);
      for (const p of a.ports) assert.ok(p.hostPort >= 1024, JSON.stringify(p));
      await startHttpd(env, a.netnsPath!, 'random\n');
      const tcp = a.ports.find((p) => p.protocol === 'tcp')!;
      assert.equal(spawnSync('curl', ['-s', '--max-time', '5', `http://127.0.0.1:${tcp.hostPort}/`], { encoding: 'utf8' }).stdout, 'random\n');
      // CHECK agrees with what ADD set up
      await env.m.check(id);
    } finally {
      await env.m.detach(id);
    }
  });
});
