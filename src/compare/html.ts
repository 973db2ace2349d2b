/**
 * The HTML report: one self-contained page (inline CSS and SVG, no script, no fonts or images
 * from anywhere) with the table, a latency chart and a memory chart, and the notes on how each
 * figure was measured. Opening it fetches nothing, so it can be mailed or archived as is.
 */
import { barChart, esc } from './chart.ts';
import { fmtKiB, fmtMs, fmtTick, rows, unavailableCell } from './format.ts';
import type { AvailableMode, CompareReport, ModeName } from './report.ts';

export const MODE_COLORS: Record<ModeName, string> = { chroot: '#e0a030', process: '#2f80c0', vm: '#8a4fc0', host: '#6b7a88' };

const CSS = `
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1f2933; background: #f5f7fa; margin: 0; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 10px; }
.sub { color: #52606d; margin: 0 0 20px; }
.card { background: #fff; border-radius: 10px; box-shadow: 0 1px 3px rgba(15, 23, 42, .12); padding: 18px 20px; margin: 0 0 20px; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 8px 10px; border-bottom: 1px solid #e4e7eb; }
thead th { font-size: 14px; border-bottom: 2px solid #cbd2d9; }
thead th span { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
tbody th { font-weight: 500; color: #3e4c59; width: 24%; }
td.na { color: #9aa5b1; }
td.unavail { color: #b44d12; font-style: italic; }
.good { color: #1f7a4d; font-weight: 600; }
.bad { color: #b42318; font-weight: 600; }
svg text { font-family: inherit; }
svg .ct { font-size: 16px; font-weight: 600; fill: #1f2933; }
svg .gl { font-size: 14px; fill: #1f2933; }
svg .bl { font-size: 13px; fill: #323f4b; }
svg .tick { font-size: 12px; fill: #616e7c; }
svg .grid { stroke: #e4e7eb; }
ul.notes { margin: 0; padding-left: 18px; color: #3e4c59; font-size: 14px; }
ul.notes li { margin: 4px 0; }
code { font-size: 13px; background: #eef1f4; padding: 1px 4px; border-radius: 3px; }
`;

/** Colour for the isolation verdicts: an enforced limit is good, visible host processes are not. */
function cellClass(key: string, text: string): string {
  const yes = text.startsWith('yes');
  if (key === 'limit') return yes ? 'good' : 'bad';
  if (key === 'hostProcesses') return yes ? 'bad' : 'good';
  return '';
}

function table(report: CompareReport): string {
  const rs = rows(report);
  const head = report.modes.map((m) => `<th><span style="background:${MODE_COLORS[m.mode]}"></span>${esc(m.label)}</th>`).join('');
  const body = rs
    .map((r, i) => {
      const cells = report.modes
        .map((m) => {
          if (!m.available) return `<td class="${i === 0 ? 'unavail' : 'na'}">${esc(unavailableCell(m, i))}</td>`;
          const text = r.cell(m);
          const d = r.detail(m);
          const cls = cellClass(r.key, text);
          return `<td${d ? ` title="${esc(d)}"` : ''}>${cls ? `<span class="${cls}">${esc(text)}</span>` : esc(text)}</td>`;
        })
        .join('');
      return `<tr><th>${esc(r.label)}</th>${cells}</tr>`;
    })
    .join('\n');
  return `<table><thead><tr><th></th>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function latencyChart(ms: AvailableMode[], runs: number): string {
  return barChart({
    title: `Start-to-exit of true: median, whiskers min–max over ${runs} run${runs === 1 ? '' : 's'}`,
    format: (v) => fmtTick(fmtMs(v)),
    groups: ms.map((m) => ({
      label: m.label,
      bars: [{ value: m.latency.medianMs, lo: m.latency.minMs, hi: m.latency.maxMs, text: `${fmtMs(m.latency.medianMs)} (${fmtMs(m.latency.minMs)}–${fmtMs(m.latency.maxMs)})`, color: MODE_COLORS[m.mode] }],
    })),
  });
}

function memoryChart(ms: AvailableMode[]): string {
  const text = (kib: number) => (kib === 0 ? 'none (no per-instance process)' : fmtKiB(kib));
  return barChart({
    title: 'Memory overhead per instance (resident set of the monitor or VMM)',
    format: (v) => fmtTick(fmtKiB(v)),
    logTicks: [0, 1, 2, 3].flatMap((k) => [1, 10, 100].map((m) => m * 1024 ** k)),
    legend: [
      { text: 'idle (VmRSS)', color: '#7fb3d5' },
      { text: 'peak (VmHWM)', color: '#1f618d' },
    ],
    groups: ms.map((m) => ({
      label: m.label,
      bars: [
        { value: m.memory.idleKiB, text: text(m.memory.idleKiB), color: '#7fb3d5' },
        { value: m.memory.peakKiB, text: text(m.memory.peakKiB), color: '#1f618d' },
      ],
    })),
  });
}

function notes(report: CompareReport): string {
  const items: string[] = [];
  for (const m of report.modes) {
    if (!m.available) {
      items.push(`<li><b>${esc(m.label)}</b>: unavailable: ${esc(m.reason)}</li>`);
      continue;
    }
    const seen = new Set<string>();
    const ds = rows(report)
      .map((r) => r.detail(m))
      .filter((d) => d && !seen.has(d) && seen.add(d));
    items.push(`<li><b>${esc(m.label)}</b>: ${ds.map(esc).join('; ')}.</li>`);
  }
  return `<ul class="notes">${items.join('\n')}</ul>`;
}

/** What the table shows, in words, derived from the measurements (nothing is said that was not measured). */
function findings(ms: AvailableMode[]): string {
  const by = (mode: ModeName) => ms.find((m) => m.mode === mode);
  const out: string[] = [];
  const kernels = [...new Set(ms.map((m) => m.kernel))];
  if (kernels.length > 1)
    out.push(`Kernels seen: ${kernels.map((k) => `<code>${esc(k)}</code> by ${ms.filter((m) => m.kernel === k).map((m) => esc(m.mode)).join(', ')}`).join('; ')}.`);
  const p = by('process');
  const c = by('chroot');
  if (p) out.push(`Process isolation made ${p.namespaces.private.length} of ${Object.keys(p.namespaces.status).length} namespaces private${c ? `, chroot ${c.namespaces.private.length ? c.namespaces.private.length : 'none'}` : ''}.`);
  const v = by('vm');
  if (v && p) {
    const t = v.latency.medianMs / p.latency.medianMs;
    const mem = p.memory.idleKiB > 0 ? v.memory.idleKiB / p.memory.idleKiB : 0;
    out.push(`A VM start took ${t.toFixed(1)}× a container start (${esc(v.accel === 'tcg' ? 'software emulation' : v.accel)})${mem ? ` and its VMM held ${Math.round(mem)}× the memory of a container's monitor` : ''}.`);
  }
  return out.length ? `<p class="sub">${out.join(' ')}</p>` : '';
}

export function renderHtml(report: CompareReport): string {
  const ms = report.modes.filter((m): m is AvailableMode => m.available);
  const h = report.host;
  const charts = ms.length ? `<div class="card">${latencyChart(ms, report.runs)}</div>\n<div class="card">${memoryChart(ms)}</div>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>berth compare: ${esc(report.image)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>VM, container and VM-isolated container, measured</h1>
<p class="sub">Image <code>${esc(report.image)}</code>, ${report.runs} run${report.runs === 1 ? '' : 's'} per mode, ${esc(report.generatedAt)}.
Host kernel ${esc(h.kernel)}, ${h.cpus} × ${esc(h.cpu)}, load average ${h.loadAverage.join(' / ')} (timings on a loaded host vary; compare orders of magnitude).</p>
${findings(ms)}
<div class="card">${table(report)}</div>
${charts}
<h2>How each figure was measured</h2>
<div class="card">${notes(report)}</div>
</main>
</body>
</html>
`;
}
