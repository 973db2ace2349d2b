/** Reading a bundle's config.json with errors a user can act on. */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { InvalidConfigError } from '../common/errors.ts';
import type { Spec } from '../oci/runtime-spec.ts';

export function loadBundle(bundleArg: string | undefined): { bundle: string; spec: Spec; rootfs: string } {
  const bundle = path.resolve(bundleArg ?? '.');
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InvalidConfigError(code === 'ENOENT' ? `bundle ${bundle} has no config.json` : `cannot read ${file}: ${code}`);
  }
  let spec: Spec;
  try {
    spec = JSON.parse(text) as Spec;
  } catch (e) {
    throw new InvalidConfigError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new InvalidConfigError(`${file} is not a JSON object`);
  if (typeof spec.ociVersion !== 'string') throw new InvalidConfigError(`${file} has no "ociVersion"`);
  if (!spec.root?.path) throw new InvalidConfigError(`${file} has no "root.path"`);
  const rootfs = path.resolve(bundle, spec.root.path);
  let isDir = false;
  try {
    isDir = statSync(rootfs).isDirectory();
  } catch {
    throw new InvalidConfigError(`rootfs ${rootfs} does not exist`);
  }
  if (!isDir) throw new InvalidConfigError(`rootfs ${rootfs} is not a directory`);
  return { bundle, spec, rootfs };
}

/** A spec given in memory (by the engine) instead of a bundle's config.json. */
export function specBundle(bundleArg: string, spec: Spec): { bundle: string; spec: Spec; rootfs: string } {
  const bundle = path.resolve(bundleArg);
  if (!spec.root?.path) throw new InvalidConfigError('spec has no "root.path"');
  return { bundle, spec, rootfs: path.resolve(bundle, spec.root.path) };
}
