/** `logs`: the monitor's json-file log, with --tail, --since, -t and -f as Docker has them. */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { sleep } from '../runtime/process-wait.ts';
import type { Engine } from './engine.ts';
import type { ContainerRecord } from './record.ts';
import { containerState } from './state.ts';

export interface LogEntry {
  log: string;
  stream: 'stdout' | 'stderr';
  time: string;
}

export interface LogOptions {
  follow?: boolean;
  tail?: number;
  timestamps?: boolean;
  /** ISO time or a Unix timestamp in seconds */
  since?: string;
}

function sinceMs(since: string | undefined): number {
  if (!since) return 0;
  if (/^\d+(\.\d+)?$/.test(since)) return Number(since) * 1000;
  const rel = /^(\d+)([smh])$/.exec(since);
  if (rel) return Date.now() - Number(rel[1]) * { s: 1000, m: 60000, h: 3600000 }[rel[2] as 's' | 'm' | 'h'];
  return Date.parse(since) || 0;
}

function parseLines(text: string): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as LogEntry);
    } catch {
      /* a line being written right now */
    }
  }
  return out;
}

export async function streamLogs(engine: Engine, rec: ContainerRecord, opts: LogOptions, write: (e: LogEntry, text: string) => void): Promise<void> {
  const file = engine.layout.log(rec.Id);
  const since = sinceMs(opts.since);
  const emit = (e: LogEntry) => {
    if (since && Date.parse(e.time) < since) return;
    write(e, opts.timestamps ? `${e.time} ${e.log}` : e.log);
  };
  let pos = 0;
  let pending = '';
  const readMore = (): LogEntry[] => {
    let size = 0;
    try {
      size = statSync(file).size;
    } catch {
      return [];
    }
    if (size <= pos) return [];
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(size - pos);
      readSync(fd, buf, 0, buf.length, pos);
      pos = size;
      const text = pending + buf.toString('utf8');
      const cut = text.lastIndexOf('\n') + 1;
      pending = text.slice(cut);
      return parseLines(text.slice(0, cut));
    } finally {
      closeSync(fd);
    }
  };
  let first = readMore();
  if (opts.tail !== undefined && opts.tail >= 0) first = opts.tail === 0 ? [] : first.slice(-opts.tail);
  for (const e of first) emit(e);
  if (!opts.follow) return;
  for (;;) {
    const running = containerState(engine, rec).Running;
    for (const e of readMore()) emit(e);
    if (!running) return;
    await sleep(100);
  }
}
