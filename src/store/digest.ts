/**
 * Content digests. Everything in the store is addressed by `sha256:<64 hex>`; parsing is strict
 * because digests become file names.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../common/errors.ts';

export type Digest = `sha256:${string}`;

const RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: unknown): s is Digest {
  return typeof s === 'string' && RE.test(s);
}

/** Validates `s` as a sha256 digest (the only algorithm berth stores). */
export function parseDigest(s: string, what = 'digest'): Digest {
  if (!isDigest(s)) throw new InvalidArgumentError(`invalid ${what}: ${JSON.stringify(s)}`, 'expected sha256:<64 hex digits>');
  return s;
}

export function hexOf(d: Digest): string {
  return d.slice('sha256:'.length);
}

export function sha256(data: Buffer | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * OCI chain IDs: ChainID(L0) = DiffID(L0), ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
 * A chain ID names a layer *with all its parents*, which is what an unpacked snapshot depends on.
 */
export function chainIDs(diffIDs: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIDs) out.push(out.length === 0 ? d : sha256(`${out[out.length - 1]} ${d}`));
  return out;
}

/** `sha256:abc…` → the 12-hex short ID Docker prints. */
export function shortId(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}
