/**
 * `--isolation vm` at create time: the isolation, accelerator and kernel from the flags, else
 * `<root>/config.json` (src/engine/config.ts), and what a VM container cannot have yet.
 */
import path from 'node:path';
import { InvalidArgumentError } from '../common/errors.ts';
import { parseAccel } from '../vm/accel.ts';
import type { CreateOptions } from './options.ts';
import type { HostConfig } from './record.ts';

/** The defaults this reads from `<root>/config.json` (src/engine/config.ts's EngineConfig). */
export interface VmDefaults {
  isolation?: string;
  accel?: string;
  kernel?: string;
}

export function isolationOf(opts: CreateOptions, cfg: VmDefaults): 'process' | 'vm' {
  const iso = opts.isolation ?? cfg.isolation ?? 'process';
  if (iso !== 'process' && iso !== 'vm') throw new InvalidArgumentError(`isolation must be process or vm, not "${String(iso)}"`);
  return iso;
}

/**
 * The HostConfig fields of a VM container. The guest has no network device and only its root
 * is shared over 9p, so other networks and volumes are refused rather than silently missing.
 */
export function vmHostConfig(opts: CreateOptions, cfg: VmDefaults): Pick<HostConfig, 'VmAccel' | 'VmKernel'> {
  if (opts.network !== undefined && opts.network !== 'none')
    throw new InvalidArgumentError(`--isolation vm has no network yet, not "${opts.network}"`, 'use --network none');
  if (opts.mounts?.length) throw new InvalidArgumentError('--isolation vm cannot mount volumes, binds or tmpfs yet');
  const hc: Pick<HostConfig, 'VmAccel' | 'VmKernel'> = {};
  const accel = opts.accel ?? cfg.accel;
  if (accel !== undefined) hc.VmAccel = parseAccel(accel);
  const kernel = opts.kernel ?? cfg.kernel;
  // absolute: the monitor that boots it does not run in the creating shell's directory
  if (kernel !== undefined) hc.VmKernel = path.resolve(kernel);
  return hc;
}
