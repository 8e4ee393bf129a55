import { describe, expect, it } from 'vitest';
import { imageTag } from '../node/agents/index.js';
import {
  BUILDABLE_PLATFORMS,
  enginePlatform,
  goEnvFor,
  parsePlatform,
  platformOf,
  platformOfNodeArch,
  PlatformError,
  samePlatform,
} from '../node/platform.js';

describe('platforms', () => {
  it.each([
    ['linux/amd64', 'linux/amd64'],
    ['amd64', 'linux/amd64'],
    ['x86_64', 'linux/amd64'],
    ['linux/arm64', 'linux/arm64'],
    ['aarch64', 'linux/arm64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/arm/v7', 'linux/arm/v7'],
    ['armv7', 'linux/arm/v7'],
    ['armhf', 'linux/arm/v7'],
    [' Linux/ARM64 ', 'linux/arm64'],
  ])('parsePlatform(%j) is %s', (text, want) => {
    expect(parsePlatform(text)).toBe(want);
  });

  it.each(['linux/s390x', 'windows/amd64', 'linux/arm/v6', '', 'arm64/'])(
    'parsePlatform(%j) refuses, naming the buildable platforms',
    (text) => {
      expect(() => parsePlatform(text)).toThrow(PlatformError);
      expect(() => parsePlatform(text)).toThrow(
        /is not a platform agents are built for; use one of linux\/amd64, linux\/arm64, linux\/arm\/v7$/,
      );
    },
  );

  it.each([
    ['amd64', undefined, 'linux/amd64'],
    ['arm64', 'aarch64', 'linux/arm64'],
    ['arm', 'armv7l', 'linux/arm/v7'],
    // Raspberry Pi OS 32-bit on a 64-bit kernel: the engine is arm, uname says aarch64.
    ['arm', 'aarch64', 'linux/arm/v7'],
    ['arm', 'armv6l', 'linux/arm/v6'],
    ['s390x', 's390x', 'linux/s390x'],
  ])('an engine with Arch %s on %s runs %s', (arch, machine, want) => {
    expect(enginePlatform(arch, machine)).toBe(want);
  });

  it("names Go's environment for each buildable platform", () => {
    expect(BUILDABLE_PLATFORMS.map((p) => goEnvFor(p))).toEqual([
      { GOOS: 'linux', GOARCH: 'amd64' },
      { GOOS: 'linux', GOARCH: 'arm64' },
      { GOOS: 'linux', GOARCH: 'arm', GOARM: '7' },
    ]);
  });

  it("reads an image config's Os/Architecture/Variant", () => {
    expect(platformOf({ os: 'linux', architecture: 'arm', variant: 'v7' })).toBe('linux/arm/v7');
    expect(platformOf({ os: 'linux', architecture: 'arm64', variant: 'v8' })).toBe('linux/arm64');
    expect(platformOf({ os: 'linux', architecture: 'amd64' })).toBe('linux/amd64');
    expect(samePlatform('linux/arm64/v8', 'linux/arm64')).toBe(true);
    expect(samePlatform('linux/arm/v7', 'linux/arm64')).toBe(false);
    expect(samePlatform('linux/amd64', 'linux/arm64')).toBe(false);
  });

  it('makes the platform part of the image tag', () => {
    const hash = 'f'.repeat(64);
    expect(imageTag('echo', hash, 'linux/arm/v7', 'helix-agent-')).toBe(
      'helix-agent-echo:ffffffffffffffff-linux-arm-v7',
    );
    expect(imageTag('echo', hash, 'linux/amd64')).not.toBe(imageTag('echo', hash, 'linux/arm64'));
  });

  it('maps Node.js arch names', () => {
    expect(platformOfNodeArch('x64')).toBe('linux/amd64');
    expect(platformOfNodeArch('arm64')).toBe('linux/arm64');
    expect(platformOfNodeArch('arm')).toBe('linux/arm/v7');
  });
});
