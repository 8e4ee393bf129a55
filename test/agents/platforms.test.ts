/**
 * Agent images for other platforms, on a real engine (issue 12): Go cross-compiles the agent,
 * the engine builds the image for the target platform, and with qemu-user-static registered
 * through binfmt_misc (test/support/emulation.ts) the engine runs arm64 and armv7 agents for
 * real. A runtime that runs agents as linux/arm64 never starts an image of another platform.
 * A private dockerd keeps these images apart from every other test's.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentRunner,
  buildImage,
  DockerRuntime,
  ImagePlatformError,
  imageTag,
  loadAgents,
  sandboxFor,
  type BuiltImage,
} from '../../node/agents/index.js';
import type { LoadedAgent } from '../../node/agentspec/index.js';
import { platformOfNodeArch } from '../../node/platform.js';
import { startDockerd, type PrivateDockerd } from '../support/docker.js';
import { emulationUnavailable } from '../support/emulation.js';
import { collect, outcome, SHIPPED_DIR } from './helpers.js';

const IMAGE_PREFIX = 'helix-test-platform-';
const CONTAINER_PREFIX = 'helix-test-platform-';
/** ELF e_machine of the binaries Go builds for each platform. */
const ELF_MACHINE: Record<string, number> = {
  'linux/amd64': 0x3e,
  'linux/arm64': 0xb7,
  'linux/arm/v7': 0x28,
};

const native = platformOfNodeArch(process.arch);
const rootless = process.getuid?.() !== 0;
const noEmulation = rootless ? 'needs root' : emulationUnavailable();
if (noEmulation) console.warn(`[platforms] not running agents under emulation: ${noEmulation}`);

/** The ELF machine of /agent in the image, read through a created (never started) container. */
async function agentMachine(docker: Docker, tag: string): Promise<number> {
  const container = await docker.createContainer({ Image: tag, name: `${CONTAINER_PREFIX}elf` });
  try {
    const archive = (await container.getArchive({ path: '/agent' })) as NodeJS.ReadableStream;
    const extract = tar.extract();
    const head = new Promise<Buffer>((resolve, reject) => {
      extract.on('entry', (_h, stream, next) => {
        const parts: Buffer[] = [];
        stream.on('data', (b: unknown) => parts.push(b as Buffer));
        stream.on('end', () => {
          resolve(Buffer.concat(parts).subarray(0, 20));
          next();
        });
      });
      extract.on('error', reject);
    });
    archive.pipe(extract);
    return (await head).readUInt16LE(18);
  } finally {
    await container.remove({ force: true });
  }
}

describe.skipIf(rootless)('agent images for other platforms', () => {
  let work: string;
  let engine: PrivateDockerd;
  let echo: LoadedAgent;
  const built = new Map<string, BuiltImage>();

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'helix-test-platform-'));
    engine = await startDockerd(path.join(work, 'dockerd'));
    echo = (await loadAgents([SHIPPED_DIR])).find((a) => a.manifest.name === 'echo')!;
    for (const platform of ['linux/amd64', 'linux/arm64', 'linux/arm/v7']) {
      built.set(
        platform,
        await buildImage(echo, {
          runtime: new DockerRuntime({ docker: engine.docker }),
          imagePrefix: IMAGE_PREFIX,
          platform,
        }),
      );
    }
  }, 150_000);

  afterAll(async () => {
    await engine?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  }, 60_000);

  it('cross-builds one image per platform: tag, label, config and binary all name it', async () => {
    for (const [platform, image] of built) {
      expect(image.tag).toBe(imageTag('echo', echo.hash, platform, IMAGE_PREFIX));
      const info = (await engine.docker.getImage(image.tag).inspect()) as Awaited<
        ReturnType<Docker.Image['inspect']>
      > & { Variant?: string };
      const [, arch, variant] = platform.split('/');
      expect([info.Os, info.Architecture, info.Variant ?? undefined]).toEqual([
        'linux',
        arch,
        variant,
      ]);
      expect(info.Config.Labels).toMatchObject({
        'helix.agent': 'echo',
        'helix.hash': echo.hash,
        'helix.platform': platform,
      });
      expect(await agentMachine(engine.docker, image.tag), platform).toBe(ELF_MACHINE[platform]);
    }
    // One identity per platform: same sources, three images.
    expect(new Set([...built.values()].map((b) => b.id)).size).toBe(3);
  });

  it('says an image it holds for that platform is up to date', async () => {
    const again = await buildImage(echo, {
      runtime: new DockerRuntime({ docker: engine.docker }),
      imagePrefix: IMAGE_PREFIX,
      platform: 'linux/arm64',
    });
    expect(again).toMatchObject({ built: false, tag: built.get('linux/arm64')!.tag });
  });

  it.each(['linux/arm64', 'linux/arm/v7'])(
    'runs the %s agent under emulation on a runtime set to that platform',
    async (platform) => {
      if (noEmulation) {
        console.warn(`[platforms] skipped running ${platform}: ${noEmulation}`);
        return;
      }
      const runtime = new DockerRuntime({ docker: engine.docker, platform });
      const runner = new AgentRunner({
        runtime,
        agents: [echo],
        host: 'pi',
        imagePrefix: IMAGE_PREFIX,
        containerPrefix: CONTAINER_PREFIX,
        warmPoolSize: 0,
      });
      try {
        const events = await collect(
          runner.run({ agent: 'echo', intent: 'echo', args: { text: `hello from ${platform}` } }),
        );
        expect(outcome(events)).toMatchObject({ type: 'result', text: `hello from ${platform}` });
      } finally {
        await runner.stop();
      }
    },
    60_000,
  );

  it('never starts an image of another platform, even under a tag that claims it', async () => {
    const arm = new DockerRuntime({ docker: engine.docker, platform: 'linux/arm64' });
    const amd64 = built.get(native === 'linux/amd64' ? 'linux/amd64' : 'linux/arm/v7')!;
    // An amd64 image under the arm64 tag (a peer or a person that mislabelled it).
    const liar = imageTag('echo', 'e'.repeat(64), 'linux/arm64', IMAGE_PREFIX);
    const [repo, tag] = liar.split(':') as [string, string];
    await engine.docker.getImage(amd64.tag).tag({ repo, tag });
    // The container this start would have made, by its name (other tests' containers come and go).
    const never = () =>
      engine.docker.listContainers({
        all: true,
        filters: { name: [`${CONTAINER_PREFIX}never`] },
      });
    for (const image of [amd64.tag, liar]) {
      const err = await arm
        .start(sandboxFor(echo.manifest, { image, name: `${CONTAINER_PREFIX}never` }))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImagePlatformError);
      expect((err as Error).message).toMatch(
        /is a linux\/(amd64|arm\/v7) image and this node runs agents as linux\/arm64; it was not started/,
      );
    }
    // Refused before the engine was asked to create anything.
    expect(await never()).toEqual([]);
  });
});
