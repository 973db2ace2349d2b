/**
 * Platforms (`os/arch[/variant]`) and picking one manifest out of an index, as Docker does: the
 * requested platform, defaulting to this host's; a variant only matters when both sides name one
 * (arm64 is v8 unless told otherwise).
 */
import { InvalidArgumentError } from '../common/errors.ts';
import { hostArch, type DescriptorJson } from '../image/media.ts';
import { ManifestUnknownError } from './errors.ts';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', i386: '386' };

export function hostPlatform(): Platform {
  return { os: 'linux', architecture: hostArch() };
}

/** Parses `linux/amd64`, `linux/arm/v7`, `amd64` (linux assumed). */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split('/');
  if (parts.length === 1) parts.unshift('linux');
  const [os, arch, variant] = parts;
  if (!os || !arch || parts.length > 3 || !/^[a-z0-9_-]+$/.test(os + arch + (variant ?? '')))
    throw new InvalidArgumentError(`invalid platform ${JSON.stringify(s)}`, 'expected os/arch[/variant], e.g. linux/amd64');
  const architecture = ARCH_ALIASES[arch] ?? arch;
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

function variantOf(p: { architecture?: string; variant?: string }): string | undefined {
  if (p.variant) return p.variant;
  return p.architecture === 'arm64' ? 'v8' : undefined;
}

/** The index entry for `want`, or ManifestUnknownError with Docker's wording. */
export function selectManifest(manifests: DescriptorJson[], want: Platform): DescriptorJson {
  const candidates = manifests.filter((m) => {
    const p = m.platform;
    if (!p || p.os !== want.os || p.architecture !== want.architecture) return false;
    const wv = variantOf(want);
    const mv = variantOf(p as { architecture?: string; variant?: string });
    return !want.variant || !mv || wv === mv;
  });
  // An exact variant match beats a variant-less entry.
  const exact = candidates.find((m) => variantOf(m.platform as Platform) === variantOf(want));
  const pick = exact ?? candidates[0];
  if (!pick) throw new ManifestUnknownError(`no matching manifest for ${formatPlatform(want)} in the manifest list entries`);
  return pick;
}
