/**
 * Loading and attaching the cgroup v2 device filter with bpf(2). Node has no binding for it, so
 * this goes through koffi's libc `syscall()`. koffi is required lazily (the cgroup API is
 * synchronous, and hosts that never use v2 devices never pay for loading the FFI).
 *
 * The program replaces any earlier one on the same cgroup: the new program is attached first
 * (BPF_F_ALLOW_MULTI) and the old ones detached after, so there is no moment without a filter.
 */
import { closeSync, openSync, constants as FS } from 'node:fs';
import { createRequire } from 'node:module';
import { constants as OS } from 'node:os';
import { SystemError } from '../common/errors.ts';
import type koffiModule from 'koffi';

type Koffi = typeof koffiModule;
type SyscallFn = (nr: number, ...args: unknown[]) => number | bigint;

const NR_BPF: Partial<Record<string, number>> = { x64: 321, arm64: 280, riscv64: 280, loong64: 280 };
const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_DETACH = 9;
const BPF_PROG_GET_FD_BY_ID = 13;
const BPF_PROG_QUERY = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
const BPF_CGROUP_DEVICE = 6;
const BPF_F_ALLOW_MULTI = 2;
const RLIMIT_MEMLOCK = 8;
/** The kernel only checks that the license is GPL-compatible for GPL-only helpers, which this program does not call. */
const LICENSE = 'Apache';

let ffi: { koffi: Koffi; syscall: SyscallFn; setrlimit: (res: number, lim: Buffer) => number } | undefined;

function load(): NonNullable<typeof ffi> {
  if (ffi) return ffi;
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  const libc = koffi.load('libc.so.6');
  ffi = {
    koffi,
    syscall: libc.func('long syscall(long nr, ...)') as SyscallFn,
    setrlimit: libc.func('int setrlimit(int resource, const void *rlim)') as (res: number, lim: Buffer) => number,
  };
  return ffi;
}

const ERRNO_NAMES = new Map(Object.entries(OS.errno).map(([name, n]) => [n, name]));

/** A zeroed buffer whose memory is off the V8 heap, so its address stays valid during the call. */
function stable(size: number): Buffer {
  return Buffer.from(new ArrayBuffer(size));
}

class BpfError extends Error {
  readonly errno: number;
  constructor(cmd: string, errno: number) {
    super(`bpf(${cmd}): ${ERRNO_NAMES.get(errno) ?? `errno ${errno}`}`);
    this.errno = errno;
  }
}

function bpf(cmd: number, name: string, attr: Buffer): number {
  const f = load();
  const nr = NR_BPF[process.arch];
  if (nr === undefined) throw new SystemError(`bpf(2) is not wired up for ${process.arch}`);
  const ret = Number(f.syscall(nr, 'int', cmd, 'void *', attr, 'uint', attr.length));
  if (ret < 0) throw new BpfError(name, f.koffi.errno());
  return ret;
}

function loadProgram(program: Uint8Array, logSize: number): number {
  const f = load();
  const insns = stable(program.length);
  insns.set(program);
  const license = stable(LICENSE.length + 1);
  license.write(LICENSE);
  const log = stable(Math.max(logSize, 1));
  const attr = stable(72);
  attr.writeUInt32LE(BPF_PROG_TYPE_CGROUP_DEVICE, 0);
  attr.writeUInt32LE(program.length / 8, 4);
  attr.writeBigUInt64LE(f.koffi.address(insns), 8);
  attr.writeBigUInt64LE(f.koffi.address(license), 16);
  if (logSize > 0) {
    attr.writeUInt32LE(1, 24);
    attr.writeUInt32LE(logSize, 28);
    attr.writeBigUInt64LE(f.koffi.address(log), 32);
  }
  attr.write('berth_devices', 48);
  try {
    return bpf(BPF_PROG_LOAD, 'BPF_PROG_LOAD', attr);
  } catch (err) {
    if (err instanceof BpfError && logSize > 0) {
      const text = log.toString('utf8', 0, log.indexOf(0) < 0 ? log.length : log.indexOf(0));
      const last = text.trim().split('\n').at(-1);
      if (last) err.message += ` (verifier: ${last})`;
    }
    throw err;
  }
}

function queryPrograms(dirFd: number): number[] {
  const f = load();
  let count = 64;
  for (let attempt = 0; attempt < 4; attempt++) {
    const ids = stable(count * 4);
    const attr = stable(32);
    attr.writeUInt32LE(dirFd, 0);
    attr.writeUInt32LE(BPF_CGROUP_DEVICE, 4);
    attr.writeBigUInt64LE(f.koffi.address(ids), 16);
    attr.writeUInt32LE(count, 24);
    try {
      bpf(BPF_PROG_QUERY, 'BPF_PROG_QUERY', attr);
    } catch (err) {
      if (err instanceof BpfError && err.errno === OS.errno.ENOSPC) {
        count = attr.readUInt32LE(24);
        continue;
      }
      throw err;
    }
    const n = attr.readUInt32LE(24);
    return Array.from({ length: n }, (_, i) => ids.readUInt32LE(i * 4));
  }
  throw new BpfError('BPF_PROG_QUERY', OS.errno.ENOSPC);
}

function attachAttr(dirFd: number, progFd: number, flags: number): Buffer {
  const attr = stable(20);
  attr.writeUInt32LE(dirFd, 0);
  attr.writeUInt32LE(progFd, 4);
  attr.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
  attr.writeUInt32LE(flags, 12);
  return attr;
}

function detachById(dirFd: number, id: number): void {
  const attr = stable(12);
  attr.writeUInt32LE(id, 0);
  let progFd: number;
  try {
    progFd = bpf(BPF_PROG_GET_FD_BY_ID, 'BPF_PROG_GET_FD_BY_ID', attr);
  } catch (err) {
    if (err instanceof BpfError && err.errno === OS.errno.ENOENT) return; // already gone
    throw err;
  }
  try {
    bpf(BPF_PROG_DETACH, 'BPF_PROG_DETACH', attachAttr(dirFd, progFd, 0));
  } finally {
    closeSync(progFd);
  }
}

function loadWithMemlock(program: Uint8Array): number {
  try {
    return loadProgram(program, 0);
  } catch (err) {
    if (!(err instanceof BpfError)) throw err;
    if (err.errno === OS.errno.EPERM) {
      // Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; raise it only when that is the problem.
      const unlimited = stable(16);
      unlimited.fill(0xff);
      load().setrlimit(RLIMIT_MEMLOCK, unlimited);
    }
    return loadProgram(program, 1 << 16);
  }
}

/**
 * Installs `program` (see src/cgroups/device-filter.ts) as the device filter of `cgroupDir`,
 * replacing any program attached there before.
 */
export function attachDeviceFilter(cgroupDir: string, program: Uint8Array): void {
  if (program.length === 0 || program.length % 8 !== 0) throw new SystemError('invalid eBPF program length');
  let dirFd: number;
  try {
    dirFd = openSync(cgroupDir, FS.O_RDONLY | FS.O_DIRECTORY);
  } catch (err) {
    throw new SystemError(`cannot open cgroup ${cgroupDir} to attach the device filter`, { cause: err });
  }
  let progFd = -1;
  try {
    const old = queryPrograms(dirFd);
    progFd = loadWithMemlock(program);
    bpf(BPF_PROG_ATTACH, 'BPF_PROG_ATTACH', attachAttr(dirFd, progFd, BPF_F_ALLOW_MULTI));
    for (const id of old) detachById(dirFd, id);
  } catch (err) {
    throw new SystemError(`cannot install the device filter on ${cgroupDir}: ${(err as Error).message}`, { cause: err });
  } finally {
    if (progFd >= 0) closeSync(progFd);
    closeSync(dirFd);
  }
}

/** Ids of the device programs attached directly to `cgroupDir` (for tests and diagnostics). */
export function attachedDeviceFilters(cgroupDir: string): number[] {
  const dirFd = openSync(cgroupDir, FS.O_RDONLY | FS.O_DIRECTORY);
  try {
    return queryPrograms(dirFd);
  } catch (err) {
    throw new SystemError(`cannot list the device filters of ${cgroupDir}: ${(err as Error).message}`, { cause: err });
  } finally {
    closeSync(dirFd);
  }
}
