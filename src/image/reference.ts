/**
 * Local image names, with Docker's normalisation: `busybox` is `docker.io/library/busybox:latest`,
 * a first component with a dot, a colon or `localhost` is a registry. Names are stored fully
 * qualified and shown in Docker's familiar form.
 */
import { InvalidArgumentError } from '../common/errors.ts';
import { isDigest, type Digest } from '../store/digest.ts';

export interface Reference {
  /** e.g. docker.io/library/busybox */
  repository: string;
  tag: string | undefined;
  digest: Digest | undefined;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/** Parses `[domain/]path[:tag][@sha256:…]`; throws InvalidArgumentError with the reason. */
export function parseReference(input: string): Reference {
  const bad = (why: string) => new InvalidArgumentError(`invalid reference format: ${JSON.stringify(input)}: ${why}`);
  if (input === '' || input.length > 255 + 140) throw bad('empty or too long');
  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) throw bad('bad digest');
    digest = d;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad('bad tag');
  }
  const parts = rest.split('/');
  let domain = 'docker.io';
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    if (!DOMAIN.test(first)) throw bad('bad registry name');
    domain = first;
    parts.shift();
  }
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p)))
    throw bad(/[A-Z]/.test(rest) ? 'repository name must be lowercase' : 'bad repository name');
  if (domain === 'docker.io' && parts.length === 1) parts.unshift('library');
  return { repository: `${domain}/${parts.join('/')}`, tag, digest };
}

/** `repo:tag`, defaulting the tag to `latest` (Docker's rule when no digest is given). */
export function normalizeTagged(input: string): string {
  const r = parseReference(input);
  if (r.digest) throw new InvalidArgumentError(`a tag cannot carry a digest: ${input}`);
  return `${r.repository}:${r.tag ?? 'latest'}`;
}

/** Docker's short form: `docker.io/library/busybox` → `busybox`, `docker.io/x/y` → `x/y`. */
export function familiarName(repository: string): string {
  if (repository.startsWith('docker.io/library/')) return repository.slice('docker.io/library/'.length);
  if (repository.startsWith('docker.io/')) return repository.slice('docker.io/'.length);
  return repository;
}

/** Splits a stored `repo:tag` name. */
export function splitTagged(name: string): { repository: string; tag: string } {
  const i = name.lastIndexOf(':');
  return { repository: name.slice(0, i), tag: name.slice(i + 1) };
}

/** Docker Hub's name in references, and the host its registry API actually answers on. */
export const DOCKER_HUB_DOMAIN = 'docker.io';
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

/** `docker.io/library/busybox` → `{ domain: 'docker.io', path: 'library/busybox' }`. */
export function splitRepository(repository: string): { domain: string; path: string } {
  const i = repository.indexOf('/');
  return { domain: repository.slice(0, i), path: repository.slice(i + 1) };
}

/** The normalised string of a reference: `repo:tag`, `repo@digest` or `repo:tag@digest`. */
export function formatReference(r: Reference): string {
  return `${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** Docker's familiar form of a whole reference (`busybox:latest`, `me/app@sha256:…`). */
export function familiarReference(r: Reference): string {
  return `${familiarName(r.repository)}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}
