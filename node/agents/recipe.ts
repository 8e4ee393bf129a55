/**
 * How an agent becomes an image: a static Go binary in a FROM scratch image that runs as nobody.
 * Pure. The recipe is part of the content hash, so changing it re-tags every image; the platform
 * the binary is compiled for is the other half of an image's identity (./platform.ts).
 */
import { platformSlug, type Platform } from '../platform.js';

/** Bump when the recipe or the build flags change in a way that changes the image. */
export const RECIPE_VERSION = 'helix-agent-image/v2';

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

/** The labels every agent image carries: which agent, which sources, which platform. */
export function imageLabels(
  agent: string,
  hash: string,
  platform: Platform,
): Record<string, string> {
  return { 'helix.agent': agent, 'helix.hash': hash, 'helix.platform': platform };
}

/**
 * The image's Dockerfile; the engine builds it for `platform` (its build's platform option), so
 * the image's config names the platform the binary was compiled for.
 */
export function dockerfile(agent: string, hash: string, platform: Platform): string {
  const labels = Object.entries(imageLabels(agent, hash, platform))
    .map(([k, v]) => `${k}="${v}"`)
    .join(' ');
  return [
    'FROM scratch',
    `COPY agent ${AGENT_BINARY}`,
    `USER ${AGENT_USER}`,
    `ENTRYPOINT ["${AGENT_BINARY}"]`,
    `LABEL ${labels}`,
    '',
  ].join('\n');
}

/** Image repositories of shipped agents start with this; tests use "helix-test-agent-". */
export const DEFAULT_IMAGE_PREFIX = 'helix-agent-';

/**
 * `<prefix><agent>:<hash16>-<platform>`, e.g. "helix-agent-echo:3fa9c2d41b7e0a55-linux-arm64":
 * one image per agent version and platform. 16 hex chars of the sha256 (64 bits) is plenty for a
 * household's agents.
 */
export function imageTag(
  agent: string,
  hash: string,
  platform: Platform,
  prefix: string = DEFAULT_IMAGE_PREFIX,
): string {
  return `${prefix}${agent}:${hash.slice(0, 16)}-${platformSlug(platform)}`;
}
