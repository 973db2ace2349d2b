/**
 * Timing marks for benchmarks: with BERTH_TRACE=1 a CLI prints, at exit, one line on stderr
 * `BERTH_TRACE {"loaded":[41.2,30.1],...}` — per mark, milliseconds of wall time since the process
 * started and of CPU time (user+system) used so far; CPU time stays meaningful on a busy machine.
 * Without BERTH_TRACE, `mark` costs one property read.
 */
const marks: Record<string, [number, number]> | undefined = process.env.BERTH_TRACE ? {} : undefined;
const r2 = (x: number) => Math.round(x * 100) / 100;

export function mark(name: string): void {
  if (!marks) return;
  const cpu = process.cpuUsage();
  marks[name] = [r2(performance.now()), r2((cpu.user + cpu.system) / 1000)];
}

if (marks)
  process.on('exit', () => {
    mark('exit');
    process.stderr.write(`BERTH_TRACE ${JSON.stringify(marks)}\n`);
  });
