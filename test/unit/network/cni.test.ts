import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { CniError, execPlugin, findPlugin } from '../../../src/network/cni/exec.ts';
import { addList, checkListState, delList, pluginStdin, pluginVersions } from '../../../src/network/cni/runtime.ts';
import type { NetConfList } from '../../../src/network/conflist.ts';
import { makeFakeCni } from './fake-cni.ts';

const fake = makeFakeCni();
after(() => rmSync(fake.dir, { recursive: true, force: true }));
const opts = { pluginDirs: ['/nonexistent', fake.dir], timeoutMs: 10_000 };

const list: NetConfList = {
  cniVersion: '1.0.0',
  name: 'testnet',
  plugins: [
    { type: 'bridge', bridge: 'bt0', ipam: { type: 'host-local', ranges: [[{ subnet: '10.99.0.0/24', gateway: '10.99.0.1' }]] } },
    { type: 'portmap', capabilities: { portMappings: true } },
    { type: 'firewall' },
  ],
};
const rt = {
  containerId: 'c0ffee',
  netns: '/run/netns/x',
  ifName: 'eth0',
  args: [['IgnoreUnknown', '1'], ['IP', '10.99.0.9']] as [string, string][],
  capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], bandwidth: { rate: 1 } },
};

test('plugins are found in the first directory that has them', () => {
  assert.equal(findPlugin('bridge', opts.pluginDirs), `${fake.dir}/bridge`);
  assert.throws(() => findPlugin('nosuch', opts.pluginDirs), /CNI plugin "nosuch" not found/);
  assert.throws(() => findPlugin('../bridge', opts.pluginDirs), /invalid CNI plugin type/);
});

test('stdin: name and cniVersion injected, runtimeConfig only for declared capabilities', () => {
  const s = pluginStdin(list, list.plugins[1]!, rt, { cniVersion: '1.0.0' });
  assert.equal(s.name, 'testnet');
  assert.equal(s.cniVersion, '1.0.0');
  assert.deepEqual(s.runtimeConfig, { portMappings: rt.capabilityArgs.portMappings });
  assert.deepEqual(s.prevResult, { cniVersion: '1.0.0' });
  assert.equal(pluginStdin(list, list.plugins[2]!, rt, undefined).runtimeConfig, undefined);
  assert.equal(pluginStdin(list, list.plugins[0]!, rt, undefined).prevResult, undefined);
});

test('ADD runs the chain in order with the environment and prevResult of each step', async () => {
  const before = fake.log().length;
  const result = await addList(list, rt, opts);
  assert.equal(result.ips?.[0]?.address.endsWith('/24'), true);
  const calls = fake.log().slice(before);
  assert.deepEqual(
    calls.map((c) => c.type),
    ['bridge', 'portmap', 'firewall'],
  );
  for (const c of calls) {
    assert.equal(c.env.CNI_COMMAND, 'ADD');
    assert.equal(c.env.CNI_CONTAINERID, 'c0ffee');
    assert.equal(c.env.CNI_NETNS, '/run/netns/x');
    assert.equal(c.env.CNI_IFNAME, 'eth0');
    assert.equal(c.env.CNI_ARGS, 'IgnoreUnknown=1;IP=10.99.0.9');
    assert.equal(c.env.CNI_PATH, `/nonexistent:${fake.dir}`);
  }
  assert.equal(calls[0]!.stdin.prevResult, undefined);
  assert.deepEqual(calls[1]!.stdin.prevResult, result);
  assert.deepEqual(calls[2]!.stdin.prevResult, result);
  assert.deepEqual((calls[1]!.stdin.runtimeConfig as { portMappings: unknown }).portMappings, rt.capabilityArgs.portMappings);
});

test('DEL runs in reverse with the cached result; CHECK in order', async () => {
  const cached = await addList(list, rt, opts);
  let before = fake.log().length;
  await delList(list, rt, cached, opts);
  let calls = fake.log().slice(before);
  assert.deepEqual(
    calls.map((c) => [c.type, c.env.CNI_COMMAND]),
    [
      ['firewall', 'DEL'],
      ['portmap', 'DEL'],
      ['bridge', 'DEL'],
    ],
  );
  for (const c of calls) assert.deepEqual(c.stdin.prevResult, cached);
  before = fake.log().length;
  await checkListState(list, rt, cached, opts);
  calls = fake.log().slice(before);
  assert.deepEqual(
    calls.map((c) => [c.type, c.env.CNI_COMMAND]),
    [
      ['bridge', 'CHECK'],
      ['portmap', 'CHECK'],
      ['firewall', 'CHECK'],
    ],
  );
  before = fake.log().length;
  await checkListState({ ...list, disableCheck: true }, rt, cached, opts);
  assert.equal(fake.log().length, before);
});

test('a CNI error object becomes one line with the plugin, the code and the details', async () => {
  const bad: NetConfList = { ...list, plugins: [list.plugins[0]!, { type: 'portmap', fail: 'ADD' }, { type: 'firewall' }] };
  const before = fake.log().length;
  await assert.rejects(addList(bad, rt, opts), (e: unknown) => {
    assert.ok(e instanceof CniError);
    assert.equal(e.cniCode, 7);
    assert.equal(e.plugin, 'portmap');
    assert.equal(e.message, 'CNI plugin portmap failed (ADD): boom: as asked');
    return true;
  });
  // the chain stops at the failing plugin
  assert.deepEqual(
    fake.log().slice(before).map((c) => c.type),
    ['bridge', 'portmap'],
  );
});

test('DEL runs every plugin even when one fails, then reports the first failure', async () => {
  const bad: NetConfList = { ...list, plugins: [list.plugins[0]!, { type: 'portmap', fail: 'DEL' }, { type: 'firewall' }] };
  const before = fake.log().length;
  await assert.rejects(delList(bad, rt, undefined, opts), /portmap failed \(DEL\): boom/);
  assert.deepEqual(
    fake.log().slice(before).map((c) => c.type),
    ['firewall', 'portmap', 'bridge'],
  );
});

test('a plugin that fails without an error object: stderr and exit status', async () => {
  await assert.rejects(
    execPlugin('firewall', { command: 'ADD', containerId: 'x', netns: '', ifName: 'eth0', config: { cniVersion: '1.0.0', name: 'n', type: 'firewall', failPlain: 'ADD' } }, opts),
    /CNI plugin firewall failed \(ADD\): plain failure \(exit status 2\)/,
  );
});

test('a hung plugin is killed after the time limit', async () => {
  await assert.rejects(
    execPlugin('firewall', { command: 'ADD', containerId: 'x', netns: '', ifName: 'eth0', config: { cniVersion: '1.0.0', name: 'n', type: 'firewall', hang: 'ADD' } }, { ...opts, timeoutMs: 300 }),
    /timed out after 300 ms/,
  );
});

test('ADD without a result is an error; VERSION lists versions', async () => {
  const bad: NetConfList = { cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'firewall' }] };
  // the fake chained plugin prints {cniVersion} when there is no prevResult: a result, but an empty one
  const r = await addList(bad, rt, opts);
  assert.equal(r.cniVersion, '1.0.0');
  assert.deepEqual(await pluginVersions('bridge', opts), ['0.4.0', '1.0.0']);
  await assert.rejects(addList({ cniVersion: '1.0.0', name: 'n', plugins: [] }, rt, opts), /needs a name, a cniVersion and plugins/);
});
