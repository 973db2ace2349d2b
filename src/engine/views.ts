/** `inspect` and `ps`: what a container is, in Docker's field names. */
import { Engine } from './engine.ts';
import type { ContainerRecord } from './record.ts';
import { containerState, type ContainerState } from './state.ts';
import { vmInspect, type VmInspect } from './vm-inspect.ts';

export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  HostConfig: ContainerRecord['HostConfig'] & { LogConfig: { Type: string; Config: Record<string, string> } };
  Mounts: ContainerRecord['Mounts'];
  Config: ContainerRecord['Config'];
  GraphDriver: { Name: string; Data: Record<string, string> };
  NetworkSettings: NetworkSettings;
  /** `--isolation vm` only: the guest kernel and accelerator of the last boot. */
  Vm?: VmInspect;
}

export interface NetworkSettings {
  SandboxKey: string;
  IPAddress: string;
  Gateway: string;
  MacAddress: string;
  Ports: Record<string, { HostIp: string; HostPort: string }[] | null>;
  Networks: Record<string, { IPAddress: string; IPPrefixLen: number; Gateway: string; MacAddress: string; Aliases: string[] }>;
}

/** Docker's NetworkSettings from the network library's record of the container (empty when stopped). */
export async function networkSettings(engine: Engine, rec: ContainerRecord): Promise<NetworkSettings> {
  const ns: NetworkSettings = { SandboxKey: '', IPAddress: '', Gateway: '', MacAddress: '', Ports: {}, Networks: {} };
  if (!Engine.usesCni(rec)) return ns;
  const a = (await engine.network()).get(rec.Id);
  if (!a) return ns;
  ns.SandboxKey = a.netnsPath ?? '';
  for (const i of a.interfaces) {
    const [ip = '', len = '0'] = (i.addresses[0] ?? '').split('/');
    ns.Networks[i.network] = { IPAddress: ip, IPPrefixLen: Number(len), Gateway: i.gateway ?? '', MacAddress: i.mac, Aliases: rec.NetworkRequest?.aliases ?? [] };
  }
  const first = a.interfaces[0];
  if (first) {
    ns.IPAddress = ns.Networks[first.network]!.IPAddress;
    ns.Gateway = first.gateway ?? '';
    ns.MacAddress = first.mac;
  }
  for (const p of a.ports) (ns.Ports[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIP || '0.0.0.0', HostPort: String(p.hostPort) });
  return ns;
}

export function inspectContainer(engine: Engine, rec: ContainerRecord): ContainerInspect {
  const dir = engine.layout.container(rec.Id);
  return {
    Id: rec.Id,
    Created: rec.Created,
    Path: rec.Path,
    Args: rec.Args,
    State: containerState(engine, rec),
    Image: rec.Image,
    ResolvConfPath: `${dir}/resolv.conf`,
    HostnamePath: `${dir}/hostname`,
    HostsPath: `${dir}/hosts`,
    LogPath: engine.layout.log(rec.Id),
    Name: rec.Name,
    RestartCount: rec.RestartCount,
    Driver: rec.Driver,
    Platform: 'linux',
    HostConfig: { ...rec.HostConfig, LogConfig: { Type: 'json-file', Config: {} } },
    Mounts: rec.Mounts,
    Config: rec.Config,
    GraphDriver: { Name: rec.Driver, Data: {} },
    NetworkSettings: { SandboxKey: '', IPAddress: '', Gateway: '', MacAddress: '', Ports: {}, Networks: {} },
    ...(rec.HostConfig.Isolation === 'vm' ? { Vm: vmInspect(engine, rec) } : {}),
  };
}

export interface PsEntry {
  ID: string;
  Image: string;
  Command: string;
  CreatedAt: string;
  Status: string;
  State: string;
  Names: string;
  Labels: Record<string, string>;
  Isolation: string;
}

function ago(iso: string): string {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 1) return 'Less than a second';
  if (s < 2) return '1 second';
  if (s < 60) return `${Math.floor(s)} seconds`;
  if (s < 3600) return `${Math.floor(s / 60)} minute${s < 120 ? '' : 's'}`;
  if (s < 86400) return `${Math.floor(s / 3600)} hour${s < 7200 ? '' : 's'}`;
  return `${Math.floor(s / 86400)} days`;
}

/** Docker's human status: "Up 3 minutes", "Exited (0) 2 seconds ago", "Created". */
export function humanStatus(st: ContainerState): string {
  if (st.Status === 'running') return `Up ${ago(st.StartedAt)}`;
  if (st.Status === 'paused') return `Up ${ago(st.StartedAt)} (Paused)`;
  if (st.Status === 'exited') return st.FinishedAt.startsWith('0001') ? `Exited (${st.ExitCode})` : `Exited (${st.ExitCode}) ${ago(st.FinishedAt)} ago`;
  return 'Created';
}

export function listContainers(engine: Engine, opts: { all?: boolean; filters?: string[] } = {}): PsEntry[] {
  const out: { e: PsEntry; created: string }[] = [];
  for (const rec of engine.records.list()) {
    const st = containerState(engine, rec);
    const e: PsEntry = {
      ID: rec.Id,
      Image: rec.Config.Image,
      Command: [rec.Path, ...rec.Args].join(' '),
      CreatedAt: rec.Created,
      Status: humanStatus(st),
      State: st.Status,
      Names: rec.Name.replace(/^\//, ''),
      Labels: rec.Config.Labels,
      Isolation: rec.HostConfig.Isolation,
    };
    if (!opts.all && !st.Running) continue;
    if (!matches(e, rec, opts.filters ?? [])) continue;
    out.push({ e, created: rec.Created });
  }
  return out.sort((a, b) => b.created.localeCompare(a.created)).map((x) => x.e);
}

function matches(e: PsEntry, rec: ContainerRecord, filters: string[]): boolean {
  for (const f of filters) {
    const i = f.indexOf('=');
    const k = f.slice(0, i);
    const v = f.slice(i + 1);
    if (k === 'status' && e.State !== v) return false;
    if (k === 'name' && !e.Names.includes(v)) return false;
    if (k === 'id' && !rec.Id.startsWith(v)) return false;
    if (k === 'label') {
      const [lk, lv] = v.split('=', 2);
      if (!(lk! in e.Labels) || (lv !== undefined && e.Labels[lk!] !== lv)) return false;
    }
    if (k === 'ancestor' && e.Image !== v && rec.Image !== v && !rec.Image.startsWith(`sha256:${v}`)) return false;
  }
  return true;
}
