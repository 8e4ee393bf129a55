import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildImage,
  DockerRuntime,
  pickEvictions,
  Registry,
  REGISTRY_FILE,
  type ImageRecord,
} from '../../node/agents/index.js';
import { ensureDockerEngine, removeImages } from '../support/docker.js';
import { buildAgents, IMAGE_PREFIX } from './helpers.js';

const MB = 1024 * 1024;
const rec = (tag: string, sizeMb: number, lastUsedAt: number): ImageRecord => ({
  agent: tag.split(':')[0]!,
  hash: `${tag}-hash`,
  platform: 'linux/amd64',
  tag,
  sizeBytes: sizeMb * MB,
  successes: 0,
  failures: 0,
  lastUsedAt,
  addedAt: 0,
});

describe('choosing images to evict', () => {
  const records = [rec('a:1', 4, 10), rec('b:1', 4, 30), rec('c:1', 4, 20), rec('d:1', 4, 40)];
  it.each([
    ['under budget: nothing', 16, [], []],
    ['least recently used first', 12, [], ['a:1']],
    ['as many as it takes', 5, [], ['a:1', 'c:1', 'b:1']],
    ['never one in use', 8, ['a:1'], ['c:1', 'b:1']],
    ['never the most recent, even over budget', 1, [], ['a:1', 'c:1', 'b:1']],
    ['nothing when all older ones are in use', 1, ['a:1', 'b:1', 'c:1'], []],
  ])('%s', (_what, budgetMb, inUse, expected) => {
    expect(
      pickEvictions(records, budgetMb * MB, (t) => inUse.includes(t)).map((r) => r.tag),
    ).toEqual(expected);
  });
});

describe('image registry', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'helix-test-registry-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('records runs, offers only images that succeeded, and keeps it all across a restart', async () => {
    const stateDir = path.join(dir, 'restart');
    let clock = 1000;
    const registry = await Registry.open({ stateDir, budgetMb: 100, now: () => clock });
    await registry.record({
      agent: 'echo',
      hash: 'h1',
      platform: 'linux/amd64',
      tag: 'helix-agent-echo:h1',
      sizeBytes: 2 * MB,
    });
    await registry.record({
      agent: 'lights',
      hash: 'h2',
      platform: 'linux/amd64',
      tag: 'helix-agent-lights:h2',
      sizeBytes: 3 * MB,
    });
    clock = 2000;
    registry.markSuccess('helix-agent-echo:h1');
    registry.markFailure('helix-agent-lights:h2');
    expect(registry.held()).toEqual([
      { agent: 'echo', hash: 'h1', platform: 'linux/amd64', sizeBytes: 2 * MB, shareable: true },
      {
        agent: 'lights',
        hash: 'h2',
        platform: 'linux/amd64',
        sizeBytes: 3 * MB,
        shareable: false,
      },
    ]);
    await registry.flush();

    const reopened = await Registry.open({ stateDir, budgetMb: 100 });
    expect(reopened.get('helix-agent-echo:h1')).toMatchObject({
      successes: 1,
      failures: 0,
      lastUsedAt: 2000,
      sizeBytes: 2 * MB,
    });
    expect(reopened.get('helix-agent-lights:h2')).toMatchObject({ successes: 0, failures: 1 });
    // Atomic writes leave no temporary files behind.
    expect(await readdir(stateDir)).toEqual([REGISTRY_FILE]);
  });

  it('sets a corrupt registry file aside and starts empty', async () => {
    const stateDir = path.join(dir, 'corrupt');
    await Registry.open({ stateDir, budgetMb: 100 });
    await writeFile(path.join(stateDir, REGISTRY_FILE), '{"v":1,"images":[{"agent":');
    const registry = await Registry.open({ stateDir, budgetMb: 100 });
    expect(registry.list()).toEqual([]);
    expect((await readdir(stateDir)).some((f) => f.startsWith(`${REGISTRY_FILE}.corrupt-`))).toBe(
      true,
    );
  });

  it('evicts least recently used images past the budget, never one in use', async () => {
    const stateDir = path.join(dir, 'lru');
    let clock = 0;
    const removed: string[] = [];
    const registry = await Registry.open({
      stateDir,
      budgetMb: 10,
      now: () => ++clock,
      remover: { removeImage: async (tag) => void removed.push(tag) },
    });
    await registry.record({
      agent: 'a',
      hash: 'a',
      platform: 'linux/amd64',
      tag: 'a:1',
      sizeBytes: 4 * MB,
    });
    await registry.record({
      agent: 'b',
      hash: 'b',
      platform: 'linux/amd64',
      tag: 'b:1',
      sizeBytes: 4 * MB,
    });
    const releaseA = registry.acquire('a:1'); // a is now the most recently used, and in use
    await registry.record({
      agent: 'c',
      hash: 'c',
      platform: 'linux/amd64',
      tag: 'c:1',
      sizeBytes: 4 * MB,
    });
    expect(removed).toEqual(['b:1']);
    await registry.record({
      agent: 'd',
      hash: 'd',
      platform: 'linux/amd64',
      tag: 'd:1',
      sizeBytes: 4 * MB,
    });
    expect(removed).toEqual(['b:1', 'c:1']); // a is in use: skipped though older than c
    releaseA();
    await registry.record({
      agent: 'e',
      hash: 'e',
      platform: 'linux/amd64',
      tag: 'e:1',
      sizeBytes: 4 * MB,
    });
    expect(removed).toEqual(['b:1', 'c:1', 'a:1']);
    expect(
      registry
        .list()
        .map((r) => r.tag)
        .sort(),
    ).toEqual(['d:1', 'e:1']);
    const onDisk = JSON.parse(await readFile(path.join(stateDir, REGISTRY_FILE), 'utf8'));
    expect(onDisk.images.map((r: ImageRecord) => r.tag).sort()).toEqual(['d:1', 'e:1']);
  });
});

describe('image registry with a real Docker engine', () => {
  let docker: Docker;
  let dir: string;
  beforeAll(async () => {
    docker = await ensureDockerEngine();
    dir = await mkdtemp(path.join(os.tmpdir(), 'helix-test-registry-docker-'));
  });
  afterAll(async () => {
    await removeImages(docker, IMAGE_PREFIX);
    await rm(dir, { recursive: true, force: true });
  });

  it('removes the least recently used agent image from the engine when over budget', async () => {
    const [echo, mesh] = await buildAgents(docker, ['echo', 'mesh']);
    const registry = await Registry.open({
      stateDir: dir,
      budgetMb: 2,
      remover: new DockerRuntime({ docker }),
    });
    const echoImage = await buildImage(echo!, {
      runtime: new DockerRuntime({ docker }),
      imagePrefix: IMAGE_PREFIX,
    });
    await registry.record(echoImage);
    expect(await new DockerRuntime({ docker }).inspectImage(echoImage.tag)).not.toBeNull();
    // Echo (~1.6 MB) and mesh (~1.6 MB) do not both fit in 2 MB: the older one goes.
    const meshImage = await buildImage(mesh!, {
      runtime: new DockerRuntime({ docker }),
      imagePrefix: IMAGE_PREFIX,
    });
    await registry.record(meshImage);
    expect(await new DockerRuntime({ docker }).inspectImage(echoImage.tag)).toBeNull();
    expect(await new DockerRuntime({ docker }).inspectImage(meshImage.tag)).not.toBeNull();
    expect(registry.list().map((r) => r.agent)).toEqual(['mesh']);
  });
});
