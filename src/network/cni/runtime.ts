/**
 * The runtime side of CNI for a network configuration list: ADD runs the plugins in order, each
 * getting the previous plugin's result as `prevResult`; DEL runs them in reverse with the cached ADD
 * result; CHECK runs them in order with it. Capability arguments (port mappings) go only to plugins
 * that declare the capability, inside `runtimeConfig`, as the conventions document says.
 */
import { InvalidConfigError } from '../../common/errors.ts';
import type { NetConfList, PluginConf } from '../conflist.ts';
import { CNI_ERR, CniError, execPlugin, IPTABLES_PLUGINS, type CniCommand, type ExecOptions } from './exec.ts';

/** A CNI 1.0 result, the parts berth reads. */
export interface CniResult {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
}

export interface RuntimeConf {
  containerId: string;
  netns: string;
  ifName: string;
  args?: readonly (readonly [string, string])[];
  /** Capability name → value, e.g. { portMappings: [...] }. */
  capabilityArgs?: Record<string, unknown>;
}

/** The stdin of one plugin of the list. */
export function pluginStdin(list: NetConfList, plugin: PluginConf, rt: RuntimeConf, prevResult: CniResult | undefined): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, enabled] of Object.entries(plugin.capabilities ?? {}))
    if (enabled && rt.capabilityArgs && cap in rt.capabilityArgs) runtimeConfig[cap] = rt.capabilityArgs[cap];
  if (Object.keys(runtimeConfig).length) conf.runtimeConfig = runtimeConfig;
  if (prevResult) conf.prevResult = prevResult;
  return conf;
}

function invoke(command: CniCommand, list: NetConfList, plugin: PluginConf, rt: RuntimeConf, prev: CniResult | undefined, opts: ExecOptions) {
  const run = () =>
    execPlugin(
      plugin.type,
      { command, containerId: rt.containerId, netns: rt.netns, ifName: rt.ifName, args: rt.args ?? [], config: pluginStdin(list, plugin, rt, prev) },
      opts,
    );
  return opts.serialize && IPTABLES_PLUGINS.has(plugin.type) ? opts.serialize(run) : run();
}

function asResult(plugin: string, value: unknown): CniResult {
  if (!value || typeof value !== 'object' || typeof (value as CniResult).cniVersion !== 'string')
    throw new CniError(plugin, 'ADD', CNI_ERR.DECODE_FAILURE, 'returned no CNI result');
  return value as CniResult;
}

function checkList(list: NetConfList): void {
  if (!list.name || !list.cniVersion || !Array.isArray(list.plugins) || list.plugins.length === 0)
    throw new InvalidConfigError(`CNI configuration list "${list.name ?? ''}" needs a name, a cniVersion and plugins`);
}

/**
 * ADD through the whole list. On failure nothing is undone here: the caller runs `delList` (the
 * spec's rule: a runtime cleans up a failed ADD with DEL), after it has recorded what it tried.
 */
export async function addList(list: NetConfList, rt: RuntimeConf, opts: ExecOptions): Promise<CniResult> {
  checkList(list);
  let prev: CniResult | undefined;
  for (const plugin of list.plugins) prev = asResult(plugin.type, await invoke('ADD', list, plugin, rt, prev, opts));
  return prev!;
}

/**
 * DEL in reverse order. Every plugin runs even if an earlier one failed (a half-torn-down container
 * is worse than a reported error); the first error is rethrown at the end.
 */
export async function delList(list: NetConfList, rt: RuntimeConf, cached: CniResult | undefined, opts: ExecOptions): Promise<void> {
  checkList(list);
  let first: unknown;
  for (const plugin of [...list.plugins].reverse()) {
    try {
      await invoke('DEL', list, plugin, rt, cached, opts);
    } catch (err) {
      first ??= err;
    }
  }
  if (first) throw first;
}

/**
 * CHECK in order with the cached result (CNI ≥ 0.4.0; skipped when the list disables it). `skip`
 * leaves out plugins whose CHECK is known to be wrong for this result.
 */
export async function checkListState(list: NetConfList, rt: RuntimeConf, cached: CniResult, opts: ExecOptions, skip: (p: PluginConf) => boolean = () => false): Promise<void> {
  checkList(list);
  if (list.disableCheck) return;
  for (const plugin of list.plugins) if (!skip(plugin)) await invoke('CHECK', list, plugin, rt, cached, opts);
}

/** VERSION of one plugin: which spec versions it speaks. */
export async function pluginVersions(type: string, opts: ExecOptions): Promise<string[]> {
  const r = (await execPlugin(type, { command: 'VERSION', containerId: '', netns: '', ifName: '', config: { cniVersion: '1.0.0' } }, opts)) as
    | { supportedVersions?: string[] }
    | undefined;
  return r?.supportedVersions ?? [];
}
