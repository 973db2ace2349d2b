/**
 * Helpers for the network integration tests: a NetworkManager on a private root, run dir, bridge
 * prefix and subnets (so tests never touch a real engine's networks), "containers" that are bare
 * network namespaces with busybox httpd inside, and probes run inside a namespace with the
 * generated /etc/hosts and /etc/resolv.conf bind-mounted over the host's, as the engine will do.
 *
 * Debian's busybox-static cannot resolve names (static glibc NSS) and its wget crashes, so probes use
 * busybox `nc` for addresses and the host's curl/getent (dynamic glibc) for names.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NetworkManager } from '../../src/network/manager.ts';
import { cleanupNetworkHost } from '../../src/network/networks.ts';
import { listNetworks } from '../../src/network/definitions.ts';
import { listRecords } from '../../src/network/state.ts';
import { getSys } from '../../src/sys/index.ts';
import { MNT } from '../../src/sys/types.ts';

export const BUSYBOX = '/bin/busybox';

export function haveTools(): string | undefined {
  for (const t of ['/usr/lib/cni/bridge', '/usr/sbin/iptables-save', '/usr/bin/curl', '/usr/bin/nsenter', BUSYBOX])
    if (spawnSync('test', ['-x', t]).status !== 0) return `${t} is missing`;
  if (process.getuid?.() !== 0) return 'needs root';
  return undefined;
}

/** A random /24 out of 10.89.200.0-10.89.249.0, distinct per call within one process. */
const usedOctets = new Set<number>();
export function testSubnet(): { subnet: string; prefix: string } {
  let o: number;
  do o = 200 + Math.floor(Math.random() * 50);
  while (usedOctets.has(o));
  usedOctets.add(o);
  return { subnet: `10.89.${o}.0/24`, prefix: `10.89.${o}.` };
}

export interface TestEnv {
  dir: string;
  m: NetworkManager;
  bridgePrefix: string;
  subnets: string[];
  /** Child processes to kill at the end (httpds). */
  children: ChildProcess[];
  cleanup(): Promise<void>;
}

export async function testEnv(tag: string): Promise<TestEnv> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `berth-net-${tag}-`));
  const bridgePrefix = `bt${Math.random().toString(36).slice(2, 6)}`;
  const def = testSubnet();
  const m = await NetworkManager.open(path.join(dir, 'root'), { runDir: path.join(dir, 'run'), bridgePrefix, defaultSubnet: def.subnet, pool: '10.89.250.0/23' });
  const env: TestEnv = {
    dir,
    m,
    bridgePrefix,
    subnets: [def.subnet],
    children: [],
    async cleanup() {
      for (const c of env.children) c.kill('SIGKILL');
      for (const r of listRecords(m.ctx)) await m.detach(r.containerId).catch(() => {});
      await m.sweep(() => false).catch(() => {});
      for (const n of listNetworks(m.ctx.layout)) cleanupNetworkHost(m.ctx, n);
      const sys = await getSys();
      try {
        sys.umount2(m.ctx.layout.runDir, MNT.DETACH);
      } catch {
        // never mounted
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return env;
}

/** Starts busybox httpd on :8080 inside a namespace, serving `page`; resolves once it answers. */
export async function startHttpd(env: TestEnv, netns: string, page: string): Promise<void> {
  const www = mkdtempSync(path.join(env.dir, 'www-'));
  writeFileSync(path.join(www, 'index.html'), page);
  const child = spawn('nsenter', [`--net=${netns}`, BUSYBOX, 'httpd', '-f', '-p', '8080', '-h', www], { stdio: 'ignore' });
  env.children.push(child);
  for (let i = 0; i < 100; i++) {
    if (httpGet(netns, '127.0.0.1', 8080, 1) === page) return;
    await sleep(50);
  }
  throw new Error(`httpd in ${netns} did not come up`);
}

/** An HTTP GET with busybox nc from inside `netns` (or the host); the body, or null. */
export function httpGet(netns: string | null, ip: string, port: number, timeoutS = 2): string | null {
  const nc = [BUSYBOX, 'nc', '-w', String(timeoutS), ip, String(port)];
  const argv = netns ? ['nsenter', `--net=${netns}`, ...nc] : nc;
  const r = spawnSync(argv[0]!, argv.slice(1), { input: 'GET / HTTP/1.0\r\n\r\n', encoding: 'utf8', timeout: (timeoutS + 3) * 1000 });
  if (r.status !== 0 || !r.stdout.includes('200 OK')) return null;
  return r.stdout.slice(r.stdout.indexOf('\r\n\r\n') + 4);
}

/**
 * Runs a host command inside `netns` with the container's generated files mounted over /etc/hosts
 * and /etc/resolv.conf in a private mount namespace: what a process in the container would see.
 */
export function inContainer(netns: string, files: { hostsFile: string; resolvConf: string }, argv: string[], timeoutMs = 10_000) {
  const script = 'h=$1; r=$2; shift 2; mount --bind "$h" /etc/hosts && mount --bind "$r" /etc/resolv.conf && exec "$@"';
  return spawnSync('nsenter', [`--net=${netns}`, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', files.hostsFile, files.resolvConf, ...argv], {
    encoding: 'utf8',
    timeout: timeoutMs,
  });
}

/**
 * iptables-save reduced to the lines that can only be these tests' (their subnets, bridges or
 * container IDs), counters stripped, plus every chain those lines name: other developers' engines
 * and Podman may change unrelated rules at the same time.
 */
export function iptablesSnapshot(env: TestEnv, ids: readonly string[] = []): { lines: string[]; chains: Set<string>; declared: Set<string> } {
  const out = spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout;
  const needles = [env.bridgePrefix, ...env.subnets.map((s) => s.split('.').slice(0, 3).join('.') + '.'), ...ids];
  const all = out.split('\n').filter((l) => !l.startsWith('#'));
  const lines = all.filter((l) => needles.some((n) => l.includes(n))).map((l) => l.replace(/\[\d+:\d+\]/g, '')).sort();
  const chains = new Set<string>();
  for (const l of lines) for (const m of l.matchAll(/(?:-A|-j) (CNI-[A-Za-z0-9-]+)/g)) chains.add(m[1]!);
  const declared = new Set(all.filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]!));
  return { lines, chains, declared };
}

/** Chains the plugins keep for every container on the host (shared, never per container). */
export const SHARED_CHAINS = new Set(['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SETMARK', 'CNI-FORWARD', 'CNI-ADMIN', 'CNI-ISOLATION-STAGE-1', 'CNI-ISOLATION-STAGE-2']);

export function links(): string[] {
  return spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '')
    .filter(Boolean);
}

export function mkdirp(p: string): string {
  mkdirSync(p, { recursive: true });
  return p;
}
