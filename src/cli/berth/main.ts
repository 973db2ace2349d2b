/**
 * `berth`: the Docker-like CLI. A thin layer: it parses flags, calls the library API and prints.
 * Each command lives in its own module under ./commands and is loaded only when invoked,
 * so that `berth --version` does not pay for the whole engine.
 */
import { Command, CommanderError, Option } from 'commander';
import { reportError } from '../common/run-cli.ts';
import { registerCommands } from './commands/index.ts';
import { mark } from '../../common/trace.ts';

mark('loaded');

const VERSION = '0.1.0';

async function main(argv: string[]): Promise<number> {
  const program = new Command('berth')
    .version(VERSION, '-v, --version')
    .description('berth: containers and micro-VMs from OCI images')
    .option('--root <dir>', 'engine state directory (env BERTH_ROOT)', process.env.BERTH_ROOT ?? '/var/lib/berth')
    .option('--debug', 'print debug output')
    .addOption(
      new Option('--storage-driver <driver>', 'how containers get their root filesystem (default: overlay if the kernel has it, else vfs)')
        .choices(['overlay', 'vfs'])
        .env('BERTH_STORAGE_DRIVER'),
    )
    .hook('preAction', (cmd) => {
      // The store reads it where it prepares a root filesystem (RootfsManager.prepare), in this
      // process and in the berth processes this one starts.
      const driver = (cmd.opts() as { storageDriver?: string }).storageDriver;
      if (driver) process.env.BERTH_STORAGE_DRIVER = driver;
    })
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError(false);
  registerCommands(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return (process.exitCode as number | undefined) ?? 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 125;
    return reportError('berth', err);
  }
}

process.exitCode = await main(process.argv.slice(2));
