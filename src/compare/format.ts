/**
 * The rows of the comparison and the text of each cell, shared by the terminal table and the
 * HTML page so both say the same thing. A cell is short; the longer explanation of where a figure
 * comes from goes into `detail` (footnotes in the terminal, tooltips and notes in HTML).
 */
import type { AvailableMode, CompareReport, ModeResult } from './report.ts';

export function fmtMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function fmtKiB(kib: number): string {
  if (kib === 0) return '0';
  if (kib < 1024) return `${kib} KiB`;
  if (kib < 1024 * 1024) return `${(kib / 1024).toFixed(1)} MiB`;
  return `${(kib / 1024 / 1024).toFixed(2)} GiB`;
}

/** A tick label: the same units, without trailing zeros ("1 s", "10 ms", "100 MiB"). */
export function fmtTick(text: string): string {
  return text.replace(/\.0+ /, ' ').replace(/(\.\d*?)0+ /, '$1 ').replace(/\. /, ' ');
}

function who(m: AvailableMode): string {
  return m.memory.idleKiB === 0 && m.memory.peakKiB === 0 ? 'none' : (m.memory.of.split(' ')[0] ?? '');
}

export interface Row {
  key: string;
  label: string;
  cell(m: AvailableMode): string;
  detail(m: AvailableMode): string;
}

export function rows(report: CompareReport): Row[] {
  return [
    {
      key: 'latency',
      label: `start-to-exit of true, median (min–max) of ${report.runs}`,
      cell: (m) => `${fmtMs(m.latency.medianMs)} (${fmtMs(m.latency.minMs)}–${fmtMs(m.latency.maxMs)})`,
      detail: (m) => `${m.command}: ${m.latency.runsMs.map(fmtMs).join(', ')}`,
    },
    {
      key: 'idle',
      label: 'memory overhead per instance, idle (RSS)',
      cell: (m) => `${fmtKiB(m.memory.idleKiB)} (${who(m)})`,
      detail: (m) => m.memory.of,
    },
    {
      key: 'peak',
      label: 'memory overhead per instance, peak (HWM)',
      cell: (m) => `${fmtKiB(m.memory.peakKiB)} (${who(m)})`,
      detail: (m) => m.memory.of,
    },
    { key: 'kernel', label: 'kernel the workload sees (uname -r)', cell: (m) => m.kernel, detail: () => '' },
    {
      key: 'namespaces',
      label: 'private namespaces (vs the host)',
      cell: (m) => {
        const total = Object.keys(m.namespaces.status).length;
        if (Object.values(m.namespaces.status).every((s) => s === 'n/a')) return 'n/a (own kernel)';
        const p = m.namespaces.private;
        return p.length === 0 ? `none (0/${total})` : `${p.length}/${total}: ${p.join(' ')}`;
      },
      detail: (m) => m.namespaces.note,
    },
    {
      key: 'limit',
      label: 'memory limit enforced (hog past -m)',
      cell: (m) => (m.memoryLimit.enforced ? `yes (${m.memoryLimit.hogMiB}M hog → ${m.memoryLimit.exitCode})` : `no (${m.memoryLimit.hogMiB}M hog ran)`),
      detail: (m) => m.memoryLimit.detail,
    },
    {
      key: 'hostProcesses',
      label: 'host processes visible',
      cell: (m) => `${m.hostProcesses.visible ? 'yes' : 'no'} (${m.hostProcesses.inside} pids seen; host: ${m.hostProcesses.host})`,
      detail: (m) =>
        `${m.hostProcesses.inside} /proc/[0-9]* entries inside, ${m.hostProcesses.host} on the host; a marker process on the host was ${m.hostProcesses.visible ? '' : 'not '}seen`,
    },
    {
      key: 'accel',
      label: 'accelerator',
      cell: (m) => (m.accel === 'native' ? 'none (native)' : m.accel === 'tcg' ? 'TCG (software emulation)' : m.accel === 'kvm' ? 'KVM' : m.accel),
      detail: () => '',
    },
  ];
}

/** The cell of an unavailable mode: its reason on the first row, a dash elsewhere. */
export function unavailableCell(m: ModeResult, rowIndex: number): string {
  return m.available ? '' : rowIndex === 0 ? `unavailable: ${m.reason}` : '—';
}
