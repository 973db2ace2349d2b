/**
 * The few things on the host that no CNI plugin removes: a network's bridge (bridge DEL leaves it
 * for the next container), the per-bridge isolation rules of the firewall plugin (its DEL leaves
 * them, it cannot know whether the bridge is still in use), veths whose namespace is pinned
 * elsewhere, and masquerading chains whose container namespace vanished before DEL (the bridge
 * plugin finds those through the interface inside the namespace), both from containers and networks
 * of earlier berth versions. And what berth keeps itself: each network's host rules (masquerading,
 * isolation, forwarding; see `ensureNetworkRules`). iproute2 and iptables do the work; berth only
 * decides what is needed and what is stale.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { SystemError } from '../common/errors.ts';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { PATH } });
  return { ok: r.status === 0, out: r.stdout ?? '' };
}

export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

export function deleteLink(name: string): boolean {
  return linkExists(name) && run('ip', ['link', 'delete', name]).ok;
}

/** Interfaces enslaved to a bridge (the host ends of the containers' veths). */
export function bridgePorts(bridge: string): string[] {
  try {
    return readdirSync(`/sys/class/net/${bridge}/brif`);
  } catch {
    return [];
  }
}

/** Splits an `iptables -S` line into arguments (double quotes group, as iptables prints comments). */
export function splitRule(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

function listRules(table: string, chain: string): string[][] {
  const r = run('iptables', ['-w', '-t', table, '-S', chain]);
  if (!r.ok) return [];
  return r.out.split('\n').filter((l) => l.startsWith('-A ')).map(splitRule);
}

function deleteRule(table: string, rule: string[]): void {
  run('iptables', ['-w', '-t', table, '-D', ...rule.slice(1)]);
}

const masqueradeComment = (bridge: string) => `berth masquerade ${bridge}`;
const isolationComment = (bridge: string) => `berth isolation ${bridge}`;
const forwardComment = (bridge: string) => `berth forward ${bridge}`;
/** berth's one chain in FORWARD: stage 1 of isolation at its top, the networks' ACCEPTs below. */
export const FORWARD = 'BERTH-FORWARD';
export const ISOLATION_2 = 'BERTH-ISOLATION-STAGE-2';

/** Docker's rule: traffic from the network's subnet that leaves by any other interface is masqueraded. */
export function masqueradeRule(bridge: string, subnet: string): string[] {
  return ['POSTROUTING', '-s', subnet, '!', '-o', bridge, '-m', 'comment', '--comment', masqueradeComment(bridge), '-j', 'MASQUERADE'];
}

/**
 * Docker's two-stage isolation (DOCKER-ISOLATION-STAGE-1/2): what enters from this bridge and
 * leaves by another goes to stage 2, where any berth bridge as the way out is dropped. Together,
 * no two berth networks reach each other, while each reaches the outside. Stage 1 lives at the top
 * of BERTH-FORWARD, so it always comes before the ACCEPTs.
 */
export function isolationRules(bridge: string): { stage1: string[]; stage2: string[] } {
  const c = ['-m', 'comment', '--comment', isolationComment(bridge)];
  return { stage1: [FORWARD, '-i', bridge, '!', '-o', bridge, ...c, '-j', ISOLATION_2], stage2: [ISOLATION_2, '-o', bridge, ...c, '-j', 'DROP'] };
}

/**
 * What a network may forward on hosts whose FORWARD policy drops (Docker's and netavark's
 * per-network ACCEPTs): all it sends, replies to it, and connections to its published ports.
 */
export function forwardRules(bridge: string): string[][] {
  const c = ['-m', 'comment', '--comment', forwardComment(bridge)];
  return [
    [FORWARD, '-i', bridge, ...c, '-j', 'ACCEPT'],
    [FORWARD, '-o', bridge, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', ...c, '-j', 'ACCEPT'],
    [FORWARD, '-o', bridge, '-m', 'conntrack', '--ctstate', 'DNAT', ...c, '-j', 'ACCEPT'],
  ];
}

function iptAsync(table: string, args: string[]): Promise<{ ok: boolean; err: string }> {
  return new Promise((resolve) => {
    execFile('iptables', ['-w', '-t', table, ...args], { env: { PATH }, encoding: 'utf8' }, (error, _out, err) => resolve({ ok: !error, err: (err || error?.message || '').trim() }));
  });
}

async function must(table: string, args: string[], what: string): Promise<void> {
  const r = await iptAsync(table, args);
  if (!r.ok) throw new SystemError(`cannot add ${what}: ${r.err.split('\n')[0] || 'iptables failed'}`);
}

/** Adds `rule` (chain first) unless it is there; `at` inserts at that position instead of appending. */
async function ensureRule(table: string, rule: string[], what: string, at?: number): Promise<void> {
  if ((await iptAsync(table, ['-C', ...rule])).ok) return;
  await must(table, at ? ['-I', rule[0]!, String(at), ...rule.slice(1)] : ['-A', ...rule], what);
}

/**
 * A network's host rules, kept per network as Docker and netavark keep them, not per container:
 * its isolation from the other berth networks, what it may forward, and (unless internal) the
 * masquerading of its subnet. Two `iptables -C` when they are in place (every container start,
 * run alongside the bridge plugin); the whole set otherwise (the network's first container, or
 * after the host's rules were flushed). Callers serialize.
 */
export async function ensureNetworkRules(bridge: string, subnet: string, internal: boolean): Promise<void> {
  const iso = isolationRules(bridge);
  const fwd = forwardRules(bridge);
  const [a, b] = await Promise.all([iptAsync('filter', ['-C', ...fwd[2]!]), internal ? { ok: true, err: '' } : iptAsync('nat', ['-C', ...masqueradeRule(bridge, subnet)])]);
  if (a.ok && b.ok) return;
  for (const chain of [FORWARD, ISOLATION_2]) {
    if (!(await iptAsync('filter', ['-S', chain])).ok) await must('filter', ['-N', chain], `chain ${chain}`);
  }
  await ensureRule('filter', [ISOLATION_2, '-j', 'RETURN'], `the RETURN of ${ISOLATION_2}`);
  await ensureRule('filter', ['FORWARD', '-j', FORWARD], 'the jump to berth forwarding', 1);
  await ensureRule('filter', iso.stage1, `the isolation rules of bridge ${bridge}`, 1);
  await ensureRule('filter', iso.stage2, `the isolation rules of bridge ${bridge}`, 1);
  for (const r of fwd) await ensureRule('filter', r, `the forwarding rules of bridge ${bridge}`);
  if (!internal) await ensureRule('nat', masqueradeRule(bridge, subnet), `the masquerading rule of bridge ${bridge}`);
}

function removeCommented(table: string, chain: string, comment: string): number {
  let n = 0;
  for (const rule of listRules(table, chain)) {
    const c = rule.indexOf('--comment');
    if (c >= 0 && rule[c + 1] === comment) {
      deleteRule(table, rule);
      n++;
    }
  }
  return n;
}

/** Removes a network's host rules, found by their comments (every copy, should two starts have raced). */
export function removeNetworkRules(bridge: string): number {
  return (
    removeCommented('nat', 'POSTROUTING', masqueradeComment(bridge)) +
    removeCommented('filter', FORWARD, isolationComment(bridge)) +
    removeCommented('filter', ISOLATION_2, isolationComment(bridge)) +
    removeCommented('filter', FORWARD, forwardComment(bridge))
  );
}

/** The per-network rules berth keeps itself; unit tests pass a fake instead of touching iptables. */
export interface HostRules {
  ensure(bridge: string, subnet: string, internal: boolean): Promise<void>;
  remove(bridge: string): number;
}

export const iptablesHostRules: HostRules = { ensure: ensureNetworkRules, remove: removeNetworkRules };

/** Removes the firewall plugin's isolation rules for one bridge (after the bridge is gone). */
export function removeIsolationRules(bridge: string): number {
  let n = 0;
  for (const chain of ['CNI-ISOLATION-STAGE-1', 'CNI-ISOLATION-STAGE-2']) {
    for (const rule of listRules('filter', chain)) {
      const i = rule.indexOf('-i');
      const o = rule.indexOf('-o');
      if ((i >= 0 && rule[i + 1] === bridge) || (o >= 0 && rule[o + 1] === bridge)) {
        deleteRule('filter', rule);
        n++;
      }
    }
  }
  return n;
}

/**
 * The bridge plugin's masquerading rules carry the comment `name: "<network>" id: "<container>"`
 * and jump to a per-container chain. Removes those of the given pairs: rule, then chain.
 */
export function removeMasqChains(stale: (network: string, containerId: string) => boolean): string[] {
  const removed: string[] = [];
  for (const rule of listRules('nat', 'POSTROUTING')) {
    const c = rule.indexOf('--comment');
    const j = rule.indexOf('-j');
    const m = c >= 0 ? /^name: "([^"]+)" id: "([^"]+)"$/.exec(rule[c + 1] ?? '') : null;
    if (!m || j < 0 || !stale(m[1]!, m[2]!)) continue;
    const chain = rule[j + 1]!;
    deleteRule('nat', rule);
    run('iptables', ['-w', '-t', 'nat', '-F', chain]);
    run('iptables', ['-w', '-t', 'nat', '-X', chain]);
    removed.push(`${m[1]}/${m[2]}`);
  }
  return removed;
}
