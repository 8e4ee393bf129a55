/** The OCI formats the mirror writes and the API paths and ranges it reads (pure). */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  MEDIA_TYPE,
  enginePlatform,
  errorBody,
  imageIndex,
  imageManifest,
  parseApiPath,
  parseManifest,
  parseRange,
} from '../../node/registry/index.js';

const d = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const manifest = (arch: string, variant?: string) => ({
  mediaType: MEDIA_TYPE.manifest,
  digest: d(arch + (variant ?? '')),
  size: 400,
  platform: { os: 'linux', architecture: arch, ...(variant && { variant }) },
});

describe('OCI documents', () => {
  it('an index lists one manifest per platform, in one order whatever the input order', () => {
    const amd = manifest('amd64');
    const arm64 = manifest('arm64');
    const armv7 = manifest('arm', 'v7');
    const a = imageIndex([armv7, amd, arm64]);
    const b = imageIndex([arm64, armv7, amd]);
    expect(a).toEqual(b);
    const refs = parseManifest(a);
    expect(refs.mediaType).toBe(MEDIA_TYPE.index);
    expect(refs.children.map((m) => m.platform)).toEqual([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
      { os: 'linux', architecture: 'arm64' },
    ]);
    expect(() => imageIndex([amd, { ...amd, digest: d('other') }])).toThrow(
      /two manifests for linux\/amd64/,
    );
  });

  it('a manifest names its config and layers by digest and media type', () => {
    const config = { mediaType: MEDIA_TYPE.config, digest: d('c'), size: 10 };
    const layer = { mediaType: MEDIA_TYPE.layer, digest: d('l'), size: 20 };
    const bytes = imageManifest(config, [layer]);
    expect(JSON.parse(bytes.toString())).toEqual({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.manifest,
      config,
      layers: [layer],
    });
    expect(parseManifest(bytes).children).toEqual([config, layer]);
    expect(() => parseManifest(Buffer.from('{"schemaVersion":2}'))).toThrow(/not an OCI/);
  });

  it('error bodies are the distribution spec’s', () => {
    expect(JSON.parse(errorBody('BLOB_UNKNOWN', 'no', { digest: 'x' }))).toEqual({
      errors: [{ code: 'BLOB_UNKNOWN', message: 'no', detail: { digest: 'x' } }],
    });
  });
});

describe('API paths', () => {
  const digest = d('x');
  it.each([
    ['/v2/', { kind: 'version' }],
    ['/v2', { kind: 'version' }],
    [`/v2/helix/echo/blobs/${digest}`, { kind: 'blob', agent: 'echo', digest }],
    [`/v2/helix/echo/manifests/${digest}`, { kind: 'manifest', agent: 'echo', reference: digest }],
    [
      '/v2/helix/echo/manifests/0123456789abcdef',
      { kind: 'manifest', agent: 'echo', reference: '0123456789abcdef' },
    ],
    ['/v2/library/alpine/manifests/latest', { kind: 'error', code: 'NAME_UNKNOWN' }],
    ['/v2/helix/Echo/blobs/' + digest, { kind: 'error', code: 'NAME_UNKNOWN' }],
    ['/v2/helix/echo/blobs/sha256:abc', { kind: 'error', code: 'DIGEST_INVALID' }],
    ['/v2/helix/echo/manifests/latest', { kind: 'error', code: 'MANIFEST_UNKNOWN' }],
    ['/v2/_catalog', null],
    ['/other', null],
  ])('%s', (p, want) => {
    const got = parseApiPath(p);
    if (want === null) expect(got).toBeNull();
    else expect(got).toMatchObject(want);
  });
});

describe('Range', () => {
  it.each([
    [undefined, null],
    ['bytes=0-9', { start: 0, end: 9 }],
    ['bytes=90-', { start: 90, end: 99 }],
    ['bytes=90-500', { start: 90, end: 99 }],
    ['bytes=-5', { start: 95, end: 99 }],
    ['bytes=-500', { start: 0, end: 99 }],
    ['bytes=100-', 'unsatisfiable'],
    ['bytes=9-3', 'unsatisfiable'],
    ['bytes=-0', 'unsatisfiable'],
    ['bytes=0-1,5-6', null],
    ['items=0-1', null],
  ])('%s of 100 bytes', (header, want) => {
    expect(parseRange(header, 100)).toEqual(want);
  });
});

describe('engine platforms', () => {
  it.each([
    ['x86_64', { os: 'linux', architecture: 'amd64' }],
    ['aarch64', { os: 'linux', architecture: 'arm64' }],
    ['armv7l', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['armv6l', { os: 'linux', architecture: 'arm', variant: 'v6' }],
    ['riscv64', { os: 'linux', architecture: 'riscv64' }],
  ])('%s', (arch, want) => {
    expect(enginePlatform(arch)).toEqual(want);
  });
});
