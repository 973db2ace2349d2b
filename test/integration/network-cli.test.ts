/**
 * `berth network ...` end to end through the CLI (run from source), on a private root: create with
 * --subnet/--gateway/--internal, ls, inspect, connect/disconnect of a container attached through
 * the library (as the engine does), rm and prune.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runDirFor } from '../../src/network/layout.ts';
import { NetworkManager } from '../../src/network/manager.ts';
import { getSys } from '../../src/sys/index.ts';
import { MNT } from '../../src/sys/types.ts';
import { haveTools, testEnv, testSubnet, type TestEnv } from './network-helpers.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/berth/main.ts', import.meta.url));
const skip = haveTools();
let env: TestEnv;
let root: string;
before(async () => {
  if (skip) return;
  env = await testEnv('cli');
  root = env.m.ctx.layout.root;
});
after(async () => {
  if (root) {
    // the CLI pins in the root's own run dir (runDirFor), not the helper's
    const m = await NetworkManager.open(root).catch(() => undefined);
    await m?.sweep(() => false).catch(() => {});
    const run = runDirFor(root);
    try {
      (await getSys()).umount2(run, MNT.DETACH);
    } catch {
      // never mounted
    }
    rmSync(run, { recursive: true, force: true });
  }
  await env?.cleanup();
});

function berth(...args: string[]) {
  return spawnSync(process.execPath, [MAIN, '--root', root, ...args], { encoding: 'utf8' });
}

describe('berth network', { skip }, () => {
  it('create, ls, inspect, connect, disconnect, rm, prune', async () => {
    const a = testSubnet();
    const b = testSubnet();
    env.subnets.push(a.subnet, b.subnet);
    const gw = `${a.prefix}254`;
    const c1 = berth('network', 'create', '--subnet', a.subnet, '--gateway', gw, '--label', 'team=net', 'alpha');
    assert.equal(c1.status, 0, c1.stderr);
    assert.match(c1.stdout, /^[0-9a-f]{64}\n$/);
    assert.equal(berth('network', 'create', '--internal', '--subnet', b.subnet, 'beta').status, 0);
    const dup = berth('network', 'create', '--subnet', a.subnet, 'gamma');
    assert.equal(dup.status, 125);
    assert.equal(dup.stderr, `berth: subnet ${a.subnet} overlaps with network alpha (${a.subnet})\n`);

    const ls = berth('network', 'ls');
    assert.match(ls.stdout, /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE\n/);
    assert.deepEqual(
      ls.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[1]),
      ['alpha', 'berth', 'beta'],
    );
    assert.equal(berth('network', 'ls', '-q', '-f', 'name=alp').stdout, c1.stdout.slice(0, 12) + '\n');

    const insp = JSON.parse(berth('network', 'inspect', 'alpha', 'beta').stdout) as { Name: string; Internal: boolean; IPAM: { Config: { Subnet: string; Gateway: string }[] }; Labels: Record<string, string> }[];
    assert.deepEqual(insp.map((n) => [n.Name, n.Internal, n.IPAM.Config[0]!.Subnet, n.IPAM.Config[0]!.Gateway]), [
      ['alpha', false, a.subnet, gw],
      ['beta', true, b.subnet, `${b.prefix}1`],
    ]);
    assert.deepEqual(insp[0]!.Labels, { team: 'net' });

    // a container with networking, as the engine would attach it
    const m = await NetworkManager.open(root);
    const att = await m.attach('cli0000container', { name: 'app', network: 'alpha' });
    assert.equal(att.netnsPath, path.join(m.ctx.layout.runDir, 'cli0000container'));
    const conn = berth('network', 'connect', '--alias', 'app-b', '--ip', `${b.prefix}77`, 'beta', 'app');
    assert.equal(conn.status, 0, conn.stderr);
    type Entry = { Name: string; MacAddress: string; IPv4Address: string; IPv6Address: string; Aliases: string[] };
    const containers = (JSON.parse(berth('network', 'inspect', 'beta').stdout) as { Containers: Record<string, Entry> }[])[0]!.Containers;
    const entry = containers['cli0000container']!;
    assert.match(entry.MacAddress, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    assert.deepEqual({ ...entry, MacAddress: '' }, { Name: 'app', MacAddress: '', IPv4Address: `${b.prefix}77/24`, IPv6Address: '', Aliases: ['app-b'] });
    const ip = spawnSync('nsenter', [`--net=${att.netnsPath}`, 'ip', '-br', 'addr'], { encoding: 'utf8' }).stdout;
    assert.match(ip, new RegExp(`eth1\\S*\\s+UP\\s+${b.prefix.replace(/\./g, '\\.')}77/24`));
    assert.match(readFileSync(att.hostsFile, 'utf8'), new RegExp(`${b.prefix.replace(/\./g, '\\.')}77\t`));

    // the networks' host rules: isolation for both, masquerading only for the routed one, each once
    const bridgeOf = (n: string) => (JSON.parse(berth('network', 'inspect', n).stdout) as { Options: Record<string, string> }[])[0]!.Options['com.docker.network.bridge.name']!;
    const [alphaBr, betaBr] = [bridgeOf('alpha'), bridgeOf('beta')];
    const hostRules = (br: string) => {
      const filter = spawnSync('iptables', ['-S'], { encoding: 'utf8' }).stdout;
      const nat = spawnSync('iptables', ['-t', 'nat', '-S', 'POSTROUTING'], { encoding: 'utf8' }).stdout;
      return {
        isolation: filter.split('\n').filter((l) => l.includes(`"berth isolation ${br}"`)).length,
        forward: filter.split('\n').filter((l) => l.includes(`"berth forward ${br}"`)).length,
        masquerade: nat.split('\n').filter((l) => l.includes(`"berth masquerade ${br}"`)).length,
      };
    };
    assert.deepEqual(hostRules(alphaBr), { isolation: 2, forward: 3, masquerade: 1 });
    assert.deepEqual(hostRules(betaBr), { isolation: 2, forward: 3, masquerade: 0 }, 'an internal network is not masqueraded');

    const busy = berth('network', 'rm', 'beta');
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, /network beta has active endpoints \(app\)/);
    assert.equal(berth('network', 'disconnect', 'beta', 'app').status, 0);
    assert.doesNotMatch(spawnSync('nsenter', [`--net=${att.netnsPath}`, 'ip', '-br', 'addr'], { encoding: 'utf8' }).stdout, /eth1/);
    assert.equal(berth('network', 'disconnect', 'beta', 'app').status, 125);

    assert.equal(berth('network', 'rm', 'beta').stdout, 'beta\n');
    assert.deepEqual(hostRules(betaBr), { isolation: 0, forward: 0, masquerade: 0 }, 'its rules leave with the network');
    const pr = berth('network', 'prune', '-f');
    assert.equal(pr.stdout, '', 'alpha is in use, berth is the default');
    await m.detach('cli0000container');
    assert.equal(berth('network', 'prune', '-f').stdout, 'Deleted Networks:\nalpha\n');
    assert.deepEqual(hostRules(alphaBr), { isolation: 0, forward: 0, masquerade: 0 });
    assert.equal(berth('network', 'rm', 'nope').status, 1);
    assert.equal(berth('network', 'rm', '-f', 'nope').status, 0);
  });
});
