/**
 * Timing marks for benchmarks: with BERTH_TRACE=1 a CLI prints, at exit, one line on stderr
 * `BERTH_TRACE {"main":41.2,"plan":47.9,...}` — milliseconds since the process started.
 * Without it, `mark` costs one property read.
 */
const marks: Record<string, number> | undefined = process.env.BERTH_TRACE ? {} : undefined;
if (marks)
  process.on('exit', () => {
    marks.exit = Math.round(performance.now() * 100) / 100;
    process.stderr.write(`BERTH_TRACE ${JSON.stringify(marks)}\n`);
  });

export function mark(name: string): void {
  if (marks) marks[name] = Math.round(performance.now() * 100) / 100;
}
