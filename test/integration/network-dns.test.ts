/**
 * Name resolution and isolation on user-defined networks with the real plugins: two "containers"
 * on one network reach each other's httpd by name and by alias through their generated /etc/hosts;
 * a container on another network can reach neither (berth's per-network isolation rules) until it is
 * connected to the network, and cannot again after it is disconnected.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { haveTools, httpGet, inContainer, startHttpd, testEnv, testSubnet, type TestEnv } from './network-helpers.ts';

const skip = haveTools();
let env: TestEnv;
before(async () => {
  if (!skip) env = await testEnv('dns');
});
after(async () => {
  await env?.cleanup();
});

const curl = (url: string) => ['curl', '-s', '--max-time', '3', url];

describe('user-defined networks', { skip }, () => {
  it('resolve peers by name and alias; another network is isolated until connected', async () => {
    const front = testSubnet();
    const back = testSubnet();
    env.subnets.push(front.subnet, back.subnet);
    await env.m.create({ name: 'front', subnet: front.subnet });
    await env.m.create({ name: 'back', subnet: back.subnet });
    const web = await env.m.attach('aaaa0000web', { name: 'web', network: 'front', aliases: ['www'], hostname: 'webhost' });
    const client = await env.m.attach('bbbb0000cli', { name: 'client', network: 'front' });
    const stranger = await env.m.attach('cccc0000str', { name: 'stranger', network: 'back' });
    await startHttpd(env, web.netnsPath!, 'web page\n');
    await startHttpd(env, stranger.netnsPath!, 'back page\n');

    assert.ok(web.ips[0]!.startsWith(front.prefix));
    assert.match(readFileSync(client.hostsFile, 'utf8'), new RegExp(`${web.ips[0]!.replace(/\./g, '\\.')}\tweb www aaaa0000web`));
    // what getaddrinfo inside the client sees
    const getent = inContainer(client.netnsPath!, client, ['getent', 'hosts', 'www']);
    assert.equal(getent.stdout.trim().split(/\s+/)[0], web.ips[0], getent.stderr);
    for (const name of ['web', 'www', 'aaaa0000web']) {
      const r = inContainer(client.netnsPath!, client, curl(`http://${name}:8080/`));
      assert.equal(r.stdout, 'web page\n', `${name}: ${r.stderr}`);
    }
    // web sees its own hostname and the client
    const self = inContainer(web.netnsPath!, web, ['getent', 'hosts', 'webhost']);
    assert.equal(self.stdout.trim().split(/\s+/)[0], web.ips[0]);
    assert.equal(inContainer(web.netnsPath!, web, ['getent', 'hosts', 'client']).stdout.trim().split(/\s+/)[0], client.ips[0]);

    // the stranger on another network: no name, no route through the host's bridges
    assert.notEqual(inContainer(stranger.netnsPath!, stranger, ['getent', 'hosts', 'web']).status, 0);
    assert.equal(httpGet(stranger.netnsPath, web.ips[0]!, 8080, 2), null);
    assert.equal(httpGet(client.netnsPath, stranger.ips[0]!, 8080, 2), null);

    // connected to front, it resolves and reaches web; disconnected, it no longer does
    const joined = await env.m.connect('stranger', 'front', { aliases: ['visitor'] });
    assert.deepEqual(joined.interfaces.map((i) => [i.name, i.network]), [['eth0', 'back'], ['eth1', 'front']]);
    const r = inContainer(stranger.netnsPath!, stranger, curl('http://www:8080/'));
    assert.equal(r.stdout, 'web page\n', r.stderr);
    const visitorIp = joined.interfaces[1]!.addresses[0]!.split('/')[0];
    assert.equal(inContainer(client.netnsPath!, client, ['getent', 'hosts', 'visitor']).stdout.trim().split(/\s+/)[0], visitorIp);
    await env.m.disconnect('stranger', 'front');
    assert.notEqual(inContainer(stranger.netnsPath!, stranger, ['getent', 'hosts', 'web']).status, 0);
    assert.equal(httpGet(stranger.netnsPath, web.ips[0]!, 8080, 2), null);
    assert.notEqual(inContainer(client.netnsPath!, client, ['getent', 'hosts', 'visitor']).status, 0);

    // an internal network: no default route, so nothing beyond its own subnet
    const inner = testSubnet();
    env.subnets.push(inner.subnet);
    await env.m.create({ name: 'inner', subnet: inner.subnet, internal: true });
    const hermit = await env.m.attach('ffff0000her', { name: 'hermit', network: 'inner' });
    const routes = spawnSync('nsenter', [`--net=${hermit.netnsPath}`, 'ip', 'route'], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(routes, /default/);
    assert.equal(httpGet(hermit.netnsPath, web.ips[0]!, 8080, 2), null);
    await env.m.detach('ffff0000her');
    await env.m.remove('inner');

    // the default network does not resolve names (as Docker's and Podman's defaults)
    const d1 = await env.m.attach('dddd0000one', { name: 'one' });
    const d2 = await env.m.attach('dddd0000two', { name: 'two' });
    assert.notEqual(inContainer(d1.netnsPath!, d1, ['getent', 'hosts', 'two']).status, 0);
    assert.equal(readFileSync(d2.hostsFile, 'utf8').includes('one'), false);

    // resolv.conf: the host's minus loopback servers, or --dns
    const dns = await env.m.attach('eeee0000dns', { name: 'dns', network: 'front', dns: ['192.0.2.53'], dnsSearch: ['corp.test'] });
    assert.match(readFileSync(dns.resolvConf, 'utf8'), /search corp\.test\nnameserver 192\.0\.2\.53\n/);
    assert.doesNotMatch(readFileSync(web.resolvConf, 'utf8'), /nameserver 127\./);

    for (const id of ['aaaa0000web', 'bbbb0000cli', 'cccc0000str', 'dddd0000one', 'dddd0000two', 'eeee0000dns']) await env.m.detach(id);
    await env.m.remove('front');
    await env.m.remove('back');
  });
});
