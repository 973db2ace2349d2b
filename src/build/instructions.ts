/**
 * The instructions that only change the image config (ENV, LABEL, CMD, ENTRYPOINT, …), as pure
 * functions of the stage's config, so they are unit-tested without an engine. Docker's rules kept
 * here: ENV sees the environment from *before* the instruction for all its pairs; shell forms run
 * through the stage's SHELL; an ENTRYPOINT resets a CMD inherited from the base image but not one
 * set earlier in the same stage; EXPOSE defaults to /tcp and expands port ranges; HEALTHCHECK
 * durations are Go durations stored as nanoseconds.
 */
import type { ContainerConfigJson } from '../image/media.ts';
import type { Step } from './dockerfile.ts';
import { BuildError } from './errors.ts';
import { expandWord, expandWords, rawPairs, type Lookup } from './words.ts';

export const DEFAULT_SHELL = ['/bin/sh', '-c'];
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface MetaState {
  config: ContainerConfigJson;
  /** CMD was set by this stage (then ENTRYPOINT keeps it). */
  cmdSet: boolean;
  author?: string;
}

export function envMap(env: readonly string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env ?? []) {
    const i = e.indexOf('=');
    m.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
  }
  return m;
}

function setEnv(config: ContainerConfigJson, key: string, value: string): void {
  const env = [...(config.Env ?? [])];
  const i = env.findIndex((e) => e.split('=', 1)[0] === key);
  if (i >= 0) env[i] = `${key}=${value}`;
  else env.push(`${key}=${value}`);
  config.Env = env;
}

export function shellOf(config: ContainerConfigJson): string[] {
  const s = config.Shell;
  return Array.isArray(s) && s.length ? (s as string[]) : DEFAULT_SHELL;
}

/** Exec form as is; shell form through the stage's shell. */
export function commandOf(step: Step, config: ContainerConfigJson): string[] {
  return step.json ?? [...shellOf(config), step.args];
}

/** Go's time.ParseDuration, in nanoseconds. */
export function parseDuration(s: string): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * units[m[2]!]!;
    end = re.lastIndex;
  }
  if (end !== s.length || s.length === 0) throw new BuildError(`time: invalid duration "${s}"`);
  return Math.round(total);
}

function flag(step: Step, name: string): string | undefined {
  return step.flags.find((f) => f.name === name)?.value ?? undefined;
}

function checkFlags(step: Step, allowed: string[]): void {
  for (const f of step.flags) if (!allowed.includes(f.name)) throw new BuildError(`Unknown flag: ${f.name}`);
}

/**
 * Applies a config-only instruction to `st` (mutated). `lookup` resolves variables (ENV over ARG).
 * Returns false when `step` is not a config-only instruction.
 */
export function applyMeta(st: MetaState, step: Step, lookup: Lookup, esc: string): boolean {
  const c = st.config;
  switch (step.keyword) {
    case 'ENV': {
      checkFlags(step, []);
      const pairs = rawPairs(step.args, esc);
      if (pairs.length === 0) throw new BuildError('ENV requires at least one argument');
      if (pairs[0]!.value === undefined) {
        // legacy `ENV key value with spaces`
        const m = /^(\S+)\s+([\s\S]*)$/.exec(step.args);
        if (!m) throw new BuildError('ENV names can not be blank');
        setEnv(c, m[1]!, expandWord(m[2]!, lookup, esc));
        return true;
      }
      for (const p of pairs) {
        if (p.value === undefined) throw new BuildError(`ENV ${p.key}: syntax error - can't find = in "${p.key}". Must be of the form: name=value`);
        setEnv(c, expandWord(p.key, lookup, esc), expandWord(p.value, lookup, esc));
      }
      return true;
    }
    case 'LABEL': {
      checkFlags(step, []);
      const pairs = rawPairs(step.args, esc);
      if (pairs.length === 0) throw new BuildError('LABEL requires at least one argument');
      const labels = { ...(c.Labels ?? {}) };
      for (const p of pairs) {
        if (p.value === undefined) throw new BuildError(`LABEL ${p.key}: syntax error - can't find = in "${p.key}". Must be of the form: name=value`);
        labels[expandWord(p.key, lookup, esc)] = expandWord(p.value, lookup, esc);
      }
      c.Labels = labels;
      return true;
    }
    case 'MAINTAINER':
      st.author = step.args;
      return true;
    case 'CMD':
      checkFlags(step, []);
      c.Cmd = commandOf(step, c);
      st.cmdSet = true;
      return true;
    case 'ENTRYPOINT':
      checkFlags(step, []);
      c.Entrypoint = commandOf(step, c);
      if (!st.cmdSet) c.Cmd = null;
      return true;
    case 'SHELL':
      if (!step.json || step.json.length === 0) throw new BuildError('SHELL requires the arguments to be in JSON form');
      c.Shell = step.json;
      return true;
    case 'USER': {
      const u = expandWord(step.args, lookup, esc);
      if (!u) throw new BuildError('USER requires exactly one argument');
      c.User = u;
      return true;
    }
    case 'EXPOSE': {
      const ports = { ...(c.ExposedPorts ?? {}) };
      for (const p of expandWords(step.args, lookup, esc)) {
        const m = /^(?:[\d.]+:)?(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
        if (!m) throw new BuildError(`invalid containerPort: ${p}`);
        const lo = Number(m[1]);
        const hi = m[2] ? Number(m[2]) : lo;
        if (hi < lo || hi > 65535) throw new BuildError(`invalid range: ${p}`);
        for (let n = lo; n <= hi; n++) ports[`${n}/${(m[3] ?? 'tcp').toLowerCase()}`] = {};
      }
      c.ExposedPorts = ports;
      return true;
    }
    case 'VOLUME': {
      const vols = { ...(c.Volumes ?? {}) };
      const list = step.json ?? expandWords(step.args, lookup, esc);
      if (list.length === 0) throw new BuildError('VOLUME requires at least one argument');
      for (const v of list) {
        if (!v.trim()) throw new BuildError('VOLUME specified can not be an empty string');
        vols[v] = {};
      }
      c.Volumes = vols;
      return true;
    }
    case 'STOPSIGNAL': {
      const s = expandWord(step.args, lookup, esc);
      if (!/^(SIG)?[A-Z0-9+-]+$|^\d+$/i.test(s)) throw new BuildError(`invalid signal: ${s}`);
      c.StopSignal = s;
      return true;
    }
    case 'ONBUILD': {
      const trigger = step.args.trim();
      const kw = trigger.split(/\s+/, 1)[0]!.toUpperCase();
      if (kw === 'ONBUILD') throw new BuildError('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (kw === 'FROM' || kw === 'MAINTAINER') throw new BuildError(`${kw} isn't allowed as an ONBUILD trigger`);
      c.OnBuild = [...((c.OnBuild as string[] | null | undefined) ?? []), trigger];
      return true;
    }
    case 'HEALTHCHECK': {
      checkFlags(step, ['interval', 'timeout', 'start-period', 'start-interval', 'retries']);
      const words = step.args.trim();
      const kw = words.split(/\s+/, 1)[0]!.toUpperCase();
      if (kw === 'NONE') {
        if (words.split(/\s+/).length > 1 || step.flags.length) throw new BuildError('HEALTHCHECK NONE takes no arguments');
        c.Healthcheck = { Test: ['NONE'] };
        return true;
      }
      if (kw !== 'CMD') throw new BuildError(`Unknown type "${kw}" in HEALTHCHECK (try CMD)`);
      const rest = words.slice(3).trim();
      if (!rest) throw new BuildError('Missing command after HEALTHCHECK CMD');
      const json = rest.startsWith('[') ? (() => { try { const v = JSON.parse(rest) as unknown; return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined; } catch { return undefined; } })() : undefined;
      const hc: Record<string, unknown> = { Test: json ? ['CMD', ...json] : ['CMD-SHELL', rest] };
      for (const [f, k] of [['interval', 'Interval'], ['timeout', 'Timeout'], ['start-period', 'StartPeriod'], ['start-interval', 'StartInterval']] as const) {
        const v = flag(step, f);
        if (v !== undefined) hc[k] = parseDuration(v);
      }
      const r = flag(step, 'retries');
      if (r !== undefined) {
        if (!/^\d+$/.test(r) || Number(r) < 1) throw new BuildError('--retries must be at least 1');
        hc.Retries = Number(r);
      }
      c.Healthcheck = hc;
      return true;
    }
    default:
      return false;
  }
}
