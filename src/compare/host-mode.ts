/**
 * The host itself, for reference: `/bin/true` spawned directly. Everything is shared by
 * definition, but it is measured the same way as the other modes anyway, so the column also
 * checks the instruments (its namespaces must compare equal, the marker must be seen).
 */
import { existsSync } from 'node:fs';
import { FACTS_SCRIPT, hogScript, parseFacts, unconfinedFacts } from './measure.ts';
import { HOG_FACTOR, type FactsContext, type ModeRunner } from './mode.ts';
import { hostProcessCount, run, runOk, workloadEnv } from './probe.ts';
import type { ModeFacts } from './report.ts';

export class HostMode implements ModeRunner {
  readonly mode = 'host' as const;
  readonly label = 'host';
  readonly command = '/bin/true';

  async probe(): Promise<string | undefined> {
    return existsSync('/bin/true') && existsSync('/bin/sh') ? undefined : '/bin/true or /bin/sh missing';
  }

  async setup(): Promise<void> {}

  async latencyOnce(): Promise<number> {
    return (await runOk('/bin/true', [])).ms;
  }

  async facts(ctx: FactsContext): Promise<ModeFacts> {
    const env = workloadEnv(ctx.pattern);
    const f = parseFacts((await runOk('/bin/sh', ['-c', FACTS_SCRIPT], { env })).stdout);
    const hostCount = hostProcessCount();
    const hogMiB = ctx.limitMiB * HOG_FACTOR;
    const hog = await run('/bin/sh', ['-c', hogScript(hogMiB)], { env });
    return unconfinedFacts(ctx, f, hostCount, hog, hogMiB, {
      direct: 'none: the workload is a direct child of berth compare',
      namespaces: "the workload's /proc/self/ns against berth compare's own",
      unlimited: `no limit can be asked: a ${hogMiB} MiB hog ran to its end`,
    });
  }

  async close(): Promise<void> {}
}
