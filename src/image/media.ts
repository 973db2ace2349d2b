/**
 * Docker and OCI image formats: media types and the JSON shapes berth reads and writes.
 */
import type { Digest } from '../store/digest.ts';

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export const LAYER_TYPES: ReadonlySet<string> = new Set([
  MT.ociLayer,
  MT.ociLayerGzip,
  MT.ociLayerZstd,
  MT.dockerLayer,
  MT.dockerLayerGzip,
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

export interface DescriptorJson {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string; variant?: string };
}

export interface ManifestJson {
  schemaVersion: 2;
  mediaType?: string;
  config: DescriptorJson;
  layers: DescriptorJson[];
  annotations?: Record<string, string>;
}

export interface IndexJson {
  schemaVersion: 2;
  mediaType?: string;
  manifests: DescriptorJson[];
}

export interface HistoryJson {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ContainerConfigJson {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  [k: string]: unknown;
}

export interface ImageConfigJson {
  created?: string;
  author?: string;
  architecture?: string;
  os?: string;
  variant?: string;
  config?: ContainerConfigJson;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryJson[];
  [k: string]: unknown;
}

/** The layer media type for a compression, in the manifest's family (Docker or OCI). */
export function layerMediaType(compression: 'none' | 'gzip' | 'zstd', docker: boolean): string {
  if (docker && compression !== 'zstd') return compression === 'gzip' ? MT.dockerLayerGzip : MT.dockerLayer;
  return compression === 'gzip' ? MT.ociLayerGzip : compression === 'zstd' ? MT.ociLayerZstd : MT.ociLayer;
}

/** Docker layer/config types to their OCI equivalents (same bytes, other name). */
export function toOciMediaType(mt: string): string {
  switch (mt) {
    case MT.dockerLayer:
      return MT.ociLayer;
    case MT.dockerLayerGzip:
      return MT.ociLayerGzip;
    case MT.dockerConfig:
      return MT.ociConfig;
    case MT.dockerManifest:
      return MT.ociManifest;
    default:
      return mt;
  }
}

/** The Go architecture name of this machine, as image configs spell it. */
export function hostArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? process.arch;
}
