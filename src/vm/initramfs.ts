/**
 * The guest's initramfs: berth-helper as /init (it becomes the agent as PID 1), the modules it
 * loads, its boot script and /dev/console (without that node the kernel starts init with no
 * stdin/stdout/stderr). Cached by the digest of the archive's content.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../store/atomic.ts';
import { bootOps, encodeBootOps } from './boot-script.ts';
import { ensureDir, sha256, statIdentity } from './cache.ts';
import { cpioArchive, withParents, type CpioEntry } from './cpio.ts';
import { guestModules, readModule, type GuestModule } from './modules.ts';

/** Bumped when the layout of the archive changes, so old index entries are not reused. */
const FORMAT = 'berth-initramfs-1';

export interface InitramfsSpec {
  /** The static berth-helper binary. */
  agent: string;
  /** Guest kernel release: which /lib/modules/<release> to take modules from. */
  release: string;
  modulesRoot?: string;
  msize?: number;
}

interface Layout {
  mods: GuestModule[];
  modPaths: string[];
  boot: Buffer;
}

function layout(spec: InitramfsSpec): Layout {
  const mods = guestModules(spec.release, undefined, spec.modulesRoot);
  const modPaths = mods.map((m, i) => `/berth/modules/${String(i).padStart(2, '0')}-${m.name}.ko`);
  return { mods, modPaths, boot: encodeBootOps(bootOps({ modules: modPaths, msize: spec.msize })) };
}

/** The archive's entries (pure but for reading the files named in `spec`). */
export function initramfsEntries(spec: InitramfsSpec, l = layout(spec)): CpioEntry[] {
  const entries: CpioEntry[] = [
    { type: 'dir', path: 'dev' },
    { type: 'chardev', path: 'dev/console', major: 5, minor: 1, mode: 0o600 },
    { type: 'dir', path: 'sys' },
    { type: 'dir', path: 'proc' },
    { type: 'file', path: 'init', data: readFileSync(spec.agent), mode: 0o755 },
    { type: 'file', path: 'berth/boot', data: l.boot },
    ...l.mods.map((m, i): CpioEntry => ({ type: 'file', path: l.modPaths[i]!, data: readModule(spec.release, m, spec.modulesRoot) })),
  ];
  return withParents(entries);
}

/**
 * The initramfs file for `spec`, built now if the cache does not have this exact content.
 * The archive is named by its digest; an index keyed by the inputs' identities (path, inode,
 * size, mtime) finds it without re-reading the agent and modules on every boot.
 */
export function prepareInitramfs(spec: InitramfsSpec, cacheDir: string): string {
  const dir = ensureDir(path.join(cacheDir, 'initramfs'));
  const modulesDir = path.join(spec.modulesRoot ?? '/lib/modules', spec.release);
  const l = layout(spec);
  const inputs = [FORMAT, statIdentity(spec.agent), ...l.mods.map((m) => statIdentity(path.join(modulesDir, m.file))), l.boot.toString('base64')];
  const index = path.join(ensureDir(path.join(dir, 'index')), sha256(inputs.join('\n')));
  try {
    const known = path.join(dir, `${readFileSync(index, 'utf8').trim()}.cpio`);
    if (existsSync(known)) return known;
  } catch {
    // not indexed yet
  }
  const archive = cpioArchive(initramfsEntries(spec, l));
  const digest = sha256(archive);
  const file = path.join(dir, `${digest}.cpio`);
  if (!existsSync(file)) writeFileAtomic(file, archive);
  writeFileAtomic(index, `${digest}\n`);
  return file;
}
