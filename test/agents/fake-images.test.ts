/**
 * The image-facing code over a plain-object ImageRuntime (no Docker): buildImage's up-to-date
 * check and recipe, the agent catalog (list, build, remove) and the warm-up's engine check.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AgentRunner,
  ImageBusyError,
  Registry,
  buildImage,
  imageTag,
  loadAgent,
  type AgentRuntime,
  type ImageInfo,
  type ImageRecipe,
} from '../../node/agents/index.js';
import { AgentCatalog, ImageInUseError } from '../../node/agenthost/index.js';
import { explainedEngine, warmUp } from '../../node/agenthost/warmup.js';
import type { BuildEvent } from '../../node/agenthost/index.js';
import { DependencyMissingError } from '../../node/errors.js';
import { silentLogger } from '../../node/log.js';

const PREFIX = 'helix-fake-';

interface FakeImages {
  runtime: AgentRuntime;
  images: Map<string, ImageInfo>;
  built: ImageRecipe[];
  removed: string[];
  busy: Set<string>;
  up: { value: boolean };
}

function fakeImages(): FakeImages {
  const images = new Map<string, ImageInfo>();
  const built: ImageRecipe[] = [];
  const removed: string[] = [];
  const busy = new Set<string>();
  const up = { value: true };
  const check = async (): Promise<void> => {
    if (!up.value)
      throw new DependencyMissingError('the Fake engine (nowhere)', 'start it', undefined);
  };
  const runtime: AgentRuntime = {
    engine: 'Fake',
    start: async () => {
      throw new Error('no containers here');
    },
    findImage: async (tag) => images.get(tag) ?? null,
    ensureEgressNetwork: async () => {},
    removeLeftovers: async () => {},
    check,
    platform: async () => 'linux/amd64',
    inspectImage: async (tag) => {
      await check();
      return images.get(tag) ?? null;
    },
    agentImageTags: async (agent) =>
      [...images.keys()].filter((t) => agent === undefined || t.startsWith(`${PREFIX}${agent}:`)),
    build: async (recipe, opts) => {
      built.push(recipe);
      opts.onProgress?.('Step 1/4 : FROM scratch');
      images.set(recipe.tag, {
        id: 'sha256:fake',
        sizeBytes: 1_500_000,
        platform: recipe.platform,
      });
    },
    removeImage: async (tag) => {
      if (busy.has(tag)) throw new ImageBusyError(`conflict: ${tag} is used by a container`);
      removed.push(tag);
      return images.delete(tag);
    },
    has: async (tag) => {
      await check();
      return images.has(tag);
    },
    imagePlatform: async (tag) => {
      await check();
      return images.get(tag)?.platform ?? null;
    },
    save: async () => {
      throw new Error('not here');
    },
    load: async () => {},
  };
  return { runtime, images, built, removed, busy, up };
}

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function catalogOver(f: FakeImages) {
  const echo = await loadAgent(path.resolve('agents/echo'));
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'helix-fake-images-'));
  dirs.push(stateDir);
  const registry = await Registry.open({ stateDir, budgetMb: 100, remover: f.runtime });
  const catalog = new AgentCatalog({
    node: 'fake-node',
    agents: new Map([['echo', echo]]),
    images: f.runtime,
    registry,
    imagePrefix: PREFIX,
    view: () => [],
    warmPool: () => [],
    build: (agent, o) => buildImage(agent, { runtime: f.runtime, imagePrefix: PREFIX, ...o }),
  });
  return { echo, registry, catalog, tag: imageTag('echo', echo.hash, 'linux/amd64', PREFIX) };
}

describe('images over a fake ImageRuntime', () => {
  it('buildImage says an image it holds is up to date and builds nothing', async () => {
    const f = fakeImages();
    const { echo, tag } = await catalogOver(f);
    f.images.set(tag, { id: 'sha256:held', sizeBytes: 1_600_000, platform: 'linux/amd64' });
    const lines: string[] = [];
    const image = await buildImage(echo, {
      runtime: f.runtime,
      imagePrefix: PREFIX,
      onProgress: (l) => lines.push(l),
    });
    expect(image).toMatchObject({ tag, id: 'sha256:held', sizeBytes: 1_600_000, built: false });
    expect(lines).toEqual([`${tag} is up to date (1.6 MB)`]);
    expect(f.built).toHaveLength(0);
  });

  it('the catalog lists, builds through the runtime, and removes', async () => {
    const f = fakeImages();
    const { catalog, tag, registry } = await catalogOver(f);
    f.images.set(tag, { id: 'sha256:held', sizeBytes: 1_600_000, platform: 'linux/amd64' });
    const list = await catalog.list();
    expect(list.docker).toBe(true);
    expect(list.agents.map((a) => [a.name, a.image.held, a.image.sizeBytes])).toEqual([
      ['echo', true, 1_600_000],
    ]);

    const events: BuildEvent[] = [];
    await catalog.build('echo', (ev) => events.push(ev));
    expect(events.at(-1)).toEqual({ type: 'done', built: 0, upToDate: 1, failed: 0 });

    await registry.record({
      agent: 'echo',
      hash: 'f'.repeat(16),
      platform: 'linux/amd64',
      tag: `${PREFIX}echo:gone`,
      sizeBytes: 9,
    });
    f.busy.add(tag);
    await expect(catalog.remove('echo')).rejects.toThrow(ImageInUseError);
    await expect(catalog.remove('echo')).rejects.toThrow(
      new RegExp(`the Fake engine keeps ${tag}: a container uses it \\(conflict: `),
    );
    f.busy.clear();
    const result = await catalog.remove('echo');
    // the record the engine no longer held is forgotten, not reported as removed
    expect(result.removed).toEqual([{ tag, sizeBytes: 1_600_000 }]);
    expect(f.images.has(tag)).toBe(false);
    expect(registry.list()).toEqual([]);
  });

  it('with the engine down: the catalog says so, build refuses with the fix, warm-up runs nothing', async () => {
    const f = fakeImages();
    f.up.value = false;
    const { catalog, echo, tag } = await catalogOver(f);
    const list = await catalog.list();
    expect(list.docker).toBe(false);
    expect(list.agents[0]!.image.held).toBe(false);
    await expect(catalog.build(undefined, () => undefined)).rejects.toThrow(
      /Fake engine \(nowhere\) is not available; start it/,
    );

    const runner = new AgentRunner({
      runtime: f.runtime,
      agents: [echo],
      host: 'fake-node',
      resolveImage: async () => tag,
    });
    let started = false;
    runner.start = async () => {
      started = true;
    };
    await warmUp(
      runner,
      f.runtime,
      await Registry.open({ stateDir: dirs[0]!, budgetMb: 1 }),
      new Map(),
      async () => tag,
      silentLogger,
    );
    expect(started).toBe(false);

    await expect(explainedEngine(f.runtime).has(tag)).rejects.toThrow(DependencyMissingError);
  });
});
