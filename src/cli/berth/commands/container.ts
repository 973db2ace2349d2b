/**
 * Container commands with Docker's flags and output: run, create, start, stop, kill, restart, rm,
 * ps, logs, exec, inspect, wait, top, stats, pause, unpause, rename, container prune.
 * Thin: flags in, one library call, output out.
 */
import { Command, Option } from 'commander';
import { InvalidArgumentError } from '../../../common/errors.ts';
import type { Engine } from '../../../engine/engine.ts';
import type { CreateOptions, MountSpec } from '../../../engine/options.ts';
import { collect, expandEnv, parseCpus, parseInteger, parseLabels, parseMount, parseSize, parseSwap, parseTmpfs, parseUlimit, parseVolume, readEnvFile } from '../flags.ts';

interface Globals {
  root: string;
}

async function engineOf(cmd: Command): Promise<Engine> {
  const { Engine } = await import('../../../engine/engine.ts');
  return new Engine((cmd.optsWithGlobals() as Globals).root);
}

function out(s: string): void {
  process.stdout.write(s);
}

/** The flags `run` and `create` share. */
function containerFlags(c: Command): Command {
  return c
    .option('-d, --detach', 'run in the background and print the container id')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a pseudo-terminal')
    .option('--rm', 'remove the container when it exits')
    .option('--name <name>', 'assign a name')
    .option('-e, --env <k=v>', 'set an environment variable', collect, [])
    .option('--env-file <file>', 'read environment variables from a file', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user[:group]>', 'user name or uid (and group)')
    .option('-h, --hostname <name>', 'container hostname')
    .option('--entrypoint <cmd>', 'override the image entrypoint')
    .option('-m, --memory <bytes>', 'memory limit (e.g. 4MB, 512m)', parseSize)
    .option('--memory-swap <bytes>', 'memory + swap limit; -1 for unlimited', parseSwap)
    .option('--memory-reservation <bytes>', 'memory soft limit', parseSize)
    .option('--cpus <n>', 'number of CPUs (e.g. 0.5)', parseCpus)
    .option('-c, --cpu-shares <n>', 'CPU shares (relative weight)', parseInteger('--cpu-shares'))
    .option('--cpuset-cpus <list>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--pids-limit <n>', 'tune the container pids limit (-1 for unlimited)', parseInteger('--pids-limit'))
    .option('--ulimit <name=soft[:hard]>', 'ulimit options', collect, [])
    .option('-v, --volume <spec>', 'bind mount a volume', collect, [])
    .option('--mount <spec>', 'attach a filesystem mount', collect, [])
    .option('--tmpfs <path[:opts]>', 'mount a tmpfs', collect, [])
    .option('--read-only', "mount the container's root filesystem read-only")
    .option('--cap-add <cap>', 'add a Linux capability', collect, [])
    .option('--cap-drop <cap>', 'drop a Linux capability', collect, [])
    .option('--privileged', 'give extended privileges to this container')
    .option('--security-opt <opt>', 'security options (seccomp=unconfined|FILE, no-new-privileges)', collect, [])
    .option('--network <mode>', 'bridge (default), none, host, container:<name|id>, or a network name')
    .option('--network-alias <alias>', 'add a network-scoped alias for the container', collect, [])
    .option('--ip <address>', 'IPv4 address on the (first) network')
    .option('-p, --publish <spec>', "publish a container's port to the host ([ip:][hostPort:]containerPort[/proto])", collect, [])
    .option('-P, --publish-all', 'publish all exposed ports to random host ports')
    .option('--dns <ip>', 'set custom DNS servers', collect, [])
    .option('--dns-search <domain>', 'set custom DNS search domains', collect, [])
    .option('--dns-option <opt>', 'set DNS options', collect, [])
    .option('--add-host <host:ip>', 'add a custom host-to-IP mapping', collect, [])
    .option('--init', 'run an init inside the container that forwards signals and reaps processes')
    .option('-l, --label <k=v>', 'set metadata on a container', collect, [])
    .option('--stop-signal <signal>', 'signal to stop the container')
    .option('--stop-timeout <seconds>', 'timeout (in seconds) to stop a container', parseInteger('--stop-timeout'))
    .option('--oom-kill-disable', 'disable the OOM killer')
    .addOption(new Option('--isolation <kind>', 'process (namespaces) or vm (a micro-VM)').choices(['process', 'vm']))
    .addOption(new Option('--accel <kind>', 'with --isolation vm: kvm, tcg or auto (default)').choices(['kvm', 'tcg', 'auto']))
    .option('--kernel <path>', 'with --isolation vm: the guest kernel (default the newest /boot/vmlinuz-*)')
    .addOption(new Option('--pull <policy>', 'pull the image before running: missing (default), always, never').choices(['missing', 'always', 'never']))
    .argument('<image>')
    .argument('[command...]')
    .passThroughOptions();
}

// commander's option bag for containerFlags
type Flags = Record<string, unknown> & {
  env: string[]; envFile: string[]; ulimit: string[]; volume: string[]; mount: string[]; tmpfs: string[];
  capAdd: string[]; capDrop: string[]; securityOpt: string[]; label: string[];
  networkAlias: string[]; publish: string[]; dns: string[]; dnsSearch: string[]; dnsOption: string[]; addHost: string[];
};

function createOptions(image: string, command: string[], o: Flags): CreateOptions {
  const mounts: MountSpec[] = [...o.volume.map(parseVolume), ...o.mount.map(parseMount), ...o.tmpfs.map(parseTmpfs)];
  const opts: CreateOptions = {
    image,
    cmd: command,
    env: [...o.envFile.flatMap(readEnvFile), ...expandEnv(o.env)],
    labels: parseLabels(o.label),
    tty: !!o.tty,
    interactive: !!o.interactive,
    mounts,
    binds: o.volume,
    ulimits: o.ulimit.map(parseUlimit),
    capAdd: o.capAdd,
    capDrop: o.capDrop,
    securityOpt: o.securityOpt,
    readOnly: !!o.readOnly,
    privileged: !!o.privileged,
    init: !!o.init,
    autoRemove: !!o.rm,
    oomKillDisable: !!o.oomKillDisable,
    networkAliases: o.networkAlias,
    publish: o.publish,
    publishAll: !!o.publishAll,
    dns: o.dns,
    dnsSearch: o.dnsSearch,
    dnsOptions: o.dnsOption,
    extraHosts: o.addHost,
  };
  const copy = <K extends keyof CreateOptions>(k: K, v: unknown) => {
    if (v !== undefined) opts[k] = v as CreateOptions[K];
  };
  copy('name', o.name);
  copy('workdir', o.workdir);
  copy('user', o.user);
  copy('hostname', o.hostname);
  copy('memory', o.memory);
  copy('memorySwap', o.memorySwap);
  copy('memoryReservation', o.memoryReservation);
  copy('cpus', o.cpus);
  copy('cpuShares', o.cpuShares);
  copy('cpusetCpus', o.cpusetCpus);
  copy('pidsLimit', o.pidsLimit);
  copy('stopSignal', o.stopSignal);
  copy('stopTimeout', o.stopTimeout);
  copy('isolation', o.isolation);
  copy('accel', o.accel);
  copy('kernel', o.kernel);
  copy('network', o.network);
  copy('ip', o.ip);
  copy('pull', o.pull);
  if (o.entrypoint !== undefined) opts.entrypoint = (o.entrypoint as string) === '' ? [] : [o.entrypoint as string];
  if (o.detach && o.rm === undefined) opts.autoRemove = false;
  return opts;
}

function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

function register(parent: Command, top: boolean): void {
  const name = (n: string) => parent.command(n);

  containerFlags(name('run').description('create and run a new container from an image')).action(async (image: string, command: string[], o: Flags, cmd: Command) => {
    const engine = await engineOf(cmd);
    const { runContainer } = await import('../../../engine/lifecycle.ts');
    const r = await runContainer(engine, { ...createOptions(image, command, o), detach: !!o.detach }, { stdin: !!o.interactive });
    if (o.detach) out(`${r.id}\n`);
    else process.exitCode = r.exitCode ?? 0;
  });

  containerFlags(name('create').description('create a new container')).action(async (image: string, command: string[], o: Flags, cmd: Command) => {
    const engine = await engineOf(cmd);
    const { createContainer } = await import('../../../engine/create.ts');
    out(`${(await createContainer(engine, createOptions(image, command, o))).Id}\n`);
  });

  name('start')
    .description('start one or more stopped containers')
    .option('-a, --attach', "attach stdout/stderr and forward signals")
    .option('-i, --interactive', "attach the container's stdin")
    .argument('<container...>')
    .action(async (refs: string[], o: { attach?: boolean; interactive?: boolean }, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { startContainer, waitAttached } = await import('../../../engine/start.ts');
      const { afterExit } = await import('../../../engine/lifecycle.ts');
      for (const ref of refs) {
        const rec = engine.records.resolve(ref);
        const attach = !!o.attach && refs.length === 1;
        const started = await startContainer(engine, rec, { attach, stdin: !!o.interactive });
        if (attach && started) {
          process.exitCode = await waitAttached(started);
          await afterExit(engine, rec.Id);
        } else {
          started?.session.detach();
          out(`${ref}\n`);
        }
      }
    });

  name('stop')
    .description('stop one or more running containers')
    .option('-t, --time <seconds>', 'seconds to wait before killing', parseInteger('--time'))
    .argument('<container...>')
    .action(async (refs: string[], o: { time?: number }, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { stopContainer } = await import('../../../engine/lifecycle.ts');
      await Promise.all(refs.map(async (ref) => {
        await stopContainer(engine, engine.records.resolve(ref), o.time);
        out(`${ref}\n`);
      }));
    });

  name('restart')
    .description('restart one or more containers')
    .option('-t, --time <seconds>', 'seconds to wait before killing', parseInteger('--time'))
    .argument('<container...>')
    .action(async (refs: string[], o: { time?: number }, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { restartContainer } = await import('../../../engine/lifecycle.ts');
      for (const ref of refs) {
        await restartContainer(engine, engine.records.resolve(ref), o.time);
        out(`${ref}\n`);
      }
    });

  name('kill')
    .description('kill one or more running containers')
    .option('-s, --signal <signal>', 'signal to send', 'KILL')
    .argument('<container...>')
    .action(async (refs: string[], o: { signal: string }, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { killContainer } = await import('../../../engine/lifecycle.ts');
      for (const ref of refs) {
        await killContainer(engine, engine.records.resolve(ref), o.signal);
        out(`${ref}\n`);
      }
    });

  const rm = name('rm');
  if (!top) rm.alias('remove');
  rm.description('remove one or more containers')
    .option('-f, --force', 'force the removal of a running container (uses SIGKILL)')
    .option('-v, --volumes', 'remove anonymous volumes associated with the container')
    .argument('<container...>')
    .action(async (refs: string[], o: { force?: boolean; volumes?: boolean }, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { removeContainer } = await import('../../../engine/lifecycle.ts');
      let failed: unknown;
      await Promise.all(refs.map(async (ref) => {
        try {
          await removeContainer(engine, engine.records.resolve(ref), o);
          out(`${ref}\n`);
        } catch (e) {
          failed ??= e;
          const { describeError } = await import('../../../common/errors.ts');
          process.stderr.write(`berth: ${describeError(e)}\n`);
        }
      }));
      if (failed) process.exitCode = 1;
    });

  const ps = name(top ? 'ps' : 'ls');
  if (!top) ps.alias('ps');
  ps.description('list containers')
    .option('-a, --all', 'show all containers (default shows just running)')
    .option('-q, --quiet', 'only display container IDs')
    .option('--no-trunc', "don't truncate output")
    .option('-f, --filter <filter>', 'filter output (status=, name=, id=, label=, ancestor=)', collect, [])
    .option('--format <format>', 'json, or table (default)')
    .action(async (o: { all?: boolean; quiet?: boolean; trunc?: boolean; filter: string[]; format?: string }, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { listContainers } = await import('../../../engine/views.ts');
      const list = listContainers(engine, { all: o.all || o.filter.length > 0, filters: o.filter });
      const id = (s: string) => (o.trunc === false ? s : s.slice(0, 12));
      if (o.quiet) return out(list.map((c) => `${id(c.ID)}\n`).join(''));
      if (o.format === 'json') return out(list.map((c) => `${JSON.stringify({ ...c, ID: id(c.ID) })}\n`).join(''));
      const { since } = await import('../../../image/format.ts');
      const ports = new Map<string, string>();
      if (list.some((c) => c.State === 'running')) {
        const net = await engine.network();
        for (const c of list) {
          const a = net.get(c.ID);
          if (a?.ports.length) ports.set(c.ID, a.ports.map((p) => `${p.hostIP || '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.protocol}`).join(', '));
        }
      }
      out(
        table(
          ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'ISOLATION', 'NAMES'],
          list.map((c) => [
            id(c.ID),
            c.Image,
            JSON.stringify(o.trunc === false || c.Command.length <= 20 ? c.Command : `${c.Command.slice(0, 19)}…`),
            since(c.CreatedAt),
            c.Status,
            ports.get(c.ID) ?? '',
            c.Isolation,
            c.Names,
          ]),
        ),
      );
    });

  name('logs')
    .description('fetch the logs of a container')
    .option('-f, --follow', 'follow log output')
    .option('-n, --tail <n>', 'number of lines to show from the end of the logs (or "all")')
    .option('-t, --timestamps', 'show timestamps')
    .option('--since <time>', 'show logs since a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)')
    .argument('<container>')
    .action(async (ref: string, o: { follow?: boolean; tail?: string; timestamps?: boolean; since?: string }, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { streamLogs } = await import('../../../engine/logs.ts');
      const tail = o.tail === undefined || o.tail === 'all' ? undefined : parseInteger('--tail')(o.tail);
      await streamLogs(engine, engine.records.resolve(ref), { follow: o.follow, tail, timestamps: o.timestamps, since: o.since }, (e, text) =>
        (e.stream === 'stderr' ? process.stderr : process.stdout).write(text),
      );
    });

  name('exec')
    .description('execute a command in a running container')
    .option('-d, --detach', 'run the command in the background')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a pseudo-terminal')
    .option('-e, --env <k=v>', 'set environment variables', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user[:group]>', 'user name or uid (and group)')
    .argument('<container>')
    .argument('<command...>')
    .passThroughOptions()
    .action(async (ref: string, command: string[], o: { detach?: boolean; interactive?: boolean; tty?: boolean; env: string[]; workdir?: string; user?: string }, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { execInContainer } = await import('../../../engine/exec.ts');
      const opts = { cmd: command, env: expandEnv(o.env), tty: !!o.tty, interactive: !!o.interactive, detach: !!o.detach } as Parameters<typeof execInContainer>[2];
      if (o.workdir) opts.workdir = o.workdir;
      if (o.user) opts.user = o.user;
      process.exitCode = await execInContainer(engine, engine.records.resolve(ref), opts);
    });

  name('inspect')
    .description('display detailed information on one or more containers')
    .option('-f, --format <template>', 'format the output using a Go-like template')
    .argument('<container...>')
    .action(async (refs: string[], o: { format?: string }, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { inspectContainer, networkSettings } = await import('../../../engine/views.ts');
      const docs = await Promise.all(
        refs.map(async (r) => {
          const rec = engine.records.resolve(r);
          return { ...inspectContainer(engine, rec), NetworkSettings: await networkSettings(engine, rec) };
        }),
      );
      if (o.format) {
        const { renderTemplate } = await import('../../../image/format.ts');
        return out(docs.map((d) => `${renderTemplate(o.format!, d)}\n`).join(''));
      }
      out(`${JSON.stringify(docs, null, 4)}\n`);
    });

  name('wait')
    .description('block until one or more containers stop, then print their exit codes')
    .argument('<container...>')
    .action(async (refs: string[], _o: unknown, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { waitContainer } = await import('../../../engine/lifecycle.ts');
      for (const ref of refs) out(`${await waitContainer(engine, engine.records.resolve(ref))}\n`);
    });

  name('top')
    .description('display the running processes of a container')
    .argument('<container>')
    .argument('[ps-options...]')
    .passThroughOptions()
    .action(async (ref: string, psArgs: string[], _o: unknown, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { topContainer } = await import('../../../engine/misc.ts');
      out(topContainer(engine, engine.records.resolve(ref), psArgs));
    });

  name('stats')
    .description('display resource usage statistics (from the cgroup files)')
    .option('--no-stream', 'print one sample and exit')
    .option('--format <format>', 'json, or table (default)')
    .argument('[container...]')
    .action(async (refs: string[], o: { stream?: boolean; format?: string }, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { statsSample } = await import('../../../engine/misc.ts');
      const { humanSize } = await import('../../../image/format.ts');
      const recs = refs.length ? refs.map((r) => engine.records.resolve(r)) : engine.records.list();
      for (;;) {
        const samples = await Promise.all(recs.map((r) => statsSample(engine, r)));
        if (o.format === 'json') out(samples.map((s) => `${JSON.stringify(s)}\n`).join(''));
        else
          out(
            table(
              ['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'BLOCK I/O', 'PIDS'],
              samples.map((s) => [
                s.id.slice(0, 12),
                s.name,
                `${s.cpuPercent.toFixed(2)}%`,
                `${humanSize(s.memUsage)} / ${s.memLimit ? humanSize(s.memLimit) : 'unlimited'}`,
                `${s.memPercent.toFixed(2)}%`,
                `${humanSize(s.blockRead)} / ${humanSize(s.blockWrite)}`,
                String(s.pids),
              ]),
            ),
          );
        if (o.stream === false) return;
      }
    });

  name('pause')
    .description('pause all processes within one or more containers')
    .argument('<container...>')
    .action(async (refs: string[], _o: unknown, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { pauseContainer } = await import('../../../engine/misc.ts');
      for (const ref of refs) {
        pauseContainer(engine, engine.records.resolve(ref));
        out(`${ref}\n`);
      }
    });

  name('unpause')
    .description('unpause all processes within one or more containers')
    .argument('<container...>')
    .action(async (refs: string[], _o: unknown, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { unpauseContainer } = await import('../../../engine/misc.ts');
      for (const ref of refs) {
        unpauseContainer(engine, engine.records.resolve(ref));
        out(`${ref}\n`);
      }
    });

  name('port')
    .description('list port mappings or a specific mapping for the container')
    .argument('<container>')
    .argument('[port]', 'PRIVATE_PORT[/PROTO]')
    .action(async (ref: string, port: string | undefined, _o: unknown, cmd: Command) => {
      const engine = await engineOf(cmd);
      const rec = engine.records.resolve(ref);
      const { formatPorts } = await import('../../../network/ports.ts');
      const a = (await engine.network()).get(rec.Id);
      const lines = formatPorts(a?.ports ?? [], port);
      if (port !== undefined && !lines.length) throw new (await import('../../../common/errors.ts')).NotFoundError(`No public port '${port}${port.includes('/') ? '' : '/tcp'}' published for ${ref}`);
      out(lines.map((l) => `${l}\n`).join(''));
    });

  name('rename')
    .description('rename a container')
    .argument('<container>')
    .argument('<new-name>')
    .action(async (ref: string, newName: string, _o: unknown, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { renameContainer } = await import('../../../engine/misc.ts');
      renameContainer(engine, engine.records.resolve(ref), newName);
    });
}

export function registerContainerCommands(program: Command): void {
  register(program, true);
  const container = program.command('container').description('Manage containers');
  register(container, false);
  container
    .command('prune')
    .description('remove all stopped containers')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (_o: unknown, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { pruneContainers } = await import('../../../engine/misc.ts');
      const ids = await pruneContainers(engine);
      out(`Deleted Containers:\n${ids.map((i) => `${i}\n`).join('')}\nTotal reclaimed space: 0B\n`);
    });
  // the monitor of an `--isolation vm` container (src/engine/vm-monitor.ts), spawned by start
  container
    .command('vm-monitor', { hidden: true })
    .argument('<id>')
    .option('--attached', "tee the output to our stdout/stderr and exit with the container's status")
    .option('--stdin', "give the main process our stdin")
    .action(async (id: string, o: { attached?: boolean; stdin?: boolean }, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { runVmMonitor } = await import('../../../engine/vm-monitor.ts');
      process.exit(await runVmMonitor(engine, id, { attached: !!o.attached, stdin: !!o.stdin }));
    });
  // run by a container's monitor once the container has ended and no attached berth is there
  container
    .command('cleanup', { hidden: true })
    .argument('<id>')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { afterExit } = await import('../../../engine/lifecycle.ts');
      await afterExit(engine, id);
    });
}

export function registerVolumeCommands(program: Command): void {
  const volume = program.command('volume').description('Manage volumes');
  volume
    .command('create')
    .description('create a volume')
    .argument('[name]')
    .option('-l, --label <k=v>', 'set metadata on a volume', collect, [])
    .action(async (name: string | undefined, o: { label: string[] }, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { createVolume } = await import('../../../engine/volumes.ts');
      const { randomBytes } = await import('node:crypto');
      out(`${createVolume(engine, name ?? randomBytes(32).toString('hex'), parseLabels(o.label), { exclusive: name !== undefined }).Name}\n`);
    });
  volume
    .command('ls')
    .alias('list')
    .description('list volumes')
    .option('-q, --quiet', 'only display volume names')
    .option('--format <format>', 'json, or table (default)')
    .action(async (o: { quiet?: boolean; format?: string }, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { listVolumes } = await import('../../../engine/volumes.ts');
      const vols = listVolumes(engine);
      if (o.quiet) return out(vols.map((v) => `${v.Name}\n`).join(''));
      if (o.format === 'json') return out(vols.map((v) => `${JSON.stringify(v)}\n`).join(''));
      out(table(['DRIVER', 'VOLUME NAME'], vols.map((v) => [v.Driver, v.Name])));
    });
  volume
    .command('inspect')
    .description('display detailed information on one or more volumes')
    .argument('<name...>')
    .action(async (names: string[], _o: unknown, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { inspectVolume } = await import('../../../engine/volumes.ts');
      out(`${JSON.stringify(names.map((n) => inspectVolume(engine, n)), null, 4)}\n`);
    });
  volume
    .command('rm')
    .alias('remove')
    .description('remove one or more volumes')
    .option('-f, --force', 'remove even when in use by a container')
    .argument('<name...>')
    .action(async (names: string[], o: { force?: boolean }, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { removeVolume } = await import('../../../engine/volumes.ts');
      for (const n of names) {
        removeVolume(engine, n, o.force);
        out(`${n}\n`);
      }
    });
  volume
    .command('prune')
    .description('remove unused volumes')
    .option('-a, --all', 'remove all unused volumes, not just anonymous ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (o: { all?: boolean }, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { pruneVolumes } = await import('../../../engine/volumes.ts');
      out(`Deleted Volumes:\n${pruneVolumes(engine, o.all).map((n) => `${n}\n`).join('')}`);
    });

  const system = program.commands.find((c) => c.name() === 'system') ?? program.command('system').description('Manage berth');
  system
    .command('prune')
    .description('remove stopped containers, dangling images and what crashed berth processes left behind')
    .option('-a, --all', 'remove all unused images, not just dangling ones')
    .option('--volumes', 'prune anonymous volumes')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (o: { all?: boolean; volumes?: boolean }, cmd: Command) => {
      const engine = await engineOf(cmd);
      const { pruneContainers } = await import('../../../engine/misc.ts');
      const { sweepStrays } = await import('../../../engine/sweep.ts');
      const { pruneImages } = await import('../../../image/remove.ts');
      const containers = await pruneContainers(engine);
      const strays = await sweepStrays(engine);
      const netSweep = await (await engine.network()).sweep((id) => engine.records.get(id) !== undefined);
      const images = await pruneImages(await engine.store(), { all: o.all });
      let volumes: string[] = [];
      if (o.volumes) volumes = (await import('../../../engine/volumes.ts')).pruneVolumes(engine);
      out(`Deleted Containers:\n${containers.map((i) => `${i}\n`).join('')}`);
      if (volumes.length) out(`Deleted Volumes:\n${volumes.map((v) => `${v}\n`).join('')}`);
      out(`Deleted Images:\n${images.deleted.map((d) => `deleted: ${d}\n`).join('')}`);
      const n =
        strays.runtimeStates.length + strays.cgroups.length + strays.leases.length + strays.names.length + strays.vms.length +
        netSweep.attachments.length + netSweep.netns.length + netSweep.veths.length;
      if (n) out(`Cleaned up after crashed processes: ${n} item(s)\n`);
      const { humanSize } = await import('../../../image/format.ts');
      out(`\nTotal reclaimed space: ${humanSize(images.reclaimed)}\n`);
    });
  system
    .command('reset')
    .description('remove every container, image, volume and network of this root, the default network too (as podman system reset)')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (o: { force?: boolean }, cmd: Command) => {
      if (!o.force) throw new InvalidArgumentError('system reset removes everything under this root: confirm with --force');
      const engine = await engineOf(cmd);
      const { removeContainer } = await import('../../../engine/lifecycle.ts');
      const { pruneImages } = await import('../../../image/remove.ts');
      const { pruneVolumes } = await import('../../../engine/volumes.ts');
      for (const rec of engine.records.list()) await removeContainer(engine, rec, { force: true, volumes: true });
      const net = await engine.network();
      await net.sweep(() => false);
      const networks = await net.reset();
      const images = await pruneImages(await engine.store(), { all: true });
      const volumes = pruneVolumes(engine, true);
      out(`Removed: ${images.deleted.length} image layer(s) and config(s), ${volumes.length} volume(s), networks ${networks.join(', ') || '(none)'}\n`);
    });
}

export function registerCpCommand(program: Command): void {
  for (const parent of [program, program.commands.find((c) => c.name() === 'container')!]) {
    parent
      .command('cp')
      .description('copy files between a container and the host (CONTAINER:SRC DEST or SRC CONTAINER:DEST)')
      .argument('<src>')
      .argument('<dest>')
      .action(async (src: string, dest: string, _o: unknown, cmd: Command) => {
        const engine = await engineOf(cmd);
        const { copy } = await import('../../../engine/cp.ts');
        await copy(engine, src, dest);
      });
  }
}
