/**
 * Finding a local image from what a user typed: a name (Docker-normalised, then the same path under
 * `localhost/` as Podman names local images), a `name@digest`, or a full or abbreviated image ID.
 */
import { InvalidArgumentError, NotFoundError } from '../common/errors.ts';
import type { Digest } from '../store/digest.ts';
import type { ImageRecord } from '../store/images.ts';
import type { Store } from '../store/store.ts';
import { parseReference } from './reference.ts';

export interface Resolved {
  record: ImageRecord;
  /** The stored `repo:tag` the user named, when they named one. */
  tag: string | undefined;
}

function byId(store: Store, input: string): ImageRecord | undefined {
  const m = /^(?:sha256:)?([a-f0-9]{4,64})$/.exec(input);
  if (!m) return undefined;
  const hits = store.images.list().filter((r) => r.id.slice(7).startsWith(m[1]!));
  if (hits.length > 1) throw new InvalidArgumentError(`image ID ${input} is ambiguous`, 'give more digits');
  return hits[0];
}

/** Resolves `input` or throws NotFoundError (`No such image: …`, as Docker says). */
export function resolveImage(store: Store, input: string): Resolved {
  const tags = store.images.tags();
  let ref;
  try {
    ref = parseReference(input);
  } catch (err) {
    const rec = byId(store, input);
    if (rec) return { record: rec, tag: undefined };
    throw err;
  }
  if (ref.digest) {
    const rec = store.images.list().find((r) => r.manifest.digest === ref.digest || r.id === ref.digest);
    if (rec) return { record: rec, tag: undefined };
  } else {
    const candidates = [`${ref.repository}:${ref.tag ?? 'latest'}`];
    if (ref.repository.startsWith('docker.io/library/'))
      candidates.push(`localhost/${ref.repository.slice('docker.io/library/'.length)}:${ref.tag ?? 'latest'}`);
    for (const c of candidates) {
      const id = tags.get(c);
      const rec = id ? store.images.get(id) : undefined;
      if (rec) return { record: rec, tag: c };
    }
    if (!ref.tag && !input.includes('/')) {
      const rec = byId(store, input);
      if (rec) return { record: rec, tag: undefined };
    }
  }
  throw new NotFoundError(`No such image: ${input}`);
}

/** The `repo@digest` names Docker shows as RepoDigests. */
export function repoDigests(store: Store, id: Digest): string[] {
  const rec = store.images.get(id);
  if (!rec) return [];
  const repos = new Set(store.images.tagsOf(id).map((t) => t.slice(0, t.lastIndexOf(':'))));
  return [...repos].map((r) => `${r}@${rec.manifest.digest}`);
}
