/**
 * `berth compare [IMAGE]`: the seed's comparison of chroot, containers and VMs, measured live on
 * this host (src/compare). The table goes to stdout (or JSON with --json); progress goes to
 * stderr because a run boots several VMs and takes a while.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../../common/errors.ts';

const MODES = ['chroot', 'process', 'vm', 'host'] as const;

export function registerCompareCommand(program: Command): void {
  program
    .command('compare')
    .description('Measure chroot, process isolation, the micro-VM and the host side by side')
    .argument('[image]', 'image to run in every mode', 'busybox')
    .option('--runs <n>', 'latency samples per mode', '5')
    .option('--json', 'print the measurements as JSON')
    .option('--html <file>', 'also write a self-contained HTML report with charts')
    .option('--modes <list>', `comma-separated subset of ${MODES.join(',')}`)
    .option('-q, --quiet', 'no progress on stderr')
    .action(async (image: string, o, c: Command) => {
      const runs = Number(o.runs);
      if (!/^\d+$/.test(String(o.runs)) || runs < 1) throw new InvalidArgumentError(`--runs must be a positive whole number, not "${o.runs}"`);
      const modes = o.modes ? String(o.modes).split(',').map((m) => m.trim()) : undefined;
      for (const m of modes ?? []) if (!(MODES as readonly string[]).includes(m)) throw new InvalidArgumentError(`unknown mode "${m}": ${MODES.join(', ')}`);
      const { compare, CompareAborted } = await import('../../../compare/run.ts');
      // the first ^C lets the current step (a VM boot, a container) finish and everything be
      // unmounted and removed; a second one leaves at once
      const abort = new AbortController();
      const onSignal = (sig: NodeJS.Signals): void => {
        if (abort.signal.aborted) process.exit(sig === 'SIGINT' ? 130 : 143);
        if (!o.quiet) process.stderr.write('compare: interrupted, cleaning up after the current step\n');
        abort.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const report = await compare({
        signal: abort.signal,
        root: (c.optsWithGlobals() as { root: string }).root,
        image,
        runs,
        modes: modes as (typeof MODES)[number][] | undefined,
        progress: o.quiet ? undefined : (line) => process.stderr.write(`compare: ${line}\n`),
      })
        .catch((err: unknown) => {
          if (!(err instanceof CompareAborted)) throw err;
          process.stderr.write(`berth: ${err.message}\n`);
          return undefined;
        })
        .finally(() => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        });
      if (!report) {
        process.exitCode = 130;
        return;
      }
      if (o.html) {
        const { writeFileSync } = await import('node:fs');
        const { renderHtml } = await import('../../../compare/html.ts');
        writeFileSync(o.html, renderHtml(report));
        if (!o.quiet) process.stderr.write(`compare: wrote ${o.html}\n`);
      }
      if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        const { renderTable } = await import('../../../compare/table.ts');
        process.stdout.write(renderTable(report));
      }
    });
}
