/**
 * Where the network library keeps its state. Definitions live where the engine's other records
 * live (`<root>/networks/<name>.json`); per-container state, host-local's allocations and the CNI
 * result cache go under `<root>/network-state/`, so one `rm -rf` of the root forgets everything.
 * Network namespaces are pinned on a tmpfs run dir, as `ip netns` does under /run/netns: after a
 * reboot they are gone, and so must be the records (the sweep reconciles the two).
 *
 *   <root>/networks/<name>.json                   definitions
 *   <root>/networks/.lock                         flock(2): every read-modify-write of the state
 *   <root>/network-state/ipam/<network>/          host-local's dataDir (its own lock per network)
 *   <root>/network-state/cache/<cid>/<net>.json   CNI config + ADD result, for DEL after a crash
 *   <root>/network-state/containers/<cid>.json    attachment records
 *   <root>/network-state/files/<cid>/             hosts, hostname, resolv.conf (bind-mounted)
 *   <root>/network-state/retired.json             bridges of removed networks not yet deleted
 *   <runDir>/<cid>                                network namespace bind mounts (runDirFor)
 */
import { createHash } from 'node:crypto';
import path from 'node:path';

export const DEFAULT_ROOT = '/var/lib/berth';
export const DEFAULT_RUN_DIR = '/run/berth/netns';

/**
 * Each engine root pins its namespaces in its own run dir: the sweep removes every pin its root
 * cannot explain, so two roots (a test's and the real one) must never share one.
 */
export function runDirFor(root: string): string {
  const abs = path.resolve(root);
  if (abs === DEFAULT_ROOT) return DEFAULT_RUN_DIR;
  return `${DEFAULT_RUN_DIR}-${createHash('sha256').update(abs).digest('hex').slice(0, 12)}`;
}

export class NetworkLayout {
  readonly root: string;
  readonly runDir: string;
  constructor(root: string, runDir: string = runDirFor(root)) {
    this.root = path.resolve(root);
    this.runDir = path.resolve(runDir);
  }
  get networksDir(): string {
    return path.join(this.root, 'networks');
  }
  get lockFile(): string {
    return path.join(this.networksDir, '.lock');
  }
  network(name: string): string {
    return path.join(this.networksDir, `${name}.json`);
  }
  get stateDir(): string {
    return path.join(this.root, 'network-state');
  }
  get ipamDir(): string {
    return path.join(this.stateDir, 'ipam');
  }
  get cacheDir(): string {
    return path.join(this.stateDir, 'cache');
  }
  cache(containerId: string, network: string): string {
    return path.join(this.cacheDir, containerId, `${network}.json`);
  }
  get containersDir(): string {
    return path.join(this.stateDir, 'containers');
  }
  container(containerId: string): string {
    return path.join(this.containersDir, `${containerId}.json`);
  }
  files(containerId: string): string {
    return path.join(this.stateDir, 'files', containerId);
  }
  get retiredFile(): string {
    return path.join(this.stateDir, 'retired.json');
  }
  get filesDir(): string {
    return path.join(this.stateDir, 'files');
  }
  netns(containerId: string): string {
    return path.join(this.runDir, containerId);
  }
}
