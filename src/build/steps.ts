/**
 * The steps that change files: RUN (in an engine container), COPY/ADD and WORKDIR (in a
 * workspace), and --squash. Each returns the layer's tar (from an overlay upper directory) for
 * `commitStep`, and a disposer to call once the layer is committed.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, chmodSync, lchownSync, readFileSync } from 'node:fs';
import type { Engine } from '../engine/engine.ts';
import { runImageCommand } from '../engine/build-run.ts';
import type { Store } from '../store/store.ts';
import type { ImageRecord } from '../store/images.ts';
import { BuildError } from './errors.ts';
import { dropMountpoints, upperToTar } from './diff.ts';
import { copyInto, type CopyOptions, type SourceItem } from './copy.ts';
import { openWorkspace } from './workspace.ts';
import type { StageImage } from './image.ts';
import { resolveInRoot } from './paths.ts';

export interface Changed {
  layer: AsyncIterable<Buffer>;
  dispose(): Promise<void>;
}

export interface RunStep {
  argv: string[];
  env: string[];
  workdir?: string;
  user?: string;
  network: 'none' | 'host';
  stdio: ['ignore', 'ignore' | number, 'ignore' | number];
  onContainer?: (id: string) => void;
}

/** RUN: the command in a container of the stage's image; a non-zero exit is a BuildError. */
export async function runStep(engine: Engine, image: StageImage, r: RunStep): Promise<Changed> {
  if (!image.id) throw new BuildError('RUN needs a base image with a shell: this stage has no files (FROM scratch)');
  const res = await runImageCommand(engine, {
    image: image.id.slice('sha256:'.length), // a full hex ID (a `sha256:` prefix parses as a name)
    argv: r.argv,
    env: r.env,
    workdir: r.workdir,
    user: r.user,
    network: r.network,
    stdio: r.stdio,
    onCreated: r.onContainer,
  });
  if (res.exitCode !== 0) {
    await res.remove();
    throw new BuildError(`The command '${r.argv.join(' ')}' returned a non-zero code: ${res.exitCode}`);
  }
  if (res.prepared.driver !== 'overlay') {
    await res.remove();
    throw new BuildError('berth build needs the overlay storage driver');
  }
  dropMountpoints(res.prepared.upper, res.prepared.lowerdirs, res.mountpoints);
  return { layer: upperToTar((await engine.store()).sys, res.prepared.upper), dispose: res.remove };
}

function lookupId(file: string | undefined, name: string, field: 2 | 3): number | undefined {
  for (const line of (file ?? '').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[field] !== undefined) return Number(f[field]);
  }
  return undefined;
}

/** `--chown=user[:group]` against the destination stage's /etc/passwd and /etc/group. */
export function resolveChown(spec: string, passwd: string | undefined, group: string | undefined): { uid: number; gid: number } {
  const [u, g] = spec.split(':', 2) as [string, string | undefined];
  const uid = /^\d+$/.test(u) ? Number(u) : lookupId(passwd, u, 2);
  if (uid === undefined) throw new BuildError(`unable to convert uid/gid chown string to host mapping: can't find uid for user ${u}: no such user: ${u}`);
  let gid = uid;
  if (g !== undefined && g !== '') {
    const n = /^\d+$/.test(g) ? Number(g) : lookupId(group, g, 2);
    if (n === undefined) throw new BuildError(`unable to convert uid/gid chown string to host mapping: can't find gid for group ${g}: no such group: ${g}`);
    gid = n;
  }
  return { uid, gid };
}

export interface CopyStep {
  items: SourceItem[];
  dest: string;
  chown?: string;
  chmod?: string;
  extract: boolean;
  keepOwners: boolean;
}

/** COPY/ADD into a workspace of the stage's image. */
export async function copyStep(store: Store, image: StageImage, c: CopyStep): Promise<Changed> {
  const ws = await openWorkspace(store, image);
  try {
    const read = (f: string) => {
      try {
        return readFileSync(resolveInRoot(ws.root, f), 'utf8');
      } catch {
        return undefined;
      }
    };
    const opts: CopyOptions = { dest: c.dest, extract: c.extract, keepOwners: c.keepOwners, sys: store.sys };
    if (c.chown) opts.chown = resolveChown(c.chown, read('/etc/passwd'), read('/etc/group'));
    if (c.chmod !== undefined) {
      if (!/^[0-7]{3,4}$/.test(c.chmod)) throw new BuildError(`invalid chmod parameter: ${c.chmod}`);
      opts.chmod = Number.parseInt(c.chmod, 8);
    }
    await copyInto(ws.root, c.items, opts);
    ws.close();
  } catch (err) {
    await ws.dispose();
    throw err;
  }
  return { layer: upperToTar(store.sys, ws.upper), dispose: ws.dispose };
}

/** USER as numeric ids, from the stage's /etc/passwd and /etc/group (a user's group is its primary one). */
export function resolveUserIds(user: string, passwd: string | undefined, group: string | undefined): { uid: number; gid: number } {
  const [u, g] = user.split(':', 2) as [string, string | undefined];
  let uid: number | undefined;
  let primary: number | undefined;
  for (const line of (passwd ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length < 4) continue;
    if (f[0] === u || (/^\d+$/.test(u) && f[2] === u)) {
      uid = Number(f[2]);
      primary = Number(f[3]);
      break;
    }
  }
  if (uid === undefined) {
    if (!/^\d+$/.test(u)) throw new BuildError(`unable to find user ${u}: no matching entries in passwd file`);
    uid = Number(u);
  }
  if (g === undefined || g === '') return { uid, gid: primary ?? 0 };
  if (/^\d+$/.test(g)) return { uid, gid: Number(g) };
  const gid = lookupId(group, g, 2);
  if (gid === undefined) throw new BuildError(`unable to find group ${g}: no matching entries in group file`);
  return { uid, gid };
}

/**
 * WORKDIR: a layer with the directory when the image lacks it, else nothing. Directories it
 * creates belong to the stage's USER, as in BuildKit and buildah.
 */
export async function workdirStep(store: Store, image: StageImage, dir: string, user?: string): Promise<Changed | undefined> {
  const ws = await openWorkspace(store, image);
  try {
    let exists = false;
    try {
      exists = lstatSync(resolveInRoot(ws.root, dir)).isDirectory();
    } catch {
      /* missing */
    }
    if (exists) {
      await ws.dispose();
      return undefined;
    }
    const read = (f: string) => {
      try {
        return readFileSync(resolveInRoot(ws.root, f), 'utf8');
      } catch {
        return undefined;
      }
    };
    mkdirs(ws.root, dir, user ? resolveUserIds(user, read('/etc/passwd'), read('/etc/group')) : { uid: 0, gid: 0 });
    ws.close();
  } catch (err) {
    await ws.dispose();
    throw err;
  }
  return { layer: upperToTar(store.sys, ws.upper), dispose: ws.dispose };
}

function mkdirs(root: string, dir: string, owner: { uid: number; gid: number }): void {
  let cur = '';
  for (const part of dir.split('/').filter(Boolean)) {
    cur += `/${part}`;
    const host = resolveInRoot(root, cur);
    try {
      if (!lstatSync(host).isDirectory()) throw new BuildError(`WORKDIR ${dir}: ${cur} is not a directory`);
    } catch (err) {
      if (err instanceof BuildError) throw err;
      mkdirSync(host, { mode: 0o755 });
      chmodSync(host, 0o755);
      lchownSync(host, owner.uid, owner.gid);
    }
  }
}

/** --squash: the layers above `baseLayers` replayed onto the base in a workspace: one diff. */
export async function squashLayers(store: Store, base: ImageRecord | undefined, top: ImageRecord): Promise<Changed> {
  const ws = await openWorkspace(store, { id: base?.id, record: base });
  try {
    const { unpackLayer } = await import('../unpack/unpack.ts');
    for (const l of top.layers.slice(base?.layers.length ?? 0))
      await unpackLayer(store.sys, store.content.open(l.digest), ws.root, { whiteouts: 'apply' });
    ws.close();
  } catch (err) {
    await ws.dispose();
    throw err;
  }
  return { layer: upperToTar(store.sys, ws.upper), dispose: ws.dispose };
}

export function newId(): string {
  return randomBytes(6).toString('hex');
}
