/**
 * Concurrency and crashes with the real plugins: 20 containers attached at once (from this process
 * and two others) get 20 distinct addresses and are all reachable; an engine killed before it could
 * detach, or in the middle of an attach, leaves state that `sweep` removes completely.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { listCache } from '../../src/network/cni/cache.ts';
import { listRecords } from '../../src/network/state.ts';
import { haveTools, iptablesSnapshot, links, SHARED_CHAINS, testEnv, testSubnet, type TestEnv } from './network-helpers.ts';

const skip = haveTools();
let env: TestEnv;
let sub: { subnet: string; prefix: string };
before(async () => {
  if (skip) return;
  env = await testEnv('conc');
  sub = testSubnet();
  env.subnets.push(sub.subnet);
  await env.m.create({ name: 'many', subnet: sub.subnet });
});
after(async () => {
  await env?.cleanup();
});

const MANAGER = fileURLToPath(new URL('../../src/network/manager.ts', import.meta.url));
const NODE = process.execPath;

/** A script for another process: open the same root and attach the given IDs concurrently. */
function childScript(ids: string[], net: string, then: 'exit' | 'kill', ports: string[] = []): string {
  const o = env.m.ctx.options;
  const file = path.join(env.dir, `child-${ids[0]}.ts`);
  writeFileSync(
    file,
    `import { NetworkManager } from ${JSON.stringify(MANAGER)};
const m = await NetworkManager.open(${JSON.stringify(env.m.ctx.layout.root)}, { runDir: ${JSON.stringify(env.m.ctx.layout.runDir)}, bridgePrefix: ${JSON.stringify(o.bridgePrefix)}, defaultSubnet: ${JSON.stringify(o.defaultSubnet)}, pool: ${JSON.stringify(o.pool)} });
const ports = ${JSON.stringify(ports)}.map((p) => ({ hostIP: '127.0.0.1', hostPort: 0, containerPort: Number(p), protocol: 'tcp' }));
const got = await Promise.all(${JSON.stringify(ids)}.map((id) => m.attach(id, { name: id, network: ${JSON.stringify(net)}, ports })));
process.stdout.write(JSON.stringify(got.map((a) => a.ips[0])));
${then === 'kill' ? "process.kill(process.pid, 'SIGKILL');" : ''}
`,
  );
  return file;
}

function runChild(file: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(NODE, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (b: Buffer) => (out += b));
    c.stderr.on('data', (b: Buffer) => (err += b));
    c.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('concurrency and crashes', { skip }, () => {
  it('20 parallel attaches on one network: 20 distinct addresses, all reachable', async () => {
    const local = Array.from({ length: 10 }, (_, i) => `par${String(i).padStart(2, '0')}local`);
    const remoteA = Array.from({ length: 5 }, (_, i) => `par${i}remoteA`);
    const remoteB = Array.from({ length: 5 }, (_, i) => `par${i}remoteB`);
    const [mine, a, b] = await Promise.all([
      Promise.all(local.map((id) => env.m.attach(id, { name: id, network: 'many' }))),
      runChild(childScript(remoteA, 'many', 'exit')),
      runChild(childScript(remoteB, 'many', 'exit')),
    ]);
    assert.equal(a.code, 0, a.err);
    assert.equal(b.code, 0, b.err);
    const ips = [...mine.map((x) => x.ips[0]!), ...(JSON.parse(a.out) as string[]), ...(JSON.parse(b.out) as string[])];
    assert.equal(ips.length, 20);
    assert.equal(new Set(ips).size, 20, `duplicates in ${ips.join(' ')}`);
    for (const ip of ips) assert.ok(ip.startsWith(sub.prefix), ip);
    // every one answers a ping from the first container, across the bridge
    const from = mine[0]!.netnsPath!;
    const results = await Promise.all(
      ips.slice(1).map(
        (ip) =>
          new Promise<number | null>((resolve) => {
            const p = spawn('nsenter', [`--net=${from}`, '/bin/busybox', 'ping', '-c', '1', '-W', '3', ip], { stdio: 'ignore' });
            p.on('close', resolve);
          }),
      ),
    );
    assert.deepEqual(results, Array(19).fill(0));
    // every hosts file lists the 19 others
    const recs = listRecords(env.m.ctx);
    assert.equal(recs.filter((r) => r.state === 'attached').length, 20);
    await Promise.all([...local, ...remoteA, ...remoteB].map((id) => env.m.detach(id)));
    assert.deepEqual(listRecords(env.m.ctx), []);
    assert.deepEqual((existsSync(env.m.ctx.layout.runDir) ? readdirSync(env.m.ctx.layout.runDir) : []) /* released once empty */, []);
  });

  it('a killed engine: sweep removes attached state whose container is gone', async () => {
    const ids = ['crash0attached', 'crash1attached'];
    const before = iptablesSnapshot(env, ids);
    const linksBefore = links();
    const r = await runChild(childScript(ids, 'many', 'kill', ['8080']));
    assert.equal(r.code, null); // SIGKILL after attach
    const during = iptablesSnapshot(env, ids);
    assert.ok(during.lines.length > before.lines.length);
    assert.equal(listRecords(env.m.ctx).length, 2);
    const report = await env.m.sweep(() => false);
    assert.deepEqual(report.attachments.sort(), ids);
    const afterSnap = iptablesSnapshot(env, ids);
    assert.deepEqual(afterSnap.lines, before.lines);
    assert.deepEqual([...during.chains].filter((c) => !SHARED_CHAINS.has(c) && afterSnap.declared.has(c)), []);
    assert.deepEqual(links().filter((l) => !linksBefore.includes(l)), []);
    assert.deepEqual((existsSync(env.m.ctx.layout.runDir) ? readdirSync(env.m.ctx.layout.runDir) : []) /* released once empty */, []);
    assert.deepEqual(listCache(env.m.ctx.layout), []);
  });

  /**
   * Kills an attach `at` ms in, or while the plugin named `at` runs, sweeps, and checks that nothing
   * of it is left.
   */
  async function killMidAttach(at: number | string): Promise<void> {
    const delay = at;
    const ids = [`mid${typeof at === 'number' ? at : at.replace(/\W/g, '')}x`];
    const before = iptablesSnapshot(env, ids);
    const linksBefore = links();
    const c = spawn(NODE, [childScript(ids, 'many', 'exit', ['8080'])], { stdio: 'ignore', detached: true });
    if (typeof at === 'number') await sleep(at);
    else {
      // the plugin's process, a child of the engine's: poll for it, then kill it mid-run
      const end = Date.now() + 20_000;
      while (Date.now() < end && spawnSync('pgrep', ['-P', String(c.pid), '-x', at]).status !== 0) await sleep(2);
      assert.ok(Date.now() < end, `the ${at} plugin never ran`);
    }
    try {
      process.kill(-c.pid!, 'SIGKILL'); // the engine and any plugin it was running
    } catch {
      // already done
    }
    await new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.on('close', r)));
    await sleep(200);
    await env.m.sweep(() => false);
    const afterSnap = iptablesSnapshot(env, ids);
    assert.deepEqual(afterSnap.lines, before.lines, `after a kill at ${delay} ms`);
    assert.deepEqual(links().filter((l) => !linksBefore.includes(l)), [], `links after a kill at ${delay} ms`);
    assert.deepEqual((existsSync(env.m.ctx.layout.runDir) ? readdirSync(env.m.ctx.layout.runDir) : []) /* released once empty */, []);
    assert.deepEqual(listRecords(env.m.ctx), []);
    assert.deepEqual(listCache(env.m.ctx.layout), []);
    const alloc = spawnSync('ls', [path.join(env.m.ctx.layout.ipamDir, 'many')], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(alloc, /10\.89\./, `no address still allocated after a kill at ${delay} ms`);
  }

  it('killed in the middle of an attach: sweep leaves nothing (early moments)', async () => {
    for (const delay of [150, 400]) await killMidAttach(delay);
  });

  // Each plugin's DEL finds what to remove by the container ID, the pinned namespace and the cached
  // capability arguments, without an ADD result. (The firewall plugin, whose per-address rules an
  // interrupted ADD left behind for want of that result, is no longer in the chain.)
  it('killed while the bridge or the portmap plugin runs: sweep leaves nothing', async () => {
    await killMidAttach('bridge');
    await killMidAttach('portmap');
  });
});
