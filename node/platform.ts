/**
 * Platforms an agent image is built for, named as OCI names them: "linux/amd64", "linux/arm64",
 * "linux/arm/v7". An image is one platform's: its identity is the content hash of the sources
 * and the recipe plus the platform (recipe.ts), and a node runs only images of the platform its
 * engine runs (advertised in capabilities.docker.platform). Pure.
 */

/** What Go cross-compiles agents for (GOOS/GOARCH/GOARM), so what the mesh can build. */
export const BUILDABLE_PLATFORMS = ['linux/amd64', 'linux/arm64', 'linux/arm/v7'] as const;

/** An OCI platform in its normal form: "os/arch" or "os/arch/variant". */
export type Platform = string;

/** The parts of a platform, as an image's config carries them (Os, Architecture, Variant). */
export interface PlatformParts {
  os: string;
  architecture: string;
  variant?: string;
}

/** Bad platform text: the message names the accepted forms. */
export class PlatformError extends Error {
  override readonly name = 'PlatformError';
  /** EX_USAGE, as for any bad argument */
  readonly exitCode = 64;
}

/** Aliases people (and `uname -m`) use, to the normal form. */
const ALIASES: Record<string, Platform> = {
  amd64: 'linux/amd64',
  x86_64: 'linux/amd64',
  'x86-64': 'linux/amd64',
  arm64: 'linux/arm64',
  aarch64: 'linux/arm64',
  'arm64/v8': 'linux/arm64',
  armv7: 'linux/arm/v7',
  armv7l: 'linux/arm/v7',
  armhf: 'linux/arm/v7',
  'arm/v7': 'linux/arm/v7',
  arm: 'linux/arm/v7',
};

/**
 * "linux/arm64", "arm64", "aarch64", "linux/arm/v7", "armv7", "armhf" ... -> the normal form.
 * Only platforms Go builds agents for are accepted; PlatformError names them otherwise.
 */
export function parsePlatform(text: string): Platform {
  const t = text.trim().toLowerCase();
  const normal = ALIASES[t] ?? ALIASES[t.replace(/^linux\//, '')] ?? t;
  if ((BUILDABLE_PLATFORMS as readonly string[]).includes(normal)) return normal;
  throw new PlatformError(
    `${JSON.stringify(text)} is not a platform agents are built for; use one of ${BUILDABLE_PLATFORMS.join(', ')}`,
  );
}

/**
 * The platform a Docker engine runs natively, from its version's Arch (the engine's GOARCH:
 * amd64, arm64, arm, ...) and, for arm, its info's Architecture (`uname -m`: armv6l, armv7l,
 * aarch64 when a 32-bit userland runs on a 64-bit kernel, as on Raspberry Pi OS). Any
 * architecture is named, buildable or not: placement says when the mesh cannot build for it.
 */
export function enginePlatform(goArch: string, machine?: string): Platform {
  const arch = goArch.trim().toLowerCase();
  if (arch === 'x86_64') return 'linux/amd64';
  if (arch === 'aarch64') return 'linux/arm64';
  if (arch === 'arm') return machine?.trim() === 'armv6l' ? 'linux/arm/v6' : 'linux/arm/v7';
  return `linux/${arch}`;
}

export function platformParts(p: Platform): PlatformParts {
  const [os = '', architecture = '', variant] = p.split('/');
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** An image config's Os/Architecture/Variant as a platform ("linux/arm/v7"); arm64's v8 is implied. */
export function platformOf(parts: {
  os?: string;
  architecture?: string;
  variant?: string;
}): Platform {
  const os = parts.os || 'linux';
  const arch = parts.architecture ?? '';
  if (arch === 'arm64' || !parts.variant) return `${os}/${arch}`;
  return `${os}/${arch}/${parts.variant}`;
}

/** True when an image of platform `image` runs natively on `engine` (same os, arch, variant). */
export function samePlatform(image: Platform, engine: Platform): boolean {
  return normalise(image) === normalise(engine);
}

function normalise(p: Platform): string {
  return p === 'linux/arm64/v8' ? 'linux/arm64' : p;
}

/** GOOS/GOARCH/GOARM for a buildable platform. */
export function goEnvFor(p: Platform): { GOOS: string; GOARCH: string; GOARM?: string } {
  const { os, architecture, variant } = platformParts(parsePlatform(p));
  if (architecture === 'arm') return { GOOS: os, GOARCH: 'arm', GOARM: (variant ?? 'v7').slice(1) };
  return { GOOS: os, GOARCH: architecture };
}

/** The platform as a tag suffix: "linux-arm64", "linux-arm-v7" (tags allow [A-Za-z0-9_.-]). */
export function platformSlug(p: Platform): string {
  return p.replaceAll('/', '-');
}

/**
 * The platform of a Node.js `process.arch` ("x64", "arm64", "arm") on Linux: what this machine's
 * own engine most likely runs (tests and benchmarks that stand in for a node's advert).
 */
export function platformOfNodeArch(arch: string): Platform {
  return enginePlatform(arch === 'x64' ? 'amd64' : arch === 'ia32' ? '386' : arch);
}
