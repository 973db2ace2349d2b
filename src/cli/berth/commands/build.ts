/**
 * `berth build`: Docker's flags, Docker's classic output. Any failure is one line naming the
 * Dockerfile line, and exit status 1 (as `docker build`).
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../../common/errors.ts';

const collect = (v: string, prev: string[] = []) => [...prev, v];

function keyValues(list: string[], what: string, env = false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i === 0) throw new InvalidArgumentError(`invalid ${what}: ${kv}`);
    if (i < 0) {
      // `--build-arg NAME` takes the value from our environment, as Docker does
      const v = env ? process.env[kv] : '';
      if (v !== undefined) out[kv] = v;
    } else out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

export function registerBuildCommand(program: Command): void {
  const add = (cmd: Command, name: string) =>
    cmd
      .command(name)
      .description('Build an image from a Dockerfile')
      .argument('<context>', 'a directory, a tarball, or - (a Dockerfile or tarball on stdin)')
      .option('-t, --tag <name>', 'name and optionally a tag (name:tag)', collect, [])
      .option('-f, --file <file>', 'name of the Dockerfile (default: CONTEXT/Dockerfile)')
      .option('--build-arg <k=v>', 'set a build-time variable', collect, [])
      .option('--target <stage>', 'build up to this stage')
      .option('--no-cache', 'do not use the build cache')
      .option('--pull', 'accepted for compatibility: berth builds from local images')
      .option('--squash', 'squash the layers after the base image into one')
      .option('--label <k=v>', 'set metadata on the image', collect, [])
      .option('--platform <os/arch>', 'platform of the image')
      .option('--network <mode>', 'network of RUN steps: none (default) or host', 'none')
      .option('-q, --quiet', 'print only the image ID')
      .option('--iidfile <file>', 'write the image ID to the file')
      .action(async (context: string, o, c: Command) => {
        const { Engine } = await import('../../../engine/engine.ts');
        const { openContext } = await import('../../../build/context.ts');
        const { build } = await import('../../../build/builder.ts');
        const { describeError } = await import('../../../common/errors.ts');
        if (!['none', 'host', 'default'].includes(o.network)) throw new InvalidArgumentError(`--network must be none or host, not "${o.network}"`);
        const engine = new Engine((c.optsWithGlobals() as { root: string }).root);
        try {
          const store = await engine.store();
          const ctx = await openContext(store.sys, context, { file: o.file });
          try {
            const id = await build(engine, ctx, {
              tags: o.tag,
              buildArgs: keyValues(o.buildArg, 'build-arg', true),
              target: o.target,
              noCache: o.cache === false,
              squash: !!o.squash,
              labels: keyValues(o.label, 'label'),
              platform: o.platform,
              network: o.network === 'host' ? 'host' : 'none',
              quiet: !!o.quiet,
              iidfile: o.iidfile,
            });
            if (o.quiet) process.stdout.write(`${id}\n`);
          } finally {
            ctx.cleanup();
          }
        } catch (err) {
          process.stderr.write(`berth: ${describeError(err)}\n`);
          if (process.env.BERTH_DEBUG === '1' && err instanceof Error) process.stderr.write(`${err.stack}\n`);
          process.exitCode = 1;
        }
      });
  add(program, 'build');
  const image = program.commands.find((x) => x.name() === 'image');
  if (image) add(image, 'build');
}
