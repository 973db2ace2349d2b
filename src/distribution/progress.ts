/**
 * Pull/push progress in Docker's shape. On a terminal: one line per layer, redrawn in place at
 * most ten times a second, with a bar, bytes and speed. Not on a terminal: only the state changes
 * (`Pulling fs layer`, `Download complete`, `Pull complete`, …) as plain lines, so logs stay
 * readable. Quiet: nothing but the final result line.
 */
import { humanSize } from '../image/format.ts';

export type ProgressMode = 'tty' | 'plain' | 'quiet';

interface Row {
  id: string;
  status: string;
  done: number;
  total: number;
  started: number;
}

export interface Progress {
  /** A line above the layer block (`latest: Pulling from library/busybox`). */
  note(line: string): void;
  /** A layer's state changed. */
  status(id: string, status: string): void;
  /** Bytes moved for a layer (`verb` is the status shown with the bar). */
  bytes(id: string, verb: string, done: number, total: number): void;
  /** Summary lines after the layers (not in quiet mode). */
  summary(line: string): void;
  /** The result line (also in quiet mode). */
  result(line: string): void;
  /** Stops redrawing; the screen shows the final states. */
  close(): void;
}

export function progressMode(quiet: boolean, out: NodeJS.WriteStream = process.stdout): ProgressMode {
  if (quiet) return 'quiet';
  return out.isTTY && process.env.TERM !== 'dumb' ? 'tty' : 'plain';
}

const BAR = 40;

function bar(done: number, total: number): string {
  if (total <= 0) return '';
  const filled = Math.min(BAR, Math.floor((done / total) * BAR));
  return `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(BAR - filled)}]`;
}

export function renderRow(r: Row, now = Date.now()): string {
  if (r.total <= 0 || r.done <= 0 || /complete|exists|Pushed|Mounted/.test(r.status)) return `${r.id}: ${r.status}`;
  const secs = Math.max((now - r.started) / 1000, 0.001);
  const speed = `${humanSize(r.done / secs)}/s`;
  return `${r.id}: ${r.status} ${bar(r.done, r.total)} ${humanSize(r.done)}/${humanSize(r.total)} ${speed}`;
}

export function createProgress(mode: ProgressMode, out: NodeJS.WritableStream = process.stdout): Progress {
  const write = (s: string) => void out.write(s);
  if (mode === 'quiet')
    return { note() {}, status() {}, bytes() {}, summary() {}, result: (l) => write(`${l}\n`), close() {} };
  if (mode === 'plain') {
    const last = new Map<string, string>();
    return {
      note: (l) => write(`${l}\n`),
      status(id, s) {
        if (last.get(id) === s) return;
        last.set(id, s);
        write(`${id}: ${s}\n`);
      },
      bytes() {},
      summary: (l) => write(`${l}\n`),
      result: (l) => write(`${l}\n`),
      close() {},
    };
  }
  const rows: Row[] = [];
  let drawn = 0;
  let dirty = false;
  const row = (id: string) => {
    let r = rows.find((x) => x.id === id);
    if (!r) rows.push((r = { id, status: '', done: 0, total: 0, started: Date.now() }));
    return r;
  };
  const draw = () => {
    if (!dirty) return;
    dirty = false;
    let s = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const r of rows) s += `\r\x1b[2K${renderRow(r)}\n`;
    drawn = rows.length;
    write(s);
  };
  const timer = setInterval(draw, 100);
  timer.unref();
  const above = (l: string) => {
    draw();
    // A note goes above the block: erase the block, print, redraw it below.
    let s = drawn > 0 ? `\x1b[${drawn}A` : '';
    s += `\r\x1b[2K${l}\n`;
    for (const r of rows) s += `\r\x1b[2K${renderRow(r)}\n`;
    write(s);
  };
  return {
    note: above,
    status(id, s) {
      const r = row(id);
      if (r.status !== s && /^(Downloading|Pushing)/.test(s)) r.started = Date.now();
      r.status = s;
      dirty = true;
    },
    bytes(id, verb, done, total) {
      const r = row(id);
      if (r.status !== verb) {
        r.status = verb;
        r.started = Date.now();
      }
      r.done = done;
      r.total = total;
      dirty = true;
    },
    summary(l) {
      draw();
      write(`${l}\n`);
    },
    result(l) {
      draw();
      write(`${l}\n`);
    },
    close() {
      clearInterval(timer);
      draw();
    },
  };
}
