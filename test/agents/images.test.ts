import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DependencyMissingError } from '../../node/errors.js';
import {
  buildImage,
  DockerRuntime,
  IMAGE_SIZE_LIMIT_BYTES,
  loadAgents,
} from '../../node/agents/index.js';
import { ensureDockerEngine, removeImages } from '../support/docker.js';

const PREFIX = 'helix-test-img-';
const shipped = path.resolve('agents');

describe('agent images', () => {
  let docker: Docker;
  beforeAll(async () => {
    docker = await ensureDockerEngine();
    await removeImages(docker, PREFIX);
  });
  afterAll(async () => {
    await removeImages(docker, PREFIX);
  });

  it('builds every shipped agent into a scratch image under 10 MB that runs as nobody, and a rebuild is a no-op', async () => {
    const agents = await loadAgents([shipped]);
    expect(agents.map((a) => a.manifest.name).sort()).toEqual([
      'echo',
      'lights',
      'mesh',
      'research',
      'timer',
    ]);
    for (const agent of agents) {
      const progress: string[] = [];
      const first = await buildImage(agent, {
        runtime: new DockerRuntime({ docker }),
        imagePrefix: PREFIX,
        onProgress: (l) => progress.push(l),
      });
      expect(first.built).toBe(true);
      // the engine's own platform, in the tag, the label and the image's config
      const [, arch] = first.platform.split('/');
      expect(first.tag).toBe(
        `${PREFIX}${agent.manifest.name}:${agent.hash.slice(0, 16)}-${first.platform.replaceAll('/', '-')}`,
      );
      expect(first.sizeBytes).toBeGreaterThan(0);
      expect(first.sizeBytes).toBeLessThan(IMAGE_SIZE_LIMIT_BYTES);
      expect(progress.some((l) => l.startsWith(`built ${first.tag}`))).toBe(true);
      console.log(`${first.tag} ${(first.sizeBytes / 1e6).toFixed(2)} MB`);

      const info = await docker.getImage(first.tag).inspect();
      expect(info.Config.User).toBe('65534:65534');
      expect(info.Config.Labels?.['helix.hash']).toBe(agent.hash);
      expect(info.Config.Labels?.['helix.platform']).toBe(first.platform);
      expect(info.Architecture).toBe(arch);
      expect(info.RootFS.Layers).toHaveLength(1); // FROM scratch + one COPY

      const again = await buildImage(agent, {
        runtime: new DockerRuntime({ docker }),
        imagePrefix: PREFIX,
      });
      expect(again).toMatchObject({ built: false, tag: first.tag, id: first.id });
    }
  });

  it('says how to install Go when the toolchain is missing', async () => {
    const [echo] = await loadAgents([shipped]).then((as) =>
      as.filter((a) => a.manifest.name === 'echo'),
    );
    await expect(
      buildImage(echo!, {
        runtime: new DockerRuntime({ docker }),
        imagePrefix: `${PREFIX}nogo-`,
        go: '/nonexistent/go',
      }),
    ).rejects.toThrow(DependencyMissingError);
    await expect(
      buildImage(echo!, {
        runtime: new DockerRuntime({ docker }),
        imagePrefix: `${PREFIX}nogo-`,
        go: '/nonexistent/go',
      }),
    ).rejects.toThrow(/apt-get install golang-go/);
  });

  it('says how to start Docker when no engine answers', async () => {
    const Dockerode = (await import('dockerode')).default;
    const none = new Dockerode({ socketPath: '/tmp/helix-test-no-such-docker.sock' });
    const [echo] = await loadAgents([shipped]);
    await expect(
      buildImage(echo!, { runtime: new DockerRuntime({ docker: none }), imagePrefix: PREFIX }),
    ).rejects.toThrow(/Docker engine.*systemctl start docker/);
  });
});
