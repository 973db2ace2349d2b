/**
 * The attach/detach state machine without root: FakeSys records the namespace calls, fake CNI
 * plugins stand in for the real ones. What is checked here is berth's side of the protocol: records,
 * the result cache, the generated files, peers kept current, rollback, and the sweep.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, beforeEach, test } from 'node:test';
import { readCache } from '../../../src/network/cni/cache.ts';
import { NetworkManager } from '../../../src/network/manager.ts';
import { parsePublishList } from '../../../src/network/ports.ts';
import { readRecord, writeRecord } from '../../../src/network/state.ts';
import { FakeSys } from '../../../src/sys/fake.ts';
import { makeFakeCni, type FakeCni } from './fake-cni.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

let fake: FakeCni;
let m: NetworkManager;
let root: string;
let sys: FakeSys;
let rules: string[];

beforeEach(async () => {
  fake = makeFakeCni();
  root = mkdtempSync(path.join(os.tmpdir(), 'berth-netmgr-'));
  dirs.push(fake.dir, root);
  writeFileSync(path.join(root, 'host-resolv.conf'), 'search lab.test\nnameserver 127.0.0.53\nnameserver 192.0.2.53\n');
  writeFileSync(path.join(root, 'host-hosts'), '127.0.0.1 localhost\n192.0.2.10 buildhost\n');
  sys = new FakeSys();
  rules = [];
  m = await NetworkManager.open(path.join(root, 'engine'), {
    hostRules: {
      ensure: async (bridge, subnet, internal) => void rules.push(`+${bridge} ${subnet}${internal ? ' internal' : ''}`),
      remove: (bridge) => rules.push(`-${bridge}`),
    },
    hostRoutes: () => [], // this machine's own routes must not steer the unit test's subnets
    runDir: path.join(root, 'run'),
    pluginDirs: [fake.dir],
    sys,
    bridgePrefix: 'bzu',
    hostResolvConf: path.join(root, 'host-resolv.conf'),
    hostHosts: path.join(root, 'host-hosts'),
  });
});

const read = (f: string) => readFileSync(f, 'utf8');
const types = (from: number, cmd?: string) =>
  fake
    .log()
    .slice(from)
    .filter((c) => !cmd || c.env.CNI_COMMAND === cmd)
    .map((c) => c.type);

test('attach to the default network: namespace, lo, the chain, the cache and the three files', async () => {
  const a = await m.attach('c1aaaaaaaaaaaaaaaa', { name: 'web', ports: parsePublishList(['127.0.0.1:18080:8080']) });
  assert.equal(a.mode, 'bridge');
  assert.equal(a.netnsPath, path.join(root, 'run', 'c1aaaaaaaaaaaaaaaa'));
  assert.ok(sys.calls.some((c) => c.op === 'unshare') && sys.calls.some((c) => c.op === 'setns'));
  assert.ok(sys.calls.some((c) => c.op === 'mount' && c.args[1] === a.netnsPath));
  assert.deepEqual(types(0, 'ADD').sort(), ['bridge', 'loopback', 'portmap']);
  assert.deepEqual(rules, ['+bzu0 10.87.0.0/16'], "the network's isolation and masquerading rules, before the first ADD");
  assert.deepEqual(a.ports, [{ hostIP: '127.0.0.1', hostPort: 18080, containerPort: 8080, protocol: 'tcp' }]);
  assert.equal(a.interfaces[0]!.name, 'eth0');
  assert.equal(a.interfaces[0]!.network, 'berth');
  assert.equal(a.ips[0], a.interfaces[0]!.addresses[0]!.split('/')[0]);
  const pm = fake.log().find((c) => c.type === 'portmap')!;
  assert.deepEqual((pm.stdin.runtimeConfig as { portMappings: unknown }).portMappings, [{ hostPort: 18080, containerPort: 8080, protocol: 'tcp', hostIP: '127.0.0.1' }]);
  const cache = readCache(m.ctx.layout, 'c1aaaaaaaaaaaaaaaa', 'berth')!;
  assert.ok(cache.result?.ips?.length);
  assert.equal(read(a.hostnameFile), 'c1aaaaaaaaaa\n');
  assert.match(read(a.resolvConf), /nameserver 192\.0\.2\.53/);
  assert.doesNotMatch(read(a.resolvConf), /127\.0\.0\.53/);
  assert.match(read(a.hostsFile), new RegExp(`${a.ips[0]!.replace(/\./g, '\\.')}\tc1aaaaaaaaaa web`));
  const nets = await m.list();
  assert.deepEqual(nets.map((n) => [n.name, n.bridge, n.subnet, n.dnsEnabled]), [['berth', 'bzu0', '10.87.0.0/16', false]]);
});

test('detach runs DEL in reverse from the cache and forgets everything', async () => {
  const a = await m.attach('c2', { name: 'x', ports: parsePublishList(['18081:80']) });
  const from = fake.log().length;
  await m.detach('c2');
  assert.deepEqual(types(from), ['portmap', 'bridge']);
  const del = fake.log().slice(from)[0]!;
  assert.deepEqual((del.stdin.prevResult as { ips: unknown }).ips, readCacheless(a.interfaces[0]!.addresses[0]!));
  assert.ok(!existsSync(a.netnsPath!));
  assert.ok(!existsSync(path.dirname(a.hostsFile)));
  assert.equal(readRecord(m.ctx, 'c2'), undefined);
  assert.equal(readCache(m.ctx.layout, 'c2', 'berth'), undefined);
  await m.detach('c2'); // idempotent
});
function readCacheless(addr: string) {
  return [{ address: addr, gateway: '10.87.0.1', interface: 2 }];
}

test('peers on a user-defined network see each other by name and alias, kept current', async () => {
  await m.create({ name: 'app', subnet: '10.99.1.0/24' });
  const a = await m.attach('aaaa', { name: 'alpha', network: 'app', aliases: ['db'] });
  const b = await m.attach('bbbb', { name: 'beta', network: 'app' });
  const c = await m.attach('cccc', { name: 'gamma' }); // default network: no names
  assert.match(read(a.hostsFile), new RegExp(`${b.ips[0]}\tbeta bbbb`));
  assert.match(read(b.hostsFile), new RegExp(`${a.ips[0]}\talpha db aaaa`));
  assert.doesNotMatch(read(c.hostsFile), /alpha|beta/);
  assert.doesNotMatch(read(a.hostsFile), /gamma/);
  const ino = statSync(b.hostsFile).ino;
  await m.detach('aaaa');
  assert.doesNotMatch(read(b.hostsFile), /alpha/);
  assert.equal(statSync(b.hostsFile).ino, ino, 'rewritten in place for the bind mount');
  const insp = await m.inspect('app');
  assert.deepEqual(Object.values(insp.Containers).map((x) => x.Name), ['beta']);
  await assert.rejects(m.remove('app'), /active endpoints \(beta\)/);
  await m.detach('bbbb');
  await m.detach('cccc');
  await m.remove('app');
  assert.deepEqual((await m.list()).map((n) => n.name), ['berth']);
  const appBridge = rules.find((r) => r.startsWith('+') && r.endsWith(' 10.99.1.0/24'))!.slice(1).split(' ')[0]!;
  assert.ok(rules.includes(`-${appBridge}`), "removing the network removes its rules");
});

test('none, host and container modes', async () => {
  const from = fake.log().length;
  const none = await m.attach('nnnn', { name: 'n', network: 'none', ports: parsePublishList(['80']) });
  assert.deepEqual(types(from), ['loopback']);
  assert.ok(none.netnsPath);
  assert.deepEqual(none.interfaces, []);
  assert.match(none.warnings[0]!, /discarded/);
  const host = await m.attach('hhhh', { name: 'h', network: 'host', extraHosts: ['extra:10.1.2.3'] });
  assert.equal(host.netnsPath, null);
  assert.match(read(host.hostsFile), /192\.0\.2\.10 buildhost\n10\.1\.2\.3\textra/);
  assert.match(read(host.resolvConf), /127\.0\.0\.53/);
  const base = await m.attach('bbbb', { name: 'base' });
  const joined = await m.attach('jjjj', { name: 'j', network: 'container:base' });
  assert.equal(joined.netnsPath, base.netnsPath);
  assert.equal(joined.hostsFile, base.hostsFile);
  await assert.rejects(m.attach('kkkk', { name: 'k', network: 'container:nosuch' }), /cannot join/);
  await assert.rejects(m.attach('kkkk', { name: 'k', network: 'container:base', ports: parsePublishList(['80']) }), /conflicting options/);
  for (const id of ['nnnn', 'hhhh', 'jjjj', 'bbbb']) await m.detach(id);
});

test('requests the engine must refuse', async () => {
  await m.create({ name: 'app', subnet: '10.99.2.0/24' });
  await assert.rejects(m.attach('x1', { name: 'x', ip: '10.87.0.9' }), /user-defined networks/);
  await assert.rejects(m.attach('x1', { name: 'x', aliases: ['a'] }), /user-defined networks/);
  await assert.rejects(m.attach('x1', { name: 'x', network: 'app', ip: '10.99.3.4' }), /not in network app/);
  await assert.rejects(m.attach('x1', { name: 'x', network: 'app', ip: '10.99.2.1' }), /gateway/);
  await assert.rejects(m.attach('x1', { name: 'x', network: 'nope' }), /network nope not found/);
  await assert.rejects(m.attach('../x', { name: 'x' }), /invalid container ID/);
  await assert.rejects(m.attach('x1', { name: 'x', extraHosts: ['bad'] }), /--add-host/);
  await m.attach('x1', { name: 'x', network: 'app', ip: '10.99.2.50', ports: parsePublishList(['18090:80']) });
  await assert.rejects(m.attach('x1', { name: 'x' }), /already has networking/);
  await assert.rejects(m.attach('x2', { name: 'y', network: 'app', ip: '10.99.2.50' }), /already in use/);
  await assert.rejects(m.attach('x2', { name: 'y', ports: parsePublishList(['18090:81']) }), /port is already allocated/);
  await assert.rejects(m.remove('berth'), /default network/);
  await m.detach('x1');
});

test('a failing plugin rolls the attach back completely', async () => {
  await m.create({ name: 'app', subnet: '10.99.4.0/24' });
  // make portmap (the second plugin) fail on ADD through the plugin dir
  writeFileSync(path.join(fake.dir, 'portmap'), `#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] && { echo '{"code":5,"msg":"iptables exploded"}'; exit 1; }\nexit 0\n`);
  const from = fake.log().length;
  await assert.rejects(m.attach('ffff', { name: 'f', network: 'app', ports: parsePublishList(['18089:80']) }), /CNI plugin portmap failed \(ADD\): iptables exploded/);
  assert.deepEqual(types(from, 'DEL'), ['bridge']); // portmap is the shell stub: not logged
  assert.equal(readRecord(m.ctx, 'ffff'), undefined);
  assert.equal(readCache(m.ctx.layout, 'ffff', 'app'), undefined);
  assert.ok(!existsSync(path.join(root, 'run', 'ffff')));
});

test('connect and disconnect an attached container', async () => {
  await m.create({ name: 'front', subnet: '10.99.5.0/24' });
  await m.create({ name: 'back', subnet: '10.99.6.0/24' });
  const a = await m.attach('aaaa', { name: 'api', network: 'front' });
  const db = await m.attach('dddd', { name: 'db', network: 'back' });
  assert.doesNotMatch(read(a.hostsFile), /\tdb/);
  const after1 = await m.connect('api', 'back', { aliases: ['api-internal'] });
  assert.deepEqual(after1.interfaces.map((i) => [i.name, i.network]), [['eth0', 'front'], ['eth1', 'back']]);
  assert.match(read(a.hostsFile), /\tdb dddd/);
  assert.match(read(db.hostsFile), /\tapi api-internal aaaa/);
  await assert.rejects(m.connect('api', 'back'), /already connected/);
  const after2 = await m.disconnect('aaaa', 'back');
  assert.deepEqual(after2.interfaces.map((i) => i.network), ['front']);
  assert.doesNotMatch(read(db.hostsFile), /api/);
  assert.equal(readCache(m.ctx.layout, 'aaaa', 'back'), undefined);
  await assert.rejects(m.disconnect('aaaa', 'back'), /not connected/);
  await m.detach('aaaa');
  await m.detach('dddd');
  assert.deepEqual(await m.prune(), ['back', 'front']);
});

test('sweep: dead containers, crashed attaches, stray cache entries and pins', async () => {
  await m.attach('dead', { name: 'dead' });
  await m.attach('live', { name: 'live' });
  // a crashed attach: record in flight, owner long gone
  await m.attach('crash', { name: 'crash' });
  const rec = readRecord(m.ctx, 'crash')!;
  writeRecord(m.ctx, { ...rec, state: 'attaching', owner: { pid: 999_999_999, start: 1 } });
  // an attach in flight in a live process is left alone
  await m.attach('busy', { name: 'busy' });
  const busy = readRecord(m.ctx, 'busy')!;
  writeRecord(m.ctx, { ...busy, state: 'attaching', owner: { pid: process.pid, start: Number(readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]) } });
  // a pin nobody knows
  mkdirSync(path.join(root, 'run'), { recursive: true });
  writeFileSync(path.join(root, 'run', 'ghost'), '');
  const report = await m.sweep((id) => id === 'live');
  assert.deepEqual(report.attachments.sort(), ['crash', 'dead']);
  assert.deepEqual(report.netns, ['ghost']);
  assert.equal(readRecord(m.ctx, 'dead'), undefined);
  assert.ok(readRecord(m.ctx, 'live'));
  assert.ok(readRecord(m.ctx, 'busy'));
  assert.ok(!existsSync(path.join(root, 'run', 'ghost')));
  // a cache entry whose record vanished (crash after the record was deleted by hand)
  rmSync(m.ctx.layout.container('live'));
  const r2 = await m.sweep(() => true);
  assert.deepEqual(r2.cacheEntries, ['live/berth']);
  assert.deepEqual(r2.netns, ['live']);
});
