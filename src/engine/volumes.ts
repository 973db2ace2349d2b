/**
 * Named volumes: a directory per volume under the engine root (volumes/<name>/_data) with a small
 * metadata file, as Docker's local driver keeps them. A volume in use by any container (running
 * or not) cannot be removed.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AlreadyExistsError, BadStateError, InvalidArgumentError, NotFoundError } from '../common/errors.ts';
import type { Engine } from './engine.ts';

export interface VolumeInfo {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: 'local';
  Options: Record<string, string>;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

function meta(engine: Engine, name: string): string {
  return path.join(engine.layout.volume(name), 'volume.json');
}

export function createVolume(engine: Engine, name: string, labels: Record<string, string> = {}, opts: { exclusive?: boolean } = {}): VolumeInfo {
  if (!NAME_RE.test(name)) throw new InvalidArgumentError(`invalid volume name "${name}"`);
  const dir = engine.layout.volume(name);
  if (existsSync(meta(engine, name))) {
    if (opts.exclusive) throw new AlreadyExistsError(`volume "${name}" already exists`);
    return inspectVolume(engine, name);
  }
  mkdirSync(path.join(dir, '_data'), { recursive: true, mode: 0o755 });
  const info: VolumeInfo = { Name: name, Driver: 'local', Mountpoint: path.join(dir, '_data'), CreatedAt: new Date().toISOString(), Labels: labels, Scope: 'local', Options: {} };
  writeFileSync(meta(engine, name), JSON.stringify(info));
  return info;
}

export function inspectVolume(engine: Engine, name: string): VolumeInfo {
  try {
    return JSON.parse(readFileSync(meta(engine, name), 'utf8')) as VolumeInfo;
  } catch {
    throw new NotFoundError(`no such volume: ${name}`);
  }
}

export function listVolumes(engine: Engine): VolumeInfo[] {
  let names: string[] = [];
  try {
    names = readdirSync(engine.layout.volumesDir);
  } catch {
    return [];
  }
  return names.filter((n) => existsSync(meta(engine, n))).map((n) => inspectVolume(engine, n));
}

function usersOf(engine: Engine, name: string): string[] {
  return engine.records
    .list()
    .filter((r) => r.Mounts.some((m) => m.Type === 'volume' && m.Name === name))
    .map((r) => r.Id);
}

export function removeVolume(engine: Engine, name: string, force = false): void {
  inspectVolume(engine, name);
  const users = usersOf(engine, name);
  if (users.length && !force) throw new BadStateError(`remove ${name}: volume is in use - [${users.join(', ')}]`);
  rmSync(engine.layout.volume(name), { recursive: true, force: true });
}

/** Volumes no container refers to; Docker prunes only anonymous ones unless --all. */
export function pruneVolumes(engine: Engine, all = false): string[] {
  const removed: string[] = [];
  for (const v of listVolumes(engine)) {
    if (usersOf(engine, v.Name).length) continue;
    if (!all && !/^[a-f0-9]{64}$/.test(v.Name)) continue;
    rmSync(engine.layout.volume(v.Name), { recursive: true, force: true });
    removed.push(v.Name);
  }
  return removed;
}
