/**
 * `berth-runc`: a runc-compatible command line over src/runtime, so that podman, containerd
 * and people can drive berth exactly like runc. Flags and output follow runc's.
 * Errors: one line on stderr (and in --log, in runc's text or json form), exit status 1.
 */
import { Command, CommanderError, Option } from 'commander';
import { appendFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { describeError, AlreadyExistsError } from '../../common/errors.ts';
import * as rt from '../../runtime/index.ts';
import { OCI_VERSION } from '../../oci/runtime-spec.ts';
import { mark } from '../../common/trace.ts';

mark('loaded');

const VERSION = '0.1.0';

interface Globals {
  root: string;
  log?: string;
  logFormat: 'text' | 'json';
  debug?: boolean;
}

function logLine(g: Globals, level: string, msg: string): void {
  if (!g.log) return;
  const time = new Date().toISOString();
  const line = g.logFormat === 'json' ? JSON.stringify({ level, msg, time }) : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
  try {
    appendFileSync(g.log, line + '\n');
  } catch {
    /* a broken log must not hide the error itself */
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('')).join('\n') + '\n';
}

const intArg = (v: string) => {
  if (!/^\d+$/.test(v)) throw new CommanderError(1, 'berth.invalidArgument', `invalid number "${v}"`);
  return Number(v);
};

async function main(argv: string[]): Promise<number> {
  let status = 0;
  const program = new Command('berth-runc')
    .description('berth-runc: an OCI runtime (runc-compatible) built on berth')
    .option('--root <dir>', 'root directory for storage of container state', '/run/berth-runc')
    .option('--log <file>', 'log file for errors (default: stderr only)')
    .addOption(new Option('--log-format <format>', 'log format').choices(['text', 'json']).default('text'))
    .option('--debug', 'enable debug output')
    .option('--systemd-cgroup', 'accepted for compatibility; only the cgroupfs driver exists')
    .option('--rootless <value>', 'accepted for compatibility', 'auto')
    .option('--criu <path>', 'accepted for compatibility')
    .option('-v, --version', 'print the version')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const g = () => program.opts<Globals>();
  const ctx = () => new rt.RuntimeContext({ root: g().root, warn: (m) => logLine(g(), 'warning', m) });

  program
    .command('create')
    .description('create a container')
    .argument('<id>')
    .option('-b, --bundle <dir>', 'path to the bundle', '.')
    .option('--console-socket <path>', 'unix socket that receives the pty master')
    .option('--pid-file <file>', 'file to write the container pid to')
    .option('--no-pivot', 'use chroot instead of pivot_root')
    .option('--no-new-keyring', 'accepted for compatibility')
    .option('--preserve-fds <n>', 'pass N extra fds to the container', intArg, 0)
    .action(async (id: string, o) => {
      await rt.create(ctx(), id, { bundle: o.bundle, consoleSocket: o.consoleSocket, pidFile: o.pidFile, noPivot: o.pivot === false, preserveFds: o.preserveFds });
    });

  program
    .command('run')
    .description('create and start a container')
    .argument('<id>')
    .option('-b, --bundle <dir>', 'path to the bundle', '.')
    .option('--console-socket <path>', 'unix socket that receives the pty master')
    .option('-d, --detach', 'detach from the container')
    .option('--pid-file <file>', 'file to write the container pid to')
    .option('--no-pivot', 'use chroot instead of pivot_root')
    .option('--no-new-keyring', 'accepted for compatibility')
    .option('--no-subreaper', 'accepted for compatibility')
    .option('--keep', 'do not delete the container after it exits')
    .option('--preserve-fds <n>', 'pass N extra fds to the container', intArg, 0)
    .action(async (id: string, o) => {
      status = await rt.run(ctx(), id, {
        bundle: o.bundle,
        consoleSocket: o.consoleSocket,
        pidFile: o.pidFile,
        noPivot: o.pivot === false,
        preserveFds: o.preserveFds,
        detach: o.detach,
        keep: o.keep,
      });
    });

  program
    .command('start')
    .description('start a created container')
    .argument('<id>')
    .action((id: string) => rt.start(ctx(), id));

  program
    .command('state')
    .description('print the state of a container')
    .argument('<id>')
    .action((id: string) => {
      process.stdout.write(JSON.stringify(rt.state(ctx(), id), null, 2) + '\n');
    });

  program
    .command('kill')
    .description('send a signal to the container')
    .argument('<id>')
    .argument('[signal]', 'signal name or number', 'SIGTERM')
    .option('-a, --all', 'signal every process of the container')
    .action((id: string, sig: string, o) => rt.kill(ctx(), id, sig, !!o.all));

  program
    .command('delete')
    .description('delete a container')
    .argument('<id>')
    .option('-f, --force', 'kill and delete a running container')
    .action(async (id: string, o) => {
      try {
        await rt.remove(ctx(), id, !!o.force);
      } catch (e) {
        // runc: `delete --force` of a container that does not exist succeeds
        if (!(o.force && (e as { code?: string }).code === 'not-found')) throw e;
      }
    });

  program
    .command('exec')
    .description('run a process in a running container')
    .argument('<id>')
    .argument('[command...]')
    .option('--console-socket <path>', 'unix socket that receives the pty master')
    .option('--cwd <dir>', 'working directory')
    .option('-e, --env <var>', 'environment variable (repeatable)', (v: string, p: string[]) => [...p, v], [] as string[])
    .option('-t, --tty', 'allocate a pseudo-terminal')
    .option('-u, --user <uid[:gid]>', 'user to run as')
    .option('-p, --process <file>', 'process.json to run')
    .option('-d, --detach', 'detach from the process')
    .option('--pid-file <file>', 'file to write the process pid to')
    .option('--no-new-privs', 'set no_new_privileges')
    .option('-c, --cap <cap>', 'add a capability (repeatable)', (v: string, p: string[]) => [...p, v], [] as string[])
    .option('--preserve-fds <n>', 'pass N extra fds', intArg, 0)
    .option('--process-label <label>', 'accepted for compatibility')
    .option('--apparmor <profile>', 'accepted for compatibility')
    .option('--ignore-paused', 'accepted for compatibility')
    .option('--cgroup <path>', 'accepted for compatibility')
    .passThroughOptions()
    .action(async (id: string, command: string[], o) => {
      const r = await rt.exec(ctx(), id, {
        processFile: o.process,
        args: command,
        env: o.env,
        cwd: o.cwd,
        user: o.user,
        tty: o.tty,
        caps: o.cap,
        noNewPrivs: o.newPrivs === false ? true : undefined,
        detach: o.detach,
        pidFile: o.pidFile,
        consoleSocket: o.consoleSocket,
        preserveFds: o.preserveFds,
      });
      status = o.detach ? 0 : r;
    });

  program
    .command('ps')
    .description('list the processes of a container')
    .argument('<id>')
    .argument('[ps-args...]')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
    .passThroughOptions()
    .action((id: string, psArgs: string[], o) => {
      if (o.format === 'json') process.stdout.write(JSON.stringify(rt.pids(ctx(), id)) + '\n');
      else process.stdout.write(rt.psTable(ctx(), id, psArgs));
    });

  program
    .command('list')
    .alias('ls')
    .description('list containers')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
    .option('-q, --quiet', 'print only ids')
    .action((o) => {
      const all = rt.list(ctx());
      if (o.quiet) process.stdout.write(all.map((c) => c.id + '\n').join(''));
      else if (o.format === 'json') process.stdout.write(JSON.stringify(all) + '\n');
      else
        process.stdout.write(
          table([['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...all.map((c) => [c.id, String(c.pid), c.status, c.bundle, c.created, c.owner])]),
        );
    });

  program.command('pause').description('freeze all processes of a container').argument('<id>').action((id: string) => rt.pause(ctx(), id));
  program.command('resume').description('thaw a paused container').argument('<id>').action((id: string) => rt.resume(ctx(), id));

  program
    .command('spec')
    .description('write a starting config.json')
    .option('-b, --bundle <dir>', 'where to write config.json', '.')
    .option('--rootless', 'a spec for a container without root')
    .action((o) => {
      const file = path.join(o.bundle, 'config.json');
      if (existsSync(file)) throw new AlreadyExistsError(`${file} already exists`, 'remove it first');
      writeFileSync(file, JSON.stringify(rt.defaultSpec({ rootless: !!o.rootless }), null, '\t') + '\n');
    });

  program
    .command('features')
    .description('show what this runtime supports')
    .action(() => {
      process.stdout.write(JSON.stringify(rt.features(), null, 2) + '\n');
    });

  if (argv.length === 1 && (argv[0] === '-v' || argv[0] === '--version')) {
    process.stdout.write(`berth-runc version ${VERSION}\nspec: ${OCI_VERSION}\n`);
    return 0;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    if (program.opts().version) process.stdout.write(`berth-runc version ${VERSION}\nspec: ${OCI_VERSION}\n`);
    return status;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 1;
    const msg = describeError(err);
    logLine(g(), 'error', msg);
    process.stderr.write(`berth-runc: ${msg}\n`);
    if (process.env.BERTH_DEBUG === '1' && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
