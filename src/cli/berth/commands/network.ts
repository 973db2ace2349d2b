/**
 * `berth network create|ls|inspect|rm|prune|connect|disconnect`, with Docker's flags and output.
 * Handlers only parse, call the network library (loaded lazily: `berth ps` never pays for it) and
 * print. connect/disconnect act on a container's pinned namespace through the library, so they work
 * on any container that has networking, running or not.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from '../../../common/errors.ts';

interface Globals {
  root: string;
}

async function manager(cmd: Command) {
  const { NetworkManager } = await import('../../../network/manager.ts');
  return NetworkManager.open((cmd.optsWithGlobals() as Globals).root);
}

function out(s: string): void {
  process.stdout.write(s);
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function labels(list: string[]): Record<string, string> {
  const r: Record<string, string> = {};
  for (const l of list) {
    const i = l.indexOf('=');
    r[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  return r;
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return true;
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const a = await rl.question(question);
  rl.close();
  return /^y(es)?$/i.test(a.trim());
}

function addLs(cmd: Command, name: string): Command {
  return cmd
    .command(name)
    .description('List networks')
    .option('-q, --quiet', 'only display network IDs')
    .option('--no-trunc', "don't truncate the output")
    .option('-f, --filter <filter>', 'filter output (name=, id=, driver=, label=)', collect, [])
    .option('--format <format>', "'json' or a Go template")
    .action(async (o, c: Command) => {
      const { renderTemplate, table } = await import('../../../image/format.ts');
      let nets = await (await manager(c)).list();
      for (const f of o.filter as string[]) {
        const [k, v = ''] = f.split('=', 2) as [string, string?];
        if (k === 'name') nets = nets.filter((n) => n.name.includes(v));
        else if (k === 'id') nets = nets.filter((n) => n.id.startsWith(v));
        else if (k === 'driver') nets = nets.filter((n) => n.driver === v);
        else if (k === 'label') nets = nets.filter((n) => (v.includes('=') ? n.labels[v.split('=')[0]!] === v.split('=').slice(1).join('=') : v in n.labels));
        else throw new InvalidArgumentError(`invalid filter '${k}'`);
      }
      const id = (s: string) => (o.trunc ? s.slice(0, 12) : s);
      if (o.quiet) return out(nets.map((n) => `${id(n.id)}\n`).join(''));
      const rows = nets.map((n) => ({ ID: id(n.id), Name: n.name, Driver: n.driver, Scope: 'local', Subnet: n.subnet, Internal: n.internal }));
      if (o.format === 'json') return out(rows.map((r) => JSON.stringify(r) + '\n').join(''));
      if (o.format) return out(rows.map((r) => renderTemplate(o.format, r) + '\n').join(''));
      out(table(['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], rows.map((r) => [r.ID, r.Name, r.Driver, r.Scope])));
    });
}

export function registerNetworkCommands(program: Command): void {
  const net = program.command('network').description('Manage networks');
  net
    .command('create')
    .description('Create a network')
    .argument('<name>')
    .option('-d, --driver <driver>', 'driver to manage the network (only "bridge")', 'bridge')
    .option('--subnet <cidr>', 'subnet in CIDR format, e.g. 10.89.5.0/24')
    .option('--gateway <ip>', 'gateway of the subnet (default: its first address)')
    .option('--internal', 'restrict external access to the network')
    .option('--label <label>', 'set metadata on a network', collect, [])
    .option('--disable-dns', 'do not let containers resolve each other by name')
    .action(async (name: string, o, c: Command) => {
      if (o.driver !== 'bridge') throw new InvalidArgumentError(`network driver "${o.driver}" is not supported`, 'berth has the bridge driver only');
      const rec = await (await manager(c)).create({ name, subnet: o.subnet, gateway: o.gateway, internal: !!o.internal, labels: labels(o.label), dns: !o.disableDns });
      out(`${rec.id}\n`);
    });
  addLs(net, 'ls').alias('list');
  net
    .command('inspect')
    .description('Display detailed information on one or more networks')
    .argument('<network...>')
    .option('-f, --format <format>', 'format with a Go template')
    .action(async (refs: string[], o, c: Command) => {
      const { renderTemplate } = await import('../../../image/format.ts');
      const m = await manager(c);
      const docs = [];
      for (const r of refs) docs.push(await m.inspect(r));
      if (o.format && o.format !== 'json') out(docs.map((d) => renderTemplate(o.format, d) + '\n').join(''));
      else out(JSON.stringify(docs, null, 4) + '\n');
    });
  net
    .command('rm')
    .alias('remove')
    .description('Remove one or more networks')
    .argument('<network...>')
    .option('-f, --force', 'do not error if the network does not exist')
    .action(async (refs: string[], o, c: Command) => {
      const m = await manager(c);
      let failed: unknown;
      for (const r of refs) {
        try {
          await m.remove(r);
          out(`${r}\n`);
        } catch (err) {
          if (o.force && (err as { code?: string }).code === 'not-found') continue;
          const { describeError } = await import('../../../common/errors.ts');
          process.stderr.write(`berth: ${describeError(err)}\n`);
          failed = err;
        }
      }
      if (failed) process.exitCode = 1;
    });
  net
    .command('prune')
    .description('Remove all unused networks')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (o, c: Command) => {
      if (!o.force && !(await confirm('WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] '))) return;
      const gone = await (await manager(c)).prune();
      if (gone.length) out(`Deleted Networks:\n${gone.map((n) => `${n}\n`).join('')}`);
    });
  net
    .command('connect')
    .description('Connect a container to a network')
    .argument('<network>')
    .argument('<container>')
    .option('--alias <alias>', 'add a network-scoped alias for the container', collect, [])
    .option('--ip <address>', 'IPv4 address on the network')
    .action(async (network: string, container: string, o, c: Command) => {
      await (await manager(c)).connect(container, network, { aliases: o.alias, ...(o.ip ? { ip: o.ip } : {}) });
    });
  net
    .command('disconnect')
    .description('Disconnect a container from a network')
    .argument('<network>')
    .argument('<container>')
    .option('-f, --force', 'force the container to disconnect from a network')
    .action(async (network: string, container: string, _o, c: Command) => {
      await (await manager(c)).disconnect(container, network);
    });
}
