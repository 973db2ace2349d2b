/**
 * The terminal rendering: one column per mode, cells wrapped to a width so four modes fit a
 * wide terminal, then the footnotes that say where each figure comes from.
 */
import { rows, unavailableCell } from './format.ts';
import type { CompareReport } from './report.ts';

const LABEL_WIDTH = 26;
const CELL_WIDTH = 30;

/** Greedy word wrap; a word longer than the width is cut. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (let word of text.split(/\s+/).filter(Boolean)) {
    while (word.length > width) {
      if (line) lines.push(line);
      lines.push(word.slice(0, width));
      word = word.slice(width);
      line = '';
    }
    if (!line) line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line || lines.length === 0) lines.push(line);
  return lines;
}

function grid(header: string[], body: string[][], widths: number[]): string {
  const out: string[] = [];
  const emit = (cells: string[]) => {
    const wrapped = cells.map((c, i) => wrap(c, widths[i]!));
    const height = Math.max(...wrapped.map((w) => w.length));
    for (let l = 0; l < height; l++) out.push(wrapped.map((w, i) => (w[l] ?? '').padEnd(widths[i]!)).join('  ').trimEnd());
  };
  emit(header);
  out.push(widths.map((w) => '─'.repeat(w)).join('  '));
  for (const r of body) emit(r);
  return out.join('\n');
}

export function renderTable(report: CompareReport): string {
  const rs = rows(report);
  const header = ['', ...report.modes.map((m) => m.label)];
  const body = rs.map((r, i) => [r.label, ...report.modes.map((m) => (m.available ? r.cell(m) : unavailableCell(m, i)))]);
  const widths = [LABEL_WIDTH, ...report.modes.map(() => CELL_WIDTH)];
  const notes: string[] = [];
  for (const m of report.modes) {
    if (!m.available) {
      notes.push(`  ${m.mode}: unavailable: ${m.reason}`);
      continue;
    }
    const seen = new Set<string>();
    for (const r of rs) {
      const d = r.detail(m);
      if (d && !seen.has(d)) notes.push(`  ${m.mode}: ${d}`);
      seen.add(d);
    }
  }
  const h = report.host;
  return [
    `berth compare: image ${report.image}, ${report.runs} run${report.runs === 1 ? '' : 's'} per mode; host ${h.kernel}, ${h.cpus} × ${h.cpu}, load ${h.loadAverage.join(' ')}`,
    '',
    grid(header, body, widths),
    '',
    'Where the figures come from:',
    ...notes,
    '',
  ].join('\n');
}
