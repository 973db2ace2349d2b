/**
 * Networks through the engine (issue #9's must-show), traffic only to 127.0.0.1 and to the test's
 * own containers: a published port reached from the host; name and alias resolution on a
 * user-defined network, and isolation from another; none/host/container: modes; 20 parallel
 * containers with distinct, reachable addresses; nothing left after rm.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BERTH, makeBusyboxRootfs, tempDir } from '../helpers/fixtures.ts';
import { engineRoot, type EngineRoot } from '../helpers/engine.ts';
import { NetworkManager } from '../../src/network/index.ts';

/** busybox-static cannot resolve names (static glibc): add the host's getent and its libraries. */
function netImage(e: EngineRoot): void {
  const parent = tempDir('netimg');
  const dir = makeBusyboxRootfs(path.join(parent, 'rootfs'));
  const libs = spawnSync('ldd', ['/usr/bin/getent'], { encoding: 'utf8' }).stdout.match(/\/\S+/g) ?? [];
  for (const f of ['/usr/bin/getent', ...libs]) {
    mkdirSync(path.join(dir, path.dirname(f)), { recursive: true });
    copyFileSync(f, path.join(dir, f));
  }
  writeFileSync(path.join(dir, 'etc/nsswitch.conf'), 'hosts: files\n');
  mkdirSync(path.join(dir, 'www'));
  writeFileSync(path.join(dir, 'www/index.html'), 'hello from a container\n');
  const tar = spawnSync('tar', ['-C', dir, '-c', '.'], { maxBuffer: 64 << 20 });
  const r = spawnSync(BERTH, ['--root', e.root, 'import', '-', 'netimg'], { input: tar.stdout, encoding: 'utf8' });
  rmSync(parent, { recursive: true, force: true });
  assert.equal(r.status, 0, r.stderr);
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = net.createServer().once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

function httpGet(port: number): Promise<string> {
  return new Promise((res, rej) => {
    const c = net.connect(port, '127.0.0.1', () => c.write('GET / HTTP/1.0\r\n\r\n'));
    let data = '';
    c.on('data', (d) => (data += d)).on('end', () => res(data)).on('error', rej);
  });
}

describe('networks through the engine', () => {
  const e = engineRoot('net', { network: 'bridge' });
  const fetchIn = (container: string, target: string) =>
    // resolve with getent (NSS files: the generated /etc/hosts), then HTTP by address with busybox nc
    e.berth(['exec', container, 'sh', '-c', `ip=$(getent hosts ${target} | cut -d" " -f1); [ -n "$ip" ] || exit 2; printf "GET / HTTP/1.0\\r\\n\\r\\n" | timeout 5 nc $ip 8080`]);
  before(() => netImage(e));
  after(() => {
    // the networks (bridges, shared rules) go before the root that records them
    const ids = e.berth(['ps', '-aq']).stdout.split('\n').filter(Boolean);
    if (ids.length) e.berth(['rm', '-f', ...ids]);
    e.berth(['network', 'prune', '-f']);
    e.teardown();
  });

  it('-p 127.0.0.1:18080:8080 reaches httpd from the host; berth port; nothing left after rm -f', async () => {
    const iptablesBefore = spawnSync('iptables-save', { encoding: 'utf8' }).stdout.split('\n').filter((l) => !l.startsWith('#') && !l.startsWith(':')).length;
    const r = e.berthDetached(['run', '-d', '--name', 'web', '-p', '127.0.0.1:18080:8080', 'netimg', 'httpd', '-f', '-p', '8080', '-h', '/www']);
    assert.equal(r.status, 0, r.stdout);
    let page = '';
    for (let i = 0; i < 50 && !page.includes('hello'); i++) {
      await sleep(100);
      page = await httpGet(18080).catch(() => '');
    }
    assert.match(page, /hello from a container/);
    assert.equal(e.berth(['port', 'web']).stdout, '8080/tcp -> 127.0.0.1:18080\n');
    assert.equal(e.berth(['port', 'web', '8080']).stdout, '127.0.0.1:18080\n');
    const doc = JSON.parse(e.berth(['inspect', 'web']).stdout)[0];
    assert.match(doc.NetworkSettings.IPAddress, /^\d+\.\d+\.\d+\.\d+$/);
    assert.deepEqual(doc.NetworkSettings.Ports['8080/tcp'], [{ HostIp: '127.0.0.1', HostPort: '18080' }]);
    const netns = doc.NetworkSettings.SandboxKey as string;
    assert.ok(existsSync(netns));
    const veth = (await NetworkManager.open(e.root)).get('web')?.interfaces[0]?.hostVeth;
    assert.ok(veth && spawnSync('ip', ['link', 'show', veth]).status === 0, `the container's veth ${veth} exists while it runs`);
    assert.equal(e.berth(['rm', '-f', 'web']).status, 0);
    assert.ok(await portFree(18080), 'the port is free again');
    assert.ok(!existsSync(netns), 'the network namespace is gone');
    const rules = spawnSync('iptables-save', { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(rules, /18080/);
    assert.doesNotMatch(rules, new RegExp(doc.Id.slice(0, 12)));
    const after = rules.split('\n').filter((l) => !l.startsWith('#') && !l.startsWith(':')).length;
    assert.ok(after <= iptablesBefore + 12, `only the network's shared rules may stay (${iptablesBefore} → ${after})`);
    assert.notEqual(spawnSync('ip', ['link', 'show', veth!]).status, 0, `its veth ${veth} is gone`);
  });

  it('containers on a user-defined network reach each other by name and alias; another network cannot', () => {
    assert.equal(e.berth(['network', 'create', 'front']).status, 0);
    assert.equal(e.berth(['network', 'create', 'other']).status, 0);
    assert.equal(e.berthDetached(['run', '-d', '--name', 'srv', '--network', 'front', '--network-alias', 'api', 'netimg', 'httpd', '-f', '-p', '8080', '-h', '/www']).status, 0);
    assert.equal(e.berthDetached(['run', '-d', '--name', 'cli', '--network', 'front', 'netimg', 'sleep', '300']).status, 0);
    assert.equal(e.berthDetached(['run', '-d', '--name', 'out', '--network', 'other', 'netimg', 'sleep', '300']).status, 0);
    for (const target of ['srv', 'api']) {
      let r = fetchIn('cli', target);
      for (let i = 0; i < 20 && !/hello/.test(r.stdout); i++) {
        spawnSync('sleep', ['0.2']);
        r = fetchIn('cli', target);
      }
      assert.match(r.stdout, /hello from a container/, `by ${target}: ${r.stderr}`);
    }
    assert.equal(fetchIn('out', 'srv').status, 2, 'the name does not resolve from another network');
    const ip = JSON.parse(e.berth(['inspect', 'srv']).stdout)[0].NetworkSettings.IPAddress;
    const direct = e.berth(['exec', 'out', 'sh', '-c', `printf "GET / HTTP/1.0\\r\\n\\r\\n" | timeout 3 nc ${ip} 8080`]);
    assert.doesNotMatch(direct.stdout, /hello/, 'nor does the address answer');
    assert.equal(e.berth(['rm', '-f', 'srv', 'cli', 'out']).status, 0);
  });

  it('--network none shows only lo; host shows the host interfaces; container: shares the first', () => {
    const none = e.berth(['run', '--rm', '--network', 'none', 'netimg', 'ls', '/sys/class/net']);
    assert.equal(none.stdout, 'lo\n');
    const host = e.berth(['run', '--rm', '--network', 'host', 'netimg', 'ls', '/sys/class/net']);
    assert.deepEqual(host.stdout.trim().split(/\s+/).sort(), readdirSync('/sys/class/net').sort());
    assert.equal(e.berthDetached(['run', '-d', '--name', 'first', 'netimg', 'sleep', '300']).status, 0);
    const mac = e.berth(['exec', 'first', 'cat', '/sys/class/net/eth0/address']).stdout;
    assert.match(mac, /^[0-9a-f:]{17}\n$/);
    const shared = e.berth(['run', '--rm', '--network', 'container:first', 'netimg', 'cat', '/sys/class/net/eth0/address']);
    assert.equal(shared.stdout, mac);
    assert.equal(e.berth(['rm', '-f', 'first']).status, 0);
  });

  it("with the host's FORWARD policy DROP (as Docker leaves it): a network's containers, its published port; still no way in from another network", async () => {
    assert.equal(e.berth(['network', 'create', 'strict']).status, 0);
    assert.equal(e.berth(['network', 'create', 'outside']).status, 0);
    const web = e.berthDetached(['run', '-d', '--name', 'strictweb', '--network', 'strict', '-p', '127.0.0.1:18097:8080', 'netimg', 'httpd', '-f', '-p', '8080', '-h', '/www']);
    assert.equal(web.status, 0, web.stdout);
    const ip = JSON.parse(e.berth(['inspect', 'strictweb']).stdout)[0].NetworkSettings.IPAddress as string;
    const get = (network: string) => e.berth(['run', '--rm', '--network', network, 'netimg', 'sh', '-c', `printf "GET / HTTP/1.0\\r\\n\\r\\n" | timeout 5 nc ${ip} 8080`]);
    const policy = /^-P FORWARD (\w+)/m.exec(spawnSync('iptables', ['-S', 'FORWARD'], { encoding: 'utf8' }).stdout)?.[1] ?? 'ACCEPT';
    spawnSync('iptables', ['-P', 'FORWARD', 'DROP']);
    try {
      assert.match(get('strict').stdout, /hello from a container/, 'same network: forwarded by the network\'s own ACCEPTs');
      assert.doesNotMatch(get('outside').stdout, /hello/, 'another network: isolated');
      assert.match(await httpGet(18097), /hello from a container/, 'the published port, from the host');
    } finally {
      spawnSync('iptables', ['-P', 'FORWARD', policy]);
    }
    assert.equal(e.berth(['rm', '-f', 'strictweb']).status, 0);
    assert.equal(e.berth(['network', 'rm', 'strict', 'outside']).status, 0);
  });

  it('system reset: the containers, images and every network of a root leave, the default bridge and its rules included', () => {
    const r = engineRoot('reset', { network: 'bridge' });
    try {
      assert.match(r.berth(['system', 'reset']).stderr, /confirm with --force/);
      assert.equal(r.berthDetached(['run', '-d', 'busybox', 'sleep', '60']).status, 0);
      const br = (JSON.parse(r.berth(['network', 'inspect', 'berth']).stdout) as { Options: Record<string, string> }[])[0]!.Options['com.docker.network.bridge.name']!;
      const rules = () => (spawnSync('iptables-save', { encoding: 'utf8' }).stdout.match(new RegExp(`berth \\w+ ${br}"`, 'g')) ?? []).length;
      assert.ok(existsSync(`/sys/class/net/${br}`));
      assert.equal(rules(), 6, 'masquerade, two isolation, three forward');
      const reset = r.berth(['system', 'reset', '-f']);
      assert.equal(reset.status, 0, reset.stderr);
      assert.equal(r.berth(['ps', '-aq']).stdout, '');
      assert.equal(r.berth(['images', '-q']).stdout, '');
      assert.ok(!existsSync(`/sys/class/net/${br}`), 'the default bridge is gone');
      assert.equal(rules(), 0);
    } finally {
      r.teardown();
    }
  });

  it('20 containers started in parallel on one network get 20 distinct, reachable addresses', async () => {
    assert.equal(e.berth(['network', 'create', 'many']).status, 0);
    const codes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        new Promise<number | null>((res) => {
          spawn(BERTH, ['--root', e.root, 'run', '-d', '--name', `m${i}`, '--network', 'many', 'netimg', 'sleep', '300'], { stdio: 'ignore' }).on('exit', res);
        }),
      ),
    );
    assert.deepEqual(codes, Array(20).fill(0));
    const ips = Array.from({ length: 20 }, (_, i) => {
      const r = e.berth(['inspect', `m${i}`]);
      assert.equal(r.status, 0, `inspect m${i}: ${r.stderr}`);
      return JSON.parse(r.stdout)[0].NetworkSettings.IPAddress as string;
    });
    assert.equal(new Set(ips).size, 20, `distinct: ${ips.join(' ')}`);
    // reachability, not latency: a few tries each on a loaded machine
    for (const ip of ips) assert.equal(spawnSync('/bin/busybox', ['ping', '-c', '3', '-W', '3', ip]).status, 0, `${ip} answers`);
    const ids = Array.from({ length: 20 }, (_, i) => `m${i}`);
    assert.equal(e.berth(['rm', '-f', ...ids]).status, 0);
    assert.equal(e.berth(['network', 'rm', 'many', 'front', 'other']).status, 0);
  });
});
