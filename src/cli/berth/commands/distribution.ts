/**
 * Registry commands: pull, push (also as `image pull|push`), login, logout. Like Docker's CLI
 * they exit 1 on any failure (unknown image, unauthorised, unreachable, digest mismatch) with
 * one line on stderr; flag errors stay 125.
 */
import { Command, Option } from 'commander';
import { describeError, InvalidArgumentError } from '../../../common/errors.ts';

interface Globals {
  root: string;
  debug?: boolean;
}

function parseBool(v: string | undefined): boolean {
  if (v === undefined || v === '' || /^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new InvalidArgumentError(`invalid boolean value ${JSON.stringify(v)}`);
}

function parseCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError(`invalid number ${JSON.stringify(v)}`, 'expected 1..64');
  return n;
}

function parseBytes(v: string): number {
  const m = /^(\d+)\s*([kmg]?)i?b?$/i.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`invalid size ${JSON.stringify(v)}`);
  return Number(m[1]) * { '': 1, k: 1024, m: 1 << 20, g: 1 << 30 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
}

/** Runs a handler; a failure prints one line and sets exit status 1 (Docker's pull/push/login). */
function exitOne(fn: (...a: any[]) => Promise<void>): (...a: any[]) => Promise<void> {
  return async (...args) => {
    try {
      await fn(...args);
    } catch (err) {
      process.stderr.write(`berth: ${describeError(err)}\n`);
      if (process.env.BERTH_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
      process.exitCode = 1;
    }
  };
}

function common(cmd: Command): Command {
  return cmd
    .option('--authfile <file>', 'credentials file in Docker config.json format (env BERTH_AUTH_FILE)')
    .option('--registries-config <file>', 'registries configuration (env BERTH_REGISTRIES_CONFIG)')
    .addOption(new Option('--tls-verify [bool]', 'verify TLS; false also allows plain HTTP').argParser(parseBool));
}

async function context(o: { authfile?: string; registriesConfig?: string; tlsVerify?: boolean }) {
  const { RegistryConfig } = await import('../../../distribution/registries.ts');
  const { authFilePath } = await import('../../../distribution/authfile.ts');
  return {
    config: RegistryConfig.load(o.registriesConfig),
    authFile: authFilePath(o.authfile),
    ...(o.tlsVerify === undefined ? {} : { tlsVerify: o.tlsVerify }),
  };
}

async function store(c: Command) {
  const { Store } = await import('../../../store/store.ts');
  return Store.open((c.optsWithGlobals() as Globals).root);
}

function addPull(parent: Command, name: string): Command {
  return common(
    parent
      .command(name)
      .description('Download an image from a registry')
      .argument('<name>', 'NAME[:TAG|@DIGEST]')
      .option('-q, --quiet', 'suppress verbose output')
      .option('--platform <platform>', 'os/arch[/variant] to pick from a multi-platform image (default: this host)')
      .option('--max-concurrent-downloads <n>', 'layers downloaded at once', parseCount, 3),
  ).action(
    exitOne(async (ref: string, o, c: Command) => {
      const { pullImage } = await import('../../../distribution/pull.ts');
      const { createProgress, progressMode } = await import('../../../distribution/progress.ts');
      const { parsePlatform } = await import('../../../distribution/platform.ts');
      await pullImage(await store(c), ref, {
        ...(await context(o)),
        ...(o.platform ? { platform: parsePlatform(o.platform) } : {}),
        concurrency: o.maxConcurrentDownloads,
        progress: createProgress(progressMode(Boolean(o.quiet))),
      });
    }),
  );
}

function addPush(parent: Command, name: string): Command {
  return common(
    parent
      .command(name)
      .description('Upload an image to a registry')
      .argument('<name>', 'NAME[:TAG]')
      .option('-q, --quiet', 'suppress verbose output')
      .option('--max-concurrent-uploads <n>', 'blobs uploaded at once', parseCount, 3)
      .option('--chunk-size <size>', 'upload blobs larger than this in chunks of this size (e.g. 16M)', parseBytes),
  ).action(
    exitOne(async (ref: string, o, c: Command) => {
      const { pushImage } = await import('../../../distribution/push.ts');
      const { createProgress, progressMode } = await import('../../../distribution/progress.ts');
      await pushImage(await store(c), ref, {
        ...(await context(o)),
        concurrency: o.maxConcurrentUploads,
        ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}),
        progress: createProgress(progressMode(Boolean(o.quiet))),
      });
    }),
  );
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function prompt(question: string, hidden: boolean): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  if (hidden) (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => void (s.includes(question) && process.stdout.write(s));
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
    if (hidden) process.stdout.write('\n');
  }
}

export function registerDistributionCommands(program: Command): void {
  addPull(program, 'pull');
  addPush(program, 'push');
  const image = program.commands.find((c) => c.name() === 'image') ?? program.command('image').description('Manage images');
  addPull(image, 'pull');
  addPush(image, 'push');

  common(
    program
      .command('login')
      .description('Log in to a registry (default: Docker Hub)')
      .argument('[server]')
      .option('-u, --username <username>')
      .option('-p, --password <password>')
      .option('--password-stdin', 'take the password from stdin'),
  ).action(
    exitOne(async (server: string | undefined, o) => {
      const { login } = await import('../../../distribution/login.ts');
      if (o.password && o.passwordStdin) throw new InvalidArgumentError('--password and --password-stdin are mutually exclusive');
      if (o.passwordStdin && !o.username) throw new InvalidArgumentError('must provide --username with --password-stdin');
      const interactive = Boolean(process.stdin.isTTY);
      let username: string = o.username ?? (interactive ? await prompt('Username: ', false) : '');
      let password: string = o.password ?? (o.passwordStdin ? await readStdin() : interactive ? await prompt('Password: ', true) : '');
      username = username.trim();
      if (o.password) process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
      await login(server, { username, password }, await context(o));
      process.stdout.write('Login Succeeded\n');
    }),
  );

  program
    .command('logout')
    .description('Log out from a registry (default: Docker Hub)')
    .argument('[server]')
    .option('--authfile <file>', 'credentials file in Docker config.json format (env BERTH_AUTH_FILE)')
    .action(
      exitOne(async (server: string | undefined, o) => {
        const { logout } = await import('../../../distribution/login.ts');
        const { authFilePath } = await import('../../../distribution/authfile.ts');
        const r = logout(server, authFilePath(o.authfile));
        process.stdout.write(r.removed ? `Removing login credentials for ${r.domain}\n` : `Not logged in to ${r.domain}\n`);
      }),
    );
}
