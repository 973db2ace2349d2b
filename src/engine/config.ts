/**
 * The engine's own defaults, from an optional `<root>/config.json`, e.g.
 *   { "network": "none", "isolation": "vm", "accel": "auto", "kernel": "/boot/vmlinuz-…" }
 * Flags always win; a missing or unreadable file means Docker's defaults.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidConfigError } from '../common/errors.ts';

export interface EngineConfig {
  network?: string;
  isolation?: 'process' | 'vm';
  accel?: string;
  kernel?: string;
}

export function engineConfig(root: string): EngineConfig {
  const file = path.join(root, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  try {
    const c = JSON.parse(text) as EngineConfig;
    if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new Error('not an object');
    return c;
  } catch (e) {
    throw new InvalidConfigError(`${file} is not valid: ${(e as Error).message}`);
  }
}
