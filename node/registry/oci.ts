/**
 * The OCI image and distribution formats as the mirror uses them (pure): media types, digests,
 * descriptors, the image manifest and index it writes, the registry API's error bodies, the
 * repository names it answers to and the `Range` header. References: the OCI image spec
 * (image-layout, manifest, image-index, config) and the OCI distribution spec (pull, errors).
 */

export const MEDIA_TYPE = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  /** uncompressed layers: the digest is the layer's diff id, the same on every node and call */
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

/** Manifest media types the mirror serves (what `Accept` may ask for). */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [MEDIA_TYPE.index, MEDIA_TYPE.manifest];

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

/** The hex part of "sha256:<hex>". */
export function digestHex(digest: string): string {
  if (!isDigest(digest)) throw new Error(`not a sha256 digest: ${JSON.stringify(digest)}`);
  return digest.slice('sha256:'.length);
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** "linux/arm64/v8"-style name of a platform, for messages and sorting. */
export function platformName(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** The OCI platform of images an engine runs natively, from its architecture name ("x86_64", "aarch64", "armv7l", …). */
export function enginePlatform(engineArch: string): Platform {
  switch (engineArch) {
    case 'x86_64':
    case 'amd64':
      return { os: 'linux', architecture: 'amd64' };
    case 'aarch64':
    case 'arm64':
      return { os: 'linux', architecture: 'arm64' };
    case 'armv7l':
    case 'arm':
      return { os: 'linux', architecture: 'arm', variant: 'v7' };
    case 'armv6l':
      return { os: 'linux', architecture: 'arm', variant: 'v6' };
    default:
      return { os: 'linux', architecture: engineArch };
  }
}

/** The platform an image config names (`architecture`, `os`, `variant`). */
export function configPlatform(config: unknown): Platform {
  const c = config as { architecture?: unknown; os?: unknown; variant?: unknown };
  if (typeof c?.architecture !== 'string' || typeof c.os !== 'string')
    throw new Error('the image config names no architecture and os');
  return {
    architecture: c.architecture,
    os: c.os,
    ...(typeof c.variant === 'string' && c.variant !== '' && { variant: c.variant }),
  };
}

/** Serialises an OCI document the one way the mirror does, so its digest is stable. */
export function canonicalJson(doc: unknown): Buffer {
  return Buffer.from(JSON.stringify(doc), 'utf8');
}

/** An image manifest: one config, its layers in order. */
export function imageManifest(config: Descriptor, layers: readonly Descriptor[]): Buffer {
  return canonicalJson({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.manifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  });
}

/**
 * An image index: one manifest per platform, sorted by platform name so the same set of
 * platforms always gives the same bytes. Two manifests for one platform is a caller's bug.
 */
export function imageIndex(
  manifests: readonly (Descriptor & { platform: Platform })[],
  annotations?: Record<string, string>,
): Buffer {
  const sorted = [...manifests].sort((a, b) =>
    platformName(a.platform) < platformName(b.platform) ? -1 : 1,
  );
  for (let i = 1; i < sorted.length; i++) {
    if (platformName(sorted[i]!.platform) === platformName(sorted[i - 1]!.platform))
      throw new Error(`two manifests for ${platformName(sorted[i]!.platform)} in one index`);
  }
  return canonicalJson({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.index,
    manifests: sorted.map((m) => ({
      mediaType: m.mediaType,
      digest: m.digest,
      size: m.size,
      platform: m.platform,
    })),
    ...(annotations && { annotations }),
  });
}

/** What a manifest or index document references, by kind. */
export interface ManifestRefs {
  mediaType: string;
  /** for an index: its manifests; for a manifest: config then layers */
  children: Descriptor[];
}

/** Reads the media type and references of a manifest or index the mirror serves. */
export function parseManifest(bytes: Buffer): ManifestRefs {
  const doc = JSON.parse(bytes.toString('utf8')) as {
    mediaType?: unknown;
    manifests?: Descriptor[];
    config?: Descriptor;
    layers?: Descriptor[];
  };
  if (doc.mediaType === MEDIA_TYPE.index && Array.isArray(doc.manifests))
    return { mediaType: MEDIA_TYPE.index, children: doc.manifests };
  if (doc.mediaType === MEDIA_TYPE.manifest && doc.config && Array.isArray(doc.layers))
    return { mediaType: MEDIA_TYPE.manifest, children: [doc.config, ...doc.layers] };
  throw new Error('not an OCI image index or image manifest');
}

// --- The distribution API -------------------------------------------------------------------

export type RegistryErrorCode =
  | 'BLOB_UNKNOWN'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'NAME_INVALID'
  | 'MANIFEST_INVALID'
  | 'UNSUPPORTED'
  | 'UNAVAILABLE';

/** The HTTP status the distribution spec gives each error code. */
export const ERROR_STATUS: Record<RegistryErrorCode, number> = {
  BLOB_UNKNOWN: 404,
  MANIFEST_UNKNOWN: 404,
  NAME_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  NAME_INVALID: 400,
  MANIFEST_INVALID: 400,
  UNSUPPORTED: 405,
  UNAVAILABLE: 503,
};

/** The registry API's error body: `{"errors":[{"code","message","detail"}]}`. */
export function errorBody(code: RegistryErrorCode, message: string, detail?: unknown): string {
  return JSON.stringify({ errors: [{ code, message, ...(detail !== undefined && { detail }) }] });
}

/** Repositories are `helix/<agent>`: the agent's name, as manifests allow it. */
export const REPOSITORY_PREFIX = 'helix/';
const AGENT = /^[a-z][a-z0-9_-]{0,31}$/;

export type ApiRequest =
  | { kind: 'version' }
  | { kind: 'manifest'; agent: string; reference: string }
  | { kind: 'blob'; agent: string; digest: string }
  | { kind: 'error'; code: RegistryErrorCode; message: string; detail?: unknown };

/** Maps a request path to what it asks for, or to the registry error it earns. */
export function parseApiPath(pathname: string): ApiRequest | null {
  if (pathname === '/v2/' || pathname === '/v2') return { kind: 'version' };
  const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(pathname);
  if (!m) return null;
  const [, name, what, ref] = m as unknown as [string, string, string, string];
  if (!name.startsWith(REPOSITORY_PREFIX) || !AGENT.test(name.slice(REPOSITORY_PREFIX.length))) {
    return {
      kind: 'error',
      code: 'NAME_UNKNOWN',
      message: `repository ${JSON.stringify(name)} is not known to this mirror: it serves only helix/<agent>`,
      detail: { name },
    };
  }
  const agent = name.slice(REPOSITORY_PREFIX.length);
  if (what === 'blobs') {
    if (!isDigest(ref))
      return {
        kind: 'error',
        code: 'DIGEST_INVALID',
        message: `${JSON.stringify(ref)} is not a digest this mirror serves ("sha256:<64 hex>")`,
      };
    return { kind: 'blob', agent, digest: ref };
  }
  if (!isDigest(ref) && !/^[0-9a-f]{16,64}$/.test(ref))
    return {
      kind: 'error',
      code: 'MANIFEST_UNKNOWN',
      message: `${JSON.stringify(ref)} is neither a digest ("sha256:<64 hex>") nor an agent content hash (16-64 hex digits)`,
      detail: { tag: ref },
    };
  return { kind: 'manifest', agent, reference: ref };
}

export type ByteRange = { start: number; end: number };

/**
 * A single `Range: bytes=a-b` (or `a-`, or `-n`) against a blob of `size` bytes: the range, null
 * when there is no header (the whole blob), or 'unsatisfiable' (416). Several ranges in one
 * header are answered with the whole blob, which RFC 9110 allows.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | null | 'unsatisfiable' {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null;
  const [, a, b] = m as unknown as [string, string, string];
  if (a === '' && b === '') return 'unsatisfiable';
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}
