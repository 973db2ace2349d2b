/**
 * `--change` for `berth import`: the Dockerfile instructions Docker accepts there (CMD, ENTRYPOINT,
 * ENV, WORKDIR, USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL), applied to an image config.
 */
import { InvalidArgumentError } from '../common/errors.ts';
import type { ContainerConfigJson } from './media.ts';

/** JSON (exec) form if the argument is a JSON string array, else shell form. */
function commandForm(arg: string): string[] {
  const t = arg.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
    } catch {
      /* not JSON: shell form, as Docker does */
    }
  }
  return ['/bin/sh', '-c', t];
}

/** `k=v k2="v 2"` or the legacy `k v` form. */
function keyValues(arg: string, legacy: boolean): [string, string][] {
  const t = arg.trim();
  if (legacy && !/^[^\s=]+=/.test(t)) {
    const m = /^(\S+)\s+(.*)$/s.exec(t);
    if (!m) throw new InvalidArgumentError(`ENV needs a value: ${arg}`);
    return [[m[1]!, m[2]!]];
  }
  const out: [string, string][] = [];
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const m of t.matchAll(re)) {
    let v = m[2]!;
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    else if (v.startsWith("'")) v = v.slice(1, -1);
    out.push([m[1]!, v]);
  }
  if (out.length === 0) throw new InvalidArgumentError(`expected key=value: ${arg}`);
  return out;
}

/** Applies each change to `config` (mutated and returned). */
export function applyChanges(config: ContainerConfigJson, changes: readonly string[]): ContainerConfigJson {
  for (const change of changes) {
    const m = /^\s*(\w+)\s+(.*)$/s.exec(change);
    if (!m) throw new InvalidArgumentError(`invalid --change: ${JSON.stringify(change)}`);
    const op = m[1]!.toUpperCase();
    const arg = m[2]!;
    switch (op) {
      case 'CMD':
        config.Cmd = commandForm(arg);
        break;
      case 'ENTRYPOINT':
        config.Entrypoint = commandForm(arg);
        break;
      case 'ENV': {
        const env = config.Env ?? [];
        for (const [k, v] of keyValues(arg, true)) {
          const i = env.findIndex((e) => e.startsWith(`${k}=`));
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        config.Env = env;
        break;
      }
      case 'WORKDIR':
        config.WorkingDir = arg.trim();
        break;
      case 'USER':
        config.User = arg.trim();
        break;
      case 'EXPOSE':
        for (const p of arg.trim().split(/\s+/)) (config.ExposedPorts ??= {})[p.includes('/') ? p : `${p}/tcp`] = {};
        break;
      case 'LABEL':
        for (const [k, v] of keyValues(arg, false)) (config.Labels ??= {})[k] = v;
        break;
      case 'VOLUME':
        for (const v of commandForm(arg)[0] === '/bin/sh' ? arg.trim().split(/\s+/) : commandForm(arg)) (config.Volumes ??= {})[v] = {};
        break;
      case 'STOPSIGNAL':
        config.StopSignal = arg.trim();
        break;
      default:
        throw new InvalidArgumentError(`--change does not support ${op}`, 'supported: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR');
    }
  }
  return config;
}
