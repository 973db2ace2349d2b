import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BerthError } from '../../../src/common/errors.ts';
import { allocatePorts } from '../../../src/network/port-alloc.ts';
import { formatPorts, parsePublish, parsePublishList, publishAll } from '../../../src/network/ports.ts';

test('container port alone asks for a free host port on all addresses', () => {
  assert.deepEqual(parsePublish('80'), [{ hostIP: '', hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
});

test('host:container, ip:host:container, ip::container', () => {
  assert.deepEqual(parsePublish('8080:80'), [{ hostIP: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
  assert.deepEqual(parsePublish('127.0.0.1:18080:8080'), [{ hostIP: '127.0.0.1', hostPort: 18080, containerPort: 8080, protocol: 'tcp' }]);
  assert.deepEqual(parsePublish('127.0.0.1::8080'), [{ hostIP: '127.0.0.1', hostPort: 0, containerPort: 8080, protocol: 'tcp' }]);
  assert.deepEqual(parsePublish('0.0.0.0:81:80'), [{ hostIP: '', hostPort: 81, containerPort: 80, protocol: 'tcp' }]);
});

test('protocols', () => {
  assert.equal(parsePublish('53:53/udp')[0]!.protocol, 'udp');
  assert.equal(parsePublish('53:53/UDP')[0]!.protocol, 'udp');
  assert.equal(parsePublish('9:9/sctp')[0]!.protocol, 'sctp');
  assert.throws(() => parsePublish('53:53/icmp'), /invalid protocol "icmp"/);
});

test('ranges expand pairwise; a host range for one container port picks from it', () => {
  assert.deepEqual(
    parsePublish('8000-8002:80-82/udp').map((p) => [p.hostPort, p.containerPort, p.protocol]),
    [
      [8000, 80, 'udp'],
      [8001, 81, 'udp'],
      [8002, 82, 'udp'],
    ],
  );
  assert.deepEqual(parsePublish('8000-8010:80'), [{ hostIP: '', hostPort: 8000, hostPortEnd: 8010, containerPort: 80, protocol: 'tcp' }]);
  assert.deepEqual(
    parsePublish('90-91').map((p) => [p.hostPort, p.containerPort]),
    [
      [0, 90],
      [0, 91],
    ],
  );
  assert.throws(() => parsePublish('8000-8001:80-82'), /2 host ports for 3 container ports/);
  assert.throws(() => parsePublish('82-80'), /end is before start/);
});

test('IPv6 host addresses in brackets', () => {
  assert.deepEqual(parsePublish('[::1]:8080:80/udp'), [{ hostIP: '::1', hostPort: 8080, containerPort: 80, protocol: 'udp' }]);
});

test('bad specs fail with one line', () => {
  for (const bad of ['', 'abc', '0', '70000', '1:2:3:4', 'x.y:1:2', '80:', ':80:', '/tcp']) {
    assert.throws(
      () => parsePublish(bad),
      (e: unknown) => e instanceof BerthError && e.code === 'invalid-argument' && !e.message.includes('\n'),
      bad,
    );
  }
});

test('the same host port twice on one command line is refused', () => {
  assert.throws(() => parsePublishList(['8080:80', '8080:81']), /published twice/);
  assert.equal(parsePublishList(['8080:80', '8080:80/udp']).length, 2);
});

test('-P publishes every exposed port not already published', () => {
  const explicit = parsePublish('8080:80');
  assert.deepEqual(publishAll({ '80/tcp': {}, '53/udp': {}, '443': {} }, explicit), [
    { hostIP: '', hostPort: 0, containerPort: 53, protocol: 'udp' },
    { hostIP: '', hostPort: 0, containerPort: 443, protocol: 'tcp' },
  ]);
  assert.deepEqual(publishAll(undefined), []);
});

test('berth port output', () => {
  const b = [
    { hostIP: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' as const },
    { hostIP: '127.0.0.1', hostPort: 5353, containerPort: 53, protocol: 'udp' as const },
  ];
  assert.deepEqual(formatPorts(b), ['53/udp -> 127.0.0.1:5353', '80/tcp -> 0.0.0.0:8080']);
  assert.deepEqual(formatPorts(b, '80'), ['0.0.0.0:8080']);
  assert.deepEqual(formatPorts(b, '53/udp'), ['127.0.0.1:5353']);
  assert.deepEqual(formatPorts(b, '53'), []);
});

test('allocation: fixed ports clash with taken ones on overlapping addresses', async () => {
  const free = async () => true;
  const taken = [{ hostIP: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }];
  await assert.rejects(allocatePorts(parsePublish('8080:80'), { taken, probe: free }), /Bind for 0.0.0.0:8080\/tcp failed: port is already allocated/);
  await assert.rejects(allocatePorts(parsePublish('127.0.0.1:8080:80'), { taken, probe: free }), /already allocated/);
  assert.equal((await allocatePorts(parsePublish('127.0.0.2:8080:80'), { taken, probe: free }))[0]!.hostPort, 8080);
  assert.equal((await allocatePorts(parsePublish('8080:80/udp'), { taken, probe: free }))[0]!.hostPort, 8080);
});

test('allocation: a port a host process holds is refused', async () => {
  await assert.rejects(allocatePorts(parsePublish('8080:80'), { taken: [], probe: async () => false }), /already allocated/);
});

test('allocation: free ports come from the range, skipping taken ones', async () => {
  const taken = [{ hostIP: '', hostPort: 40000, containerPort: 1, protocol: 'tcp' as const }];
  const got = await allocatePorts([...parsePublish('80'), ...parsePublish('81')], { taken, range: [40000, 40002], probe: async () => true });
  assert.deepEqual(got.map((g) => g.hostPort).sort(), [40001, 40002]);
  await assert.rejects(allocatePorts(parsePublish('82'), { taken: [...taken, ...got], range: [40000, 40002], probe: async () => true }), /no free host port/);
  const fromRange = await allocatePorts(parsePublish('9000-9002:80'), { taken: [], probe: async (_ip, p) => p === 9002 });
  assert.equal(fromRange[0]!.hostPort, 9002);
});

test('allocation: IPv6 host addresses are refused (IPv4-only networks)', async () => {
  await assert.rejects(allocatePorts(parsePublish('[::1]:8080:80'), { taken: [], probe: async () => true }), /IPv4 only/);
});

test('allocation probes really bind: a listening port on 127.0.0.1 is detected', async () => {
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  try {
    await assert.rejects(allocatePorts(parsePublish(`127.0.0.1:${port}:80`), { taken: [] }), /already allocated/);
  } finally {
    srv.close();
  }
});
