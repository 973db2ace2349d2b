/**
 * Finding what crashed berth processes left behind, for `system prune`: runtime state, cgroups,
 * root filesystem leases and name claims that no container record owns any more. Only things
 * under this engine's root (and its `berth/<id>` cgroups) are touched.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Engine } from './engine.ts';
import { containerState } from './state.ts';

export interface SweepResult {
  runtimeStates: string[];
  cgroups: string[];
  leases: string[];
  names: string[];
  /** /tmp/berth-vm-* of VM containers that are gone or whose monitor died (src/engine/vm-start.ts) */
  vms: string[];
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export async function sweepStrays(engine: Engine): Promise<SweepResult> {
  const ids = new Set(engine.records.ids());
  const res: SweepResult = { runtimeStates: [], cgroups: [], leases: [], names: [], vms: [] };
  // VM containers whose monitor died hard: the root mount, QEMU, the backend's temp dir
  const vm = await import('./vm-start.ts');
  for (const rec of engine.records.list()) if (rec.HostConfig.Isolation === 'vm') await vm.vmLeftovers(engine, rec);
  res.vms = vm.sweepVmRunDirs(engine);
  for (const id of engine.runtime.root.ids()) {
    if (ids.has(id)) continue;
    await engine.releaseRuntime(id);
    res.runtimeStates.push(id);
  }
  // cgroups named after containers of this root that are not running (their monitor died with them)
  const running = new Set(engine.records.list().filter((r) => containerState(engine, r).Running).map((r) => r.Id));
  const candidates = new Set<string>();
  for (const h of list('/sys/fs/cgroup')) for (const id of list(path.join('/sys/fs/cgroup', h, 'berth'))) if (/^[a-f0-9]{64}$/.test(id)) candidates.add(id);
  for (const id of candidates) {
    if (running.has(id) || !(ids.has(id) || existsLease(engine, id))) continue;
    const cg = engine.runtime.cgroups({ cgroupsPath: `berth/${id}` });
    try {
      cg.killAll('SIGKILL');
      cg.destroy();
      res.cgroups.push(id);
    } catch {
      /* busy: left for the next prune */
    }
  }
  const rm = await engine.rootfsManager();
  for (const dir of list(rm.store.layout.rootfsDir)) {
    if (ids.has(dir)) continue;
    await rm.remove(dir);
    res.leases.push(dir);
  }
  for (const name of list(engine.layout.namesDir)) {
    let owner = '';
    try {
      owner = readFileSync(engine.layout.name(name), 'utf8');
    } catch {
      continue;
    }
    if (ids.has(owner)) continue;
    rmSync(engine.layout.name(name), { force: true });
    res.names.push(name);
  }
  return res;
}

/** A cgroup is ours to sweep only if this root knew the container (record or lease). */
function existsLease(engine: Engine, id: string): boolean {
  try {
    readFileSync(path.join(engine.root, 'rootfs', id, 'lease.json'));
    return true;
  } catch {
    return false;
  }
}
