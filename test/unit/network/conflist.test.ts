import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { buildConfList, CNI_VERSION, loopbackConfList } from '../../../src/network/conflist.ts';
import { DEFAULT_OPTIONS, findNetwork, hostRoutes, listNetworks, planNetwork, validateName, writeNetwork } from '../../../src/network/definitions.ts';
import { contains, formatSubnet, overlaps, parseSubnet } from '../../../src/network/ipnet.ts';
import { NetworkLayout } from '../../../src/network/layout.ts';
import type { NetworkRecord } from '../../../src/network/types.ts';

const net = (over: Partial<NetworkRecord> = {}): NetworkRecord => ({
  name: 'app',
  id: 'a'.repeat(64),
  driver: 'bridge',
  bridge: 'berth1',
  subnet: '10.89.3.0/24',
  gateway: '10.89.3.1',
  internal: false,
  dnsEnabled: true,
  labels: {},
  created: '2026-01-01T00:00:00.000Z',
  ...over,
});

test('a routed network: bridge + host-local, portmap with the capability (masquerading, isolation and FORWARD accepts are per network)', () => {
  const c = buildConfList(net(), '/var/lib/berth/network-state/ipam');
  assert.equal(c.cniVersion, CNI_VERSION);
  assert.equal(c.name, 'app');
  assert.deepEqual(
    c.plugins.map((p) => p.type),
    ['bridge', 'portmap'],
  );
  assert.deepEqual(c.plugins[0], {
    type: 'bridge',
    bridge: 'berth1',
    isGateway: true,
    ipMasq: false,
    hairpinMode: true,
    ipam: {
      type: 'host-local',
      ranges: [[{ subnet: '10.89.3.0/24', gateway: '10.89.3.1' }]],
      routes: [{ dst: '0.0.0.0/0' }],
      dataDir: '/var/lib/berth/network-state/ipam',
    },
  });
  assert.deepEqual(c.plugins[1], { type: 'portmap', capabilities: { portMappings: true }, snat: true });
});

test('no portmap for a container that publishes nothing', () => {
  assert.deepEqual(
    buildConfList(net(), '/d', false).plugins.map((p) => p.type),
    ['bridge'],
  );
});

test('an internal network: no gateway, no masquerading, no default route, no portmap', () => {
  const c = buildConfList(net({ internal: true }), '/d');
  const b = c.plugins[0]!;
  assert.equal(b.isGateway, false);
  assert.equal(b.ipMasq, false);
  assert.deepEqual((b.ipam as { routes: unknown[] }).routes, []);
  assert.ok(!c.plugins.some((p) => p.type === 'portmap'));
});

test('loopback list', () => {
  assert.deepEqual(loopbackConfList().plugins, [{ type: 'loopback' }]);
});

test('subnet arithmetic', () => {
  assert.throws(() => parseSubnet('10.89.3.1/24'), /host bits are set/);
  assert.throws(() => parseSubnet('10.89.3.0'), /invalid subnet/);
  assert.throws(() => parseSubnet('10.0.0.0/31'), /between/);
  assert.ok(overlaps(parseSubnet('10.88.0.0/16'), parseSubnet('10.88.5.0/24')));
  assert.ok(!overlaps(parseSubnet('10.88.0.0/16'), parseSubnet('10.89.0.0/24')));
  assert.ok(contains(parseSubnet('10.89.3.0/24'), '10.89.3.200'));
  assert.ok(!contains(parseSubnet('10.89.3.0/24'), '10.89.4.1'));
});

test('names: Docker alphabet, mode names reserved', () => {
  validateName('my_net.1-a');
  for (const bad of ['', '-x', 'a/b', 'a b', 'host', 'none', 'bridge']) assert.throws(() => validateName(bad), Error, bad);
});

test('planning: explicit subnet, gateway checks, overlaps, bridge names', () => {
  const opts = { ...DEFAULT_OPTIONS, bridgePrefix: 'bzq' };
  const d = planNetwork({ name: 'berth', subnet: '10.87.0.0/16', dns: false }, [], opts, true, []);
  assert.equal(d.bridge, 'bzq0');
  assert.equal(d.gateway, '10.87.0.1');
  assert.equal(d.dnsEnabled, false);
  const a = planNetwork({ name: 'a', subnet: '10.89.7.0/24', gateway: '10.89.7.254', internal: true }, [d], opts, false, []);
  assert.equal(a.bridge, 'bzq1');
  assert.equal(a.gateway, '10.89.7.254');
  assert.equal(a.internal, true);
  assert.equal(a.dnsEnabled, true);
  assert.match(a.id, /^[0-9a-f]{64}$/);
  assert.throws(() => planNetwork({ name: 'b', subnet: '10.87.3.0/24' }, [d, a], opts, false, []), /overlaps with network berth/);
  assert.throws(() => planNetwork({ name: 'a', subnet: '10.89.8.0/24' }, [d, a], opts, false, []), /already exists/);
  assert.throws(() => planNetwork({ name: 'c', subnet: '10.89.9.0/24', gateway: '10.89.10.1' }, [d, a], opts, false, []), /not a host address/);
  assert.throws(() => planNetwork({ name: 'c', subnet: '10.89.9.0/24', gateway: '10.89.9.255' }, [d, a], opts, false, []), /not a host address/);
  const b = planNetwork({ name: 'b', subnet: '10.89.8.0/24' }, [d, a], opts, false, []);
  assert.equal(b.bridge, 'bzq2');
});

test('planning: automatic subnets are /24s of the pool that overlap nothing', () => {
  const opts = { ...DEFAULT_OPTIONS, pool: '10.200.0.0/22', bridgePrefix: 'bzq' };
  const taken = planNetwork({ name: 't', subnet: '10.200.0.0/24' }, [], opts, false, []);
  const n = planNetwork({ name: 'n' }, [taken], opts, false, []);
  assert.equal(n.subnet, '10.200.1.0/24');
  assert.equal(n.gateway, '10.200.1.1');
  const full = ['10.200.1.0/24', '10.200.2.0/24', '10.200.3.0/24'].map((s, i) => planNetwork({ name: `f${i}`, subnet: s }, [taken], opts, false, []));
  assert.throws(() => planNetwork({ name: 'x' }, [taken, ...full], opts, false, []), /no free subnet/);
});

test('the default network yields to a host route or a bridge name already in use', () => {
  const opts = { ...DEFAULT_OPTIONS, pool: '10.200.0.0/22', bridgePrefix: 'bzq' };
  const route = hostRoutes()[0];
  if (!route) return; // no route on this machine to collide with
  const d = planNetwork({ name: 'berth', subnet: formatSubnet(route), dns: false }, [], opts, true);
  // and the bridge: "eth" + "0" exists on most machines, so the default takes eth1, eth2...
  const eth = planNetwork({ name: 'berth', subnet: '10.201.0.0/16', dns: false }, [], { ...opts, bridgePrefix: 'eth' }, true);
  assert.notEqual(eth.bridge, 'eth0');
  assert.equal(d.subnet, '10.200.0.0/24', 'a pool subnet instead of the routed one');
  assert.throws(() => planNetwork({ name: 'user', subnet: '10.200.0.0/24' }, [d], opts, false, []), /overlaps/);
});

test('records: written atomically, listed, found by name, ID prefix, or "bridge" for the default', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-netdefs-'));
  try {
    const layout = new NetworkLayout(dir, path.join(dir, 'run'));
    const opts = { ...DEFAULT_OPTIONS, bridgePrefix: 'bzq' };
    const d = planNetwork({ name: 'berth', subnet: '10.87.0.0/16', dns: false }, [], opts, true, []);
    const a = planNetwork({ name: 'a', subnet: '10.89.7.0/24' }, [d], opts, false, []);
    writeNetwork(layout, d);
    writeNetwork(layout, a);
    assert.deepEqual(listNetworks(layout).map((n) => n.name), ['a', 'berth']);
    assert.equal(findNetwork(layout, 'bridge', opts).name, 'berth');
    assert.equal(findNetwork(layout, a.id.slice(0, 6), opts).name, 'a');
    assert.throws(() => findNetwork(layout, 'nope', opts), /network nope not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
