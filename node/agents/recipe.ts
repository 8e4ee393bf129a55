/**
 * How an agent becomes an image: a static Go binary in a FROM scratch image that runs as nobody.
 * Pure. The recipe is part of the content hash, so changing it re-tags every image.
 */

/** Bump when the recipe or the build flags change in a way that changes the image. */
export const RECIPE_VERSION = 'helix-agent-image/v1';

/** Where the binary lives in the image. */
export const AGENT_BINARY = '/agent';

/** uid/gid of "nobody": agents never run as root. */
export const AGENT_USER = '65534:65534';

/**
 * The agent SDK: the host <-> agent protocol in Go (`package main`), kept once in the repository's
 * agents/sdk/ and added to every agent's build context (and content hash) under this name.
 */
export const AGENT_SDK_FILE = 'helix.go';
/** Where the SDK lives, relative to the repository root. */
export const AGENT_SDK_PATH = `agents/sdk/${AGENT_SDK_FILE}`;

export const GO_BUILD_FLAGS = ['-trimpath', '-buildvcs=false', '-ldflags', '-s -w'] as const;

export function dockerfile(agent: string, hash: string): string {
  return [
    'FROM scratch',
    `COPY agent ${AGENT_BINARY}`,
    `USER ${AGENT_USER}`,
    `ENTRYPOINT ["${AGENT_BINARY}"]`,
    `LABEL helix.agent="${agent}" helix.hash="${hash}"`,
    '',
  ].join('\n');
}

/** Image repositories of shipped agents start with this; tests use "helix-test-agent-". */
export const DEFAULT_IMAGE_PREFIX = 'helix-agent-';

/** Tag length: 16 hex chars of the sha256 (64 bits) is plenty for a household's agents. */
export function imageTag(
  agent: string,
  hash: string,
  prefix: string = DEFAULT_IMAGE_PREFIX,
): string {
  return `${prefix}${agent}:${hash.slice(0, 16)}`;
}

/** Docker's architecture name -> GOARCH (and GOARM), for the engine the image runs on. */
export function goArchFor(dockerArch: string): { GOARCH: string; GOARM?: string } {
  switch (dockerArch) {
    case 'x86_64':
    case 'amd64':
      return { GOARCH: 'amd64' };
    case 'aarch64':
    case 'arm64':
      return { GOARCH: 'arm64' };
    case 'armv7l':
    case 'arm':
      return { GOARCH: 'arm', GOARM: '7' };
    case 'armv6l':
      return { GOARCH: 'arm', GOARM: '6' };
    default:
      return { GOARCH: dockerArch };
  }
}
