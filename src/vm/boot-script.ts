/**
 * The guest agent's boot script (/berth/boot in the initramfs): NUL-separated operations that
 * the agent runs in order. All the choices are made here; the C side only executes them.
 *   mount src dst fstype flags data   (dst created if missing; flags are MS_* in decimal)
 *   module path params                (finit_module)
 *   port name timeout_ms              (wait for the virtio-serial port's name, then open it)
 *   root dir                          (move dir over / and chroot into it)
 */

/** The virtio-serial port name the agent waits for; QEMU's virtserialport gets the same. */
export const AGENT_PORT = 'io.berth.agent';
/** The 9p mount tag of the container root share. */
export const ROOT_TAG = 'berthroot';
/** Where the container root is mounted in the initramfs before it becomes `/`. */
const NEWROOT = '/newroot';

const NOSUID = 2;
const NODEV = 4;
const NOEXEC = 8;

export type BootOp =
  | { op: 'mount'; src: string; dst: string; fstype: string; flags: number; data: string }
  | { op: 'module'; path: string; params: string }
  | { op: 'port'; name: string; timeoutMs: number }
  | { op: 'root'; dir: string };

export interface BootPlan {
  /** Module paths inside the initramfs, in load order. */
  modules: string[];
  /** 9p msize (bytes per request); larger is faster for big reads. */
  msize?: number;
  portTimeoutMs?: number;
}

/** The steps of a boot: early mounts, modules, the port, the 9p root and its API filesystems. */
export function bootOps(plan: BootPlan): BootOp[] {
  const m = (src: string, dst: string, fstype: string, flags: number, data = ''): BootOp => ({ op: 'mount', src, dst, fstype, flags, data });
  const r = (p: string): string => `${NEWROOT}${p}`;
  return [
    m('devtmpfs', '/dev', 'devtmpfs', NOSUID),
    m('sysfs', '/sys', 'sysfs', NOSUID | NODEV | NOEXEC),
    ...plan.modules.map((path): BootOp => ({ op: 'module', path, params: '' })),
    { op: 'port', name: AGENT_PORT, timeoutMs: plan.portTimeoutMs ?? 30_000 },
    // cache=mmap: nothing cached but what shared writable mmaps need, so host-side changes show at once
    m(ROOT_TAG, NEWROOT, '9p', 0, `trans=virtio,version=9p2000.L,msize=${plan.msize ?? 262144},cache=mmap`),
    m('proc', r('/proc'), 'proc', NOSUID | NODEV | NOEXEC),
    m('sysfs', r('/sys'), 'sysfs', NOSUID | NODEV | NOEXEC),
    m('devtmpfs', r('/dev'), 'devtmpfs', NOSUID),
    m('devpts', r('/dev/pts'), 'devpts', NOSUID | NOEXEC, 'newinstance,ptmxmode=0666,mode=0620,gid=5'),
    m('tmpfs', r('/dev/shm'), 'tmpfs', NOSUID | NODEV | NOEXEC, 'mode=1777'),
    m('cgroup2', r('/sys/fs/cgroup'), 'cgroup2', NOSUID | NODEV | NOEXEC),
    { op: 'root', dir: NEWROOT },
  ];
}

export function encodeBootOps(ops: BootOp[]): Buffer {
  const words: string[] = [];
  for (const o of ops) {
    switch (o.op) {
      case 'mount':
        words.push('mount', o.src, o.dst, o.fstype, String(o.flags), o.data);
        break;
      case 'module':
        words.push('module', o.path, o.params);
        break;
      case 'port':
        words.push('port', o.name, String(o.timeoutMs));
        break;
      case 'root':
        words.push('root', o.dir);
        break;
    }
  }
  for (const w of words) if (w.includes('\0')) throw new RangeError('NUL in a boot script word');
  return Buffer.from(words.map((w) => `${w}\0`).join(''));
}
