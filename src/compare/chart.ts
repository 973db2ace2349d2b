/**
 * Horizontal bar charts as inline SVG (the report fetches nothing). The modes differ by three or
 * four orders of magnitude (a spawn against a VM boot), so the axis turns logarithmic when the
 * largest value is more than 20 times the smallest non-zero one; a zero is drawn as no bar with
 * its text, never as a sliver that would read as "small".
 */

export interface Bar {
  value: number;
  /** A whisker from lo to hi (e.g. min–max over the runs). */
  lo?: number;
  hi?: number;
  text: string;
  color: string;
}

export interface Group {
  label: string;
  bars: Bar[];
}

export interface ChartSpec {
  title: string;
  groups: Group[];
  /** Tick labels. */
  format: (v: number) => string;
  legend?: { text: string; color: string }[];
  /** Tick candidates on a log axis (default: powers of ten); memory uses 1, 10, 100 × 1024ᵏ KiB. */
  logTicks?: number[];
}

export interface Scale {
  log: boolean;
  min: number;
  max: number;
  ticks: number[];
  /** 0..1 along the axis. */
  pos(v: number): number;
}

export function chooseScale(values: number[], logTicks?: number[]): Scale {
  const pos = values.filter((v) => v > 0 && Number.isFinite(v));
  if (pos.length === 0) return { log: false, min: 0, max: 1, ticks: [0, 1], pos: () => 0 };
  const lo = Math.min(...pos);
  const hi = Math.max(...pos);
  if (hi / lo > 20 && logTicks) {
    const below = logTicks.filter((t) => t <= lo);
    const above = logTicks.filter((t) => t >= hi);
    if (below.length && above.length) {
      const min = below.at(-1)!;
      const max = above[0]!;
      const span = Math.log10(max) - Math.log10(min);
      return { log: true, min, max, ticks: logTicks.filter((t) => t >= min && t <= max), pos: (v) => (v <= 0 ? 0 : Math.max(0, (Math.log10(v) - Math.log10(min)) / span)) };
    }
  }
  if (hi / lo > 20) {
    const a = Math.floor(Math.log10(lo));
    const b = Math.max(a + 1, Math.ceil(Math.log10(hi)));
    const ticks = Array.from({ length: b - a + 1 }, (_, i) => 10 ** (a + i));
    return { log: true, min: 10 ** a, max: 10 ** b, ticks, pos: (v) => (v <= 0 ? 0 : Math.max(0, (Math.log10(v) - a) / (b - a))) };
  }
  const step = niceStep(hi / 4);
  const max = Math.ceil(hi / step) * step;
  const ticks = Array.from({ length: Math.round(max / step) + 1 }, (_, i) => i * step);
  return { log: false, min: 0, max, ticks, pos: (v) => Math.max(0, v / max) };
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const W = 1000;
const LABEL_W = 250;
const PLOT_W = 600;
const BAR_H = 20;
const BAR_GAP = 4;
const GROUP_GAP = 16;
const TOP = 44;

export function barChart(spec: ChartSpec): string {
  const values = spec.groups.flatMap((g) => g.bars.flatMap((b) => [b.value, b.lo ?? 0, b.hi ?? 0]));
  const sc = chooseScale(values, spec.logTicks);
  const x = (v: number) => LABEL_W + sc.pos(v) * PLOT_W;
  const parts: string[] = [];
  let y = TOP;
  for (const g of spec.groups) {
    const gh = g.bars.length * BAR_H + (g.bars.length - 1) * BAR_GAP;
    parts.push(`<text x="${LABEL_W - 12}" y="${y + gh / 2 + 5}" text-anchor="end" class="gl">${esc(g.label)}</text>`);
    for (const b of g.bars) {
      const w = b.value > 0 ? Math.max(2, x(b.value) - LABEL_W) : 0;
      if (w > 0) parts.push(`<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" rx="3" fill="${b.color}"><title>${esc(b.text)}</title></rect>`);
      if (b.lo !== undefined && b.hi !== undefined && b.hi > 0) {
        const cy = y + BAR_H / 2;
        const x1 = x(b.lo).toFixed(1);
        const x2 = x(b.hi).toFixed(1);
        parts.push(
          `<path d="M${x1} ${cy}H${x2}M${x1} ${cy - 6}V${cy + 6}M${x2} ${cy - 6}V${cy + 6}" stroke="#1f2933" stroke-width="1.5" fill="none"/>`,
        );
      }
      const tx = Math.max(LABEL_W + w, b.hi !== undefined ? x(b.hi) : 0) + 8;
      parts.push(`<text x="${tx.toFixed(1)}" y="${y + BAR_H / 2 + 5}" class="bl">${esc(b.text)}</text>`);
      y += BAR_H + BAR_GAP;
    }
    y += GROUP_GAP - BAR_GAP;
  }
  const bottom = y;
  const axis = sc.ticks.map((t) => {
    const tx = x(t).toFixed(1);
    return `<line x1="${tx}" y1="${TOP - 6}" x2="${tx}" y2="${bottom}" class="grid"/><text x="${tx}" y="${bottom + 18}" text-anchor="middle" class="tick">${esc(spec.format(t))}</text>`;
  });
  const legend = (spec.legend ?? []).map(
    (l, i) => `<rect x="${LABEL_W + i * 140}" y="${bottom + 32}" width="12" height="12" rx="2" fill="${l.color}"/><text x="${LABEL_W + i * 140 + 18}" y="${bottom + 43}" class="tick">${esc(l.text)}</text>`,
  );
  const h = bottom + (spec.legend?.length ? 56 : 32);
  const scaleNote = sc.log ? 'logarithmic axis' : 'linear axis';
  return [
    `<svg viewBox="0 0 ${W} ${h}" width="100%" role="img" aria-label="${esc(spec.title)}">`,
    `<text x="0" y="20" class="ct">${esc(spec.title)}</text><text x="${W}" y="20" text-anchor="end" class="tick">${scaleNote}</text>`,
    ...axis,
    ...parts,
    ...legend,
    '</svg>',
  ].join('\n');
}
