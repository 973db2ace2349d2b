/** `stats`, `top`, `pause`/`unpause`, `rename`, `container prune`. */
import { spawnSync } from 'node:child_process';
import { BadStateError, SystemError } from '../common/errors.ts';
import { pause as runtimePause, resume as runtimeResume } from '../runtime/list.ts';
import type { Engine } from './engine.ts';
import { removeContainer } from './lifecycle.ts';
import type { ContainerRecord } from './record.ts';
import { containerState } from './state.ts';

export interface StatsSample {
  id: string;
  name: string;
  cpuPercent: number;
  memUsage: number;
  memLimit: number | null;
  memPercent: number;
  pids: number;
  blockRead: number;
  blockWrite: number;
}

/** Two cgroup readings `intervalMs` apart: CPU % as Docker computes it (of one core = 100%). */
export async function statsSample(engine: Engine, rec: ContainerRecord, intervalMs = 500): Promise<StatsSample> {
  const st = containerState(engine, rec);
  const base = { id: rec.Id, name: rec.Name.replace(/^\//, '') };
  if (!st.Running) return { ...base, cpuPercent: 0, memUsage: 0, memLimit: null, memPercent: 0, pids: 0, blockRead: 0, blockWrite: 0 };
  const cg = engine.runtime.cgroups({ cgroupsPath: `berth/${rec.Id}` });
  const a = cg.stats();
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, intervalMs));
  const b = cg.stats();
  const elapsed = Number(process.hrtime.bigint() - t0);
  const limit = b.memory.limit;
  return {
    ...base,
    cpuPercent: elapsed > 0 ? ((b.cpu.usageNs - a.cpu.usageNs) / elapsed) * 100 : 0,
    memUsage: b.memory.usage,
    memLimit: limit,
    memPercent: limit ? (b.memory.usage / limit) * 100 : 0,
    pids: b.pids.current,
    blockRead: b.blkio.readBytes,
    blockWrite: b.blkio.writeBytes,
  };
}

export function topContainer(engine: Engine, rec: ContainerRecord, psArgs: string[]): string {
  const st = containerState(engine, rec);
  if (!st.Running) throw new BadStateError(`container ${rec.Id.slice(0, 12)} is not running`);
  const pids = new Set(engine.runtime.cgroups({ cgroupsPath: `berth/${rec.Id}` }).pids());
  const r = spawnSync('ps', psArgs.length ? psArgs : ['-ef'], { encoding: 'utf8' });
  if (r.status !== 0) throw new SystemError(`ps failed: ${r.stderr.trim()}`);
  const [header = '', ...rows] = r.stdout.split('\n');
  const col = header.trim().split(/\s+/).indexOf('PID');
  return [header, ...rows.filter((l) => l.trim() && pids.has(Number(l.trim().split(/\s+/)[col])))].join('\n') + '\n';
}

export function pauseContainer(engine: Engine, rec: ContainerRecord): void {
  if (containerState(engine, rec).Status !== 'running') throw new BadStateError(`Container ${rec.Id.slice(0, 12)} is not running`);
  runtimePause(engine.runtime, rec.Id);
}

export function unpauseContainer(engine: Engine, rec: ContainerRecord): void {
  if (containerState(engine, rec).Status !== 'paused') throw new BadStateError(`Container ${rec.Id.slice(0, 12)} is not paused`);
  runtimeResume(engine.runtime, rec.Id);
}

export function renameContainer(engine: Engine, rec: ContainerRecord, newName: string): void {
  const name = newName.replace(/^\//, '');
  engine.records.claimName(name, rec.Id);
  const old = rec.Name.replace(/^\//, '');
  rec.Name = `/${name}`;
  engine.records.save(rec);
  engine.records.releaseName(old, rec.Id);
}

export async function pruneContainers(engine: Engine): Promise<string[]> {
  const removed: string[] = [];
  for (const rec of engine.records.list()) {
    const st = containerState(engine, rec);
    if (st.Status !== 'exited' && st.Status !== 'created' && st.Status !== 'dead') continue;
    if (st.Status === 'created') continue; // Docker prunes stopped containers only
    await removeContainer(engine, rec);
    removed.push(rec.Id);
  }
  return removed;
}
