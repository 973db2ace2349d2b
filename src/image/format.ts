/**
 * Docker's output conventions: sizes in decimal units with three significant digits ("4.26MB"),
 * ages as "2 hours ago", column tables, and the small subset of Go templates people pass to
 * `--format` (`{{.Field}}`, `{{json .}}`, `{{json .Config}}`, a `table` prefix).
 */

export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(3))}${units[i]}`;
}

export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

export function since(iso: string | undefined, now = Date.now()): string {
  if (!iso) return 'N/A';
  const t = Date.parse(iso);
  return Number.isFinite(t) ? `${humanDuration(now - t)} ago` : 'N/A';
}

/** Columns padded like Docker's tabwriter (3 spaces between columns). */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

function lookupPath(value: unknown, path: string): unknown {
  if (path === '.' || path === '') return value;
  let cur = value;
  for (const p of path.replace(/^\./, '').split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** Renders a Go-template-like format string against one object. */
export function renderTemplate(format: string, value: unknown): string {
  const f = format.replace(/^table\s+/, '').replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  return f.replace(/\{\{\s*(json\s+)?(\.[\w.]*)\s*\}\}/g, (_m, json: string | undefined, path: string) => {
    const v = lookupPath(value, path);
    if (json) return JSON.stringify(v ?? null);
    if (v === undefined || v === null) return '<no value>';
    if (typeof v === 'object') return Array.isArray(v) ? `[${v.join(' ')}]` : `map[${Object.entries(v).map(([k, x]) => `${k}:${String(x)}`).join(' ')}]`;
    return String(v);
  });
}
