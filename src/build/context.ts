/**
 * The build context: a directory, a tarball (plain or compressed, extracted into scratch space),
 * or `-` (stdin: a tarball, or else a Dockerfile with an empty context). `.dockerignore` is read
 * with @balena/dockerignore, a port of Docker's own matcher, so excluded files are invisible to
 * COPY and ADD exactly as in Docker.
 */
import { lstatSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import * as dockerignore from '@balena/dockerignore';
import type { Sys } from '../sys/types.ts';
import { BuildError } from './errors.ts';

export interface BuildContext {
  /** Absolute, real path of the context root. */
  dir: string;
  /** True when `rel` (relative to the root, `/`-separated) is excluded by .dockerignore. */
  ignored(rel: string): boolean;
  dockerfile: string;
  /** The Dockerfile's name for messages. */
  dockerfileName: string;
  cleanup(): void;
}

function isTar(head: Buffer): boolean {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true; // gzip
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return true; // zstd
  return head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar';
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

async function extract(sys: Sys, data: Buffer): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-build-ctx-'));
  const { unpackLayer } = await import('../unpack/unpack.ts');
  try {
    await unpackLayer(sys, Readable.from([data]), dir, { whiteouts: 'apply' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new BuildError(`cannot extract the build context: ${(err as Error).message.split('\n')[0]}`);
  }
  return dir;
}

export interface ContextOptions {
  /** `-f`: a path (relative to the working directory, else to the context), or `-` for stdin. */
  file?: string;
  stdin?: NodeJS.ReadableStream;
}

/** Opens the context named on the command line. */
export async function openContext(sys: Sys, spec: string, opts: ContextOptions = {}): Promise<BuildContext> {
  let dir: string;
  let temp = false;
  let dockerfile: string | undefined;
  const stdin = opts.stdin ?? process.stdin;
  if (spec === '-') {
    const data = await readAll(stdin);
    if (isTar(data)) {
      dir = await extract(sys, data);
    } else {
      dir = mkdtempSync(path.join(os.tmpdir(), 'berth-build-ctx-'));
      dockerfile = data.toString('utf8');
    }
    temp = true;
  } else {
    let st;
    try {
      st = statSync(spec);
    } catch {
      throw new BuildError(`unable to prepare context: path "${spec}" not found`);
    }
    if (st.isDirectory()) dir = realpathSync(spec);
    else {
      dir = await extract(sys, readFileSync(spec));
      temp = true;
    }
  }
  const cleanup = () => {
    if (temp) rmSync(dir, { recursive: true, force: true });
  };
  try {
    let name = 'Dockerfile';
    if (dockerfile === undefined) {
      if (opts.file === '-') dockerfile = (await readAll(stdin)).toString('utf8');
      else {
        const f = opts.file ?? 'Dockerfile';
        const candidates = path.isAbsolute(f) ? [f] : opts.file ? [path.resolve(f), path.join(dir, f)] : [path.join(dir, f)];
        const hit = candidates.find((c) => {
          try {
            return statSync(c).isFile();
          } catch {
            return false;
          }
        });
        if (!hit) throw new BuildError(`unable to prepare context: the Dockerfile (${f}) cannot be found`);
        dockerfile = readFileSync(hit, 'utf8');
        name = path.basename(hit);
      }
    }
    let patterns: string[] = [];
    try {
      patterns = readFileSync(path.join(dir, '.dockerignore'), 'utf8')
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'));
    } catch {
      /* no .dockerignore */
    }
    // a CommonJS module whose export is the factory: `default` under Node, the namespace under a bundler
    const mod = dockerignore as unknown as { default?: unknown };
    const factory = (typeof mod.default === 'function' ? mod.default : mod) as (o?: object) => { add(p: string[]): { ignores(p: string): boolean } };
    const ig = factory({}).add(patterns);
    return {
      dir,
      ignored: (rel) => (rel === '' || rel === '.' ? false : ig.ignores(rel)),
      dockerfile,
      dockerfileName: name,
      cleanup,
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** Context-relative `/`-separated path of `p` (cleaned), or an error when it leaves the context. */
export function contextPath(p: string): string {
  const clean = path.posix.normalize(`/${p}`).slice(1);
  const rel = path.posix.normalize(p.replace(/^\/+/, ''));
  if (rel === '..' || rel.startsWith('../')) throw new BuildError(`forbidden path outside the build context: ${p}`);
  return clean.replace(/\/$/, '');
}

/** lstat that answers undefined for a missing path. */
export function lstatOrUndefined(p: string) {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}
