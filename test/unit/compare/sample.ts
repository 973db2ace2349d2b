/**
 * A report of the shape `berth compare` produces, for the renderers' unit tests. The figures are
 * a fixture (copied from one run on a development host), not expectations about any machine.
 */
import { compareNamespaces, foreignNamespaces, summarizeLatency } from '../../../src/compare/measure.ts';
import type { AvailableMode, CompareReport } from '../../../src/compare/report.ts';

const HOST_NS = { cgroup: 'cgroup:[1]', ipc: 'ipc:[2]', mnt: 'mnt:[3]', net: 'net:[4]', pid: 'pid:[5]', time: 'time:[6]', user: 'user:[7]', uts: 'uts:[8]' };
const CONTAINER_NS = { ...HOST_NS, cgroup: 'cgroup:[11]', ipc: 'ipc:[12]', mnt: 'mnt:[13]', net: 'net:[14]', pid: 'pid:[15]', uts: 'uts:[18]' };

function mode(m: Partial<AvailableMode> & Pick<AvailableMode, 'mode' | 'label'>): AvailableMode {
  return {
    available: true,
    command: 'true',
    latency: summarizeLatency([30, 36, 33]),
    memory: { idleKiB: 0, peakKiB: 0, of: 'none: the workload is a direct child of berth compare' },
    kernel: '6.18.44-host',
    namespaces: compareNamespaces(HOST_NS, HOST_NS, 'same'),
    memoryLimit: { limitMiB: 16, hogMiB: 48, enforced: false, exitCode: 0, detail: 'a 48 MiB hog ran to its end' },
    hostProcesses: { visible: true, inside: 94, host: 91 },
    accel: 'native',
    ...m,
  };
}

export function sampleReport(opts: { vmUnavailable?: string } = {}): CompareReport {
  return {
    image: 'busybox',
    runs: 3,
    generatedAt: '2026-01-01T00:00:00.000Z',
    host: { kernel: '6.18.44-host', cpu: 'Test CPU', cpus: 2, loadAverage: [9.5, 8, 7] },
    modes: [
      mode({ mode: 'chroot', label: 'chroot', command: 'chroot <busybox root> true' }),
      mode({
        mode: 'process',
        label: 'process (namespaces + cgroups)',
        latency: summarizeLatency([1650, 2800, 1580]),
        memory: { idleKiB: 344, peakKiB: 352, of: 'monitor (pid 10, comm berth-helper)' },
        namespaces: compareNamespaces(CONTAINER_NS, HOST_NS, "the container's /proc/self/ns"),
        memoryLimit: { limitMiB: 16, hogMiB: 48, enforced: true, exitCode: 137, detail: 'OOM-killed' },
        hostProcesses: { visible: false, inside: 3, host: 95 },
      }),
      opts.vmUnavailable
        ? { mode: 'vm', label: 'vm (micro-VM + image)', available: false, reason: opts.vmUnavailable }
        : mode({
            mode: 'vm',
            label: 'vm (micro-VM + image)',
            latency: summarizeLatency([3370, 4930, 4130]),
            memory: { idleKiB: 249856, peakKiB: 250000, of: 'QEMU (qemu-system-x86, pid 20)' },
            kernel: '6.1.0-56-amd64',
            namespaces: foreignNamespaces(HOST_NS, HOST_NS, 'own kernel'),
            memoryLimit: { limitMiB: 128, hogMiB: 384, enforced: true, exitCode: 137, detail: 'guest OOM' },
            hostProcesses: { visible: false, inside: 51, host: 102 },
            accel: 'tcg',
          }),
      mode({ mode: 'host', label: 'host', command: '/bin/true', latency: summarizeLatency([23.7, 34.3, 21.8]) }),
    ],
  };
}
