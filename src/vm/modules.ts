/**
 * Kernel modules the guest needs. Debian builds every virtio driver and filesystem as a
 * module, so the initramfs carries them and the agent loads them with finit_module in
 * dependency order. Modules are stored uncompressed: the agent never decompresses, and a
 * kernel can only load compressed modules when built with that support.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { NotFoundError, SystemError } from '../common/errors.ts';

/** What the agent needs: virtio-mmio transport, the agent's serial port, the 9p root share. */
export const AGENT_MODULES = ['virtio_mmio', 'virtio_console', '9pnet_virtio', '9p'];

export interface GuestModule {
  name: string;
  /** The file on the host, relative to /lib/modules/<release>. */
  file: string;
}

function modName(file: string): string {
  return path.basename(file).replace(/\.ko(\.(xz|zst|gz))?$/, '').replaceAll('-', '_');
}

/**
 * `names` and all they depend on, dependencies first, from modules.dep text. Built-in modules
 * (modules.builtin) need no loading and are left out.
 */
export function resolveModules(names: string[], depText: string, builtinText = ''): GuestModule[] {
  const deps = new Map<string, { file: string; deps: string[] }>();
  for (const line of depText.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const file = line.slice(0, colon).trim();
    deps.set(modName(file), { file, deps: line.slice(colon + 1).trim().split(/\s+/).filter(Boolean) });
  }
  const builtin = new Set(builtinText.split('\n').filter(Boolean).map(modName));
  const out: GuestModule[] = [];
  const done = new Set<string>();
  const visit = (name: string, chain: string[]): void => {
    const n = name.replaceAll('-', '_');
    if (done.has(n) || builtin.has(n)) return;
    if (chain.includes(n)) throw new SystemError(`module dependency cycle: ${[...chain, n].join(' -> ')}`);
    const entry = deps.get(n);
    if (!entry) throw new NotFoundError(`kernel module ${n} is not in modules.dep`, 'is the guest kernel\'s module package installed?');
    for (const d of entry.deps) visit(modName(d), [...chain, n]);
    done.add(n);
    out.push({ name: n, file: entry.file });
  };
  for (const name of names) visit(name, []);
  return out;
}

/** Resolves against /lib/modules/<release>. */
export function guestModules(release: string, names = AGENT_MODULES, modulesRoot = '/lib/modules'): GuestModule[] {
  const dir = path.join(modulesRoot, release);
  let depText: string;
  try {
    depText = readFileSync(path.join(dir, 'modules.dep'), 'utf8');
  } catch {
    throw new NotFoundError(`no modules for guest kernel ${release} in ${modulesRoot}`, 'install the kernel package that matches the guest kernel');
  }
  let builtin = '';
  try {
    builtin = readFileSync(path.join(dir, 'modules.builtin'), 'utf8');
  } catch {
    // none built in
  }
  return resolveModules(names, depText, builtin);
}

/** A module's bytes, uncompressed. */
export function readModule(release: string, mod: GuestModule, modulesRoot = '/lib/modules'): Buffer {
  const file = path.join(modulesRoot, release, mod.file);
  const data = readFileSync(file);
  if (file.endsWith('.ko')) return data;
  if (file.endsWith('.ko.zst')) return zstdDecompressSync(data);
  if (file.endsWith('.ko.gz')) return gunzipSync(data);
  if (file.endsWith('.ko.xz')) {
    const r = spawnSync('xz', ['-dc'], { input: data, maxBuffer: 1 << 28 });
    if (r.error || r.status !== 0) throw new SystemError(`cannot decompress ${file} with xz`, { hint: 'install xz-utils' });
    return r.stdout;
  }
  throw new SystemError(`unknown module format: ${file}`);
}
