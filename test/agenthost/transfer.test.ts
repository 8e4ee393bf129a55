/**
 * Image transfer between two real Docker engines: the shared one (node "desk") and a private
 * dockerd with its own data root, exec root, pidfile and socket (node "laptop").
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentRunner,
  DockerRuntime,
  buildImage,
  imageTag,
  loadAgent,
  loadAgents,
} from '../../node/agents/index.js';
import type { LoadedAgent } from '../../node/agentspec/index.js';
import {
  ImageTransferError,
  PeerImageProvisioner,
  agentHostService,
  fetchImage,
  imageStoreService,
  runAnywhere,
  runnerExecutor,
  spool,
  type ImageEngine,
} from '../../node/agenthost/index.js';
import {
  AgentHostService,
  ImageStoreService,
  RpcClients,
  RpcServer,
  type ImageStoreServer,
  type RpcTarget,
} from '../../node/rpc/index.js';
import type { ImageHeld } from '../../node/types.js';
import {
  ensureDockerEngine,
  removeContainers,
  removeImages,
  startDockerd,
  type PrivateDockerd,
} from '../support/docker.js';
import { canMount, mountTinyFs } from '../support/tmpfs.js';
import { collect, hostPeer, meshSecret } from './helpers.js';
import { freePort } from '../support/ports.js';

const IMAGE_PREFIX = 'helix-test-ahx-';
const CONTAINER_PREFIX = 'helix-test-ahx-';
const DESK = '127.0.5.40';
const LAPTOP = '127.0.5.41';

describe('image transfer between two Docker engines', () => {
  const secret = meshSecret();
  let engine1: Docker;
  let dockerd2: PrivateDockerd | undefined;
  let desk: ImageEngine;
  let laptop: ImageEngine;
  let echo: LoadedAgent;
  let sleeper: LoadedAgent;
  let tag: string;
  let platform: string;
  let held: ImageHeld[];
  let work: string;
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeAll(async () => {
    engine1 = await ensureDockerEngine();
    work = await mkdtemp(path.join(os.tmpdir(), 'helix-test-ahx-'));
    dockerd2 = await startDockerd(path.join(work, 'dockerd2'));
    desk = new DockerRuntime({ docker: engine1 });
    laptop = new DockerRuntime({ docker: dockerd2.docker });
    echo = (await loadAgents([path.resolve('agents')])).find((a) => a.manifest.name === 'echo')!;
    sleeper = await loadAgent(path.resolve('test/agenthost/agents/sleeper'));
    const built = await buildImage(echo, {
      runtime: new DockerRuntime({ docker: engine1 }),
      imagePrefix: IMAGE_PREFIX,
    });
    await buildImage(sleeper, {
      runtime: new DockerRuntime({ docker: engine1 }),
      imagePrefix: IMAGE_PREFIX,
    });
    tag = built.tag;
    platform = built.platform;
    held = [
      { agent: 'echo', hash: echo.hash, platform, sizeBytes: built.sizeBytes, shareable: true },
    ];
  }, 120_000);

  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await dockerd2?.stop();
    if (engine1) {
      await removeContainers(engine1, CONTAINER_PREFIX);
      await removeImages(engine1, IMAGE_PREFIX);
    }
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Node "desk": an ImageStore server on the shared engine (or a stand-in implementation). */
  async function deskServer(
    service: ImageStoreServer = imageStoreService({
      engine: desk,
      images: () => held,
      imagePrefix: IMAGE_PREFIX,
    }),
  ) {
    const server = new RpcServer({
      addresses: [DESK],
      port: await freePort(),
      secret,
      shutdownTimeoutMs: 500,
    });
    server.addService(ImageStoreService, service);
    await server.start();
    const clients = new RpcClients({ nodeId: 'id-laptop', secret });
    cleanups.push(
      () => server.stop(),
      () => clients.close(),
    );
    return { server, clients, target: { address: DESK, port: server.port } };
  }

  /** laptop fetches the echo image from desk's server at `target`. */
  function fetchEcho(
    clients: RpcClients,
    target: RpcTarget,
    extra: Partial<Parameters<typeof fetchImage>[0]> = {},
  ) {
    return fetchImage({
      clients,
      peer: target,
      peerName: 'desk',
      agent: 'echo',
      hash: echo.hash,
      platform,
      engine: laptop,
      imagePrefix: IMAGE_PREFIX,
      ...extra,
    });
  }

  async function removeFromLaptop(t: string) {
    await dockerd2!.docker
      .getImage(t)
      .remove({ force: true })
      .catch(() => undefined);
  }

  it('saves on one engine, streams over gRPC with a verified digest, and loads on the other', async () => {
    await removeFromLaptop(tag);
    expect(await laptop.has(tag)).toBe(false);
    const { clients, target } = await deskServer();
    const progress: number[] = [];
    const got = await fetchEcho(clients, target, { onProgress: (n) => progress.push(n) });
    expect(got.tag).toBe(tag);
    expect(got.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(got.sizeBytes).toBe(progress.at(-1));
    // the same image: Docker's id is the digest of its config
    const [a, b] = await Promise.all([
      engine1.getImage(tag).inspect(),
      dockerd2!.docker.getImage(tag).inspect(),
    ]);
    expect(b.Id).toBe(a.Id);
    expect(b.Config.User).toBe('65534:65534');
  });

  /** A desk that sends the real image but lies in one way. */
  function lyingStore(lie: 'digest' | 'bytes' | 'tag'): ImageStoreServer {
    return {
      fetch: (call) => {
        void (async () => {
          const source =
            lie === 'tag' ? imageTag('sleeper', sleeper.hash, platform, IMAGE_PREFIX) : tag;
          const file = path.join(work, `lie-${lie}.tar`);
          const { digest, sizeBytes } = await spool(await desk.save(source), file);
          const bytes = await readFile(file);
          let announced = digest;
          if (lie === 'digest')
            announced = `sha256:${createHash('sha256').update('something else').digest('hex')}`;
          if (lie === 'bytes')
            bytes.writeUInt8(bytes.readUInt8(bytes.length >> 1) ^ 0xff, bytes.length >> 1);
          const half = Math.floor(bytes.length / 2);
          call.write({
            meta: { image: tag, digest: announced, sizeBytes, platform, builtMs: 0 },
            data: bytes.subarray(0, half),
          });
          call.write({ data: bytes.subarray(half) });
          call.end();
        })();
      },
    };
  }

  it.each([
    ['announces a digest the bytes do not have', 'digest' as const, /digest mismatch/],
    ['alters a byte in transit', 'bytes' as const, /digest mismatch/],
    [
      'sends an archive that would tag another image',
      'tag' as const,
      /would tag helix-test-ahx-sleeper:.* not just/,
    ],
  ])('refuses a peer that %s, and loads nothing', async (_what, lie, message) => {
    await removeFromLaptop(tag);
    await removeFromLaptop(imageTag('sleeper', sleeper.hash, platform, IMAGE_PREFIX));
    const { clients, target } = await deskServer(lyingStore(lie));
    const err = await fetchEcho(clients, target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageTransferError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toMatch(/from desk .*nothing was loaded/);
    expect(await laptop.has(tag)).toBe(false);
    expect(await laptop.has(imageTag('sleeper', sleeper.hash, platform, IMAGE_PREFIX))).toBe(false);
  });

  it.skipIf(!canMount)(
    'on a full disk says so, loads nothing, and the node keeps running',
    async () => {
      await removeFromLaptop(tag);
      const { clients, target } = await deskServer();
      const fs = mountTinyFs(256); // the echo image is about 1.6 MB
      try {
        const err = await fetchEcho(clients, target, { tmpDir: fs.dir }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ImageTransferError);
        expect((err as Error).message).toMatch(
          /from desk failed: cannot write .*image\.tar: the disk is full; free some space and try again \(ENOSPC[^)]*\); nothing was loaded/,
        );
        expect(await laptop.has(tag)).toBe(false);
        expect(readdirSync(fs.dir)).toEqual([]);
      } finally {
        fs.unmount();
      }
    },
  );

  it.skipIf(!canMount)(
    'a sender with a full disk says so, and the receiver loads nothing',
    async () => {
      await removeFromLaptop(tag);
      const fs = mountTinyFs(256);
      try {
        const { clients, target } = await deskServer(
          imageStoreService({
            engine: desk,
            images: () => held,
            imagePrefix: IMAGE_PREFIX,
            tmpDir: fs.dir,
          }),
        );
        const err = await fetchEcho(clients, target).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ImageTransferError);
        expect((err as Error).message).toMatch(
          /from desk failed: .*the sending node cannot write .*image\.tar: the disk is full/,
        );
        expect(await laptop.has(tag)).toBe(false);
        expect(readdirSync(fs.dir)).toEqual([]);
      } finally {
        fs.unmount();
      }
    },
  );

  it('does not offer an image that has not yet run successfully', async () => {
    const { clients, target } = await deskServer(
      imageStoreService({
        engine: desk,
        images: () => held.map((h) => ({ ...h, shareable: false })),
        imagePrefix: IMAGE_PREFIX,
      }),
    );
    const err = await fetchEcho(clients, target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageTransferError);
    expect((err as Error).message).toMatch(/has not run successfully here yet/);
  });

  it('a host without the image fetches it from the peer that holds it, then runs the agent', async () => {
    await removeFromLaptop(tag);
    const { server: deskRpc } = await deskServer();
    const clients = new RpcClients({ nodeId: 'id-laptop', secret });
    cleanups.push(() => clients.close());
    const deskPeer = {
      ...hostPeer({ name: 'desk', address: DESK, port: deskRpc.port, running: 4 }),
      images: held,
    };
    const view = () => [deskPeer, laptopPeer];

    // node "laptop": its own engine, no Go (no build function), a provisioner that fetches from peers
    const images = new PeerImageProvisioner({
      engine: laptop,
      platform: async () => platform,
      view,
      clients,
      imagePrefix: IMAGE_PREFIX,
    });
    const runner = new AgentRunner({
      runtime: new DockerRuntime({ docker: dockerd2!.docker }),
      agents: [echo],
      host: 'laptop',
      imagePrefix: IMAGE_PREFIX,
      containerPrefix: CONTAINER_PREFIX,
      warmPoolSize: 0,
      resolveImage: (agent, signal) => images.resolveImage(agent, signal),
    });
    cleanups.push(() => runner.stop());
    const laptopRpc = new RpcServer({
      addresses: [LAPTOP],
      port: await freePort(),
      secret,
      shutdownTimeoutMs: 500,
    });
    laptopRpc.addService(
      AgentHostService,
      agentHostService({
        executor: runnerExecutor(runner),
        images,
        self: { id: 'id-laptop', name: 'laptop' },
      }),
    );
    await laptopRpc.start();
    cleanups.push(() => laptopRpc.stop());
    const laptopPeer = hostPeer({ name: 'laptop', address: LAPTOP, port: laptopRpc.port });

    const caller = new RpcClients({ nodeId: 'id-pi', secret });
    cleanups.push(() => caller.close());
    const events = await collect(
      runAnywhere({
        view,
        clients: caller,
        manifest: echo.manifest,
        imageHash: echo.hash,
        intent: 'echo',
        args: { text: 'fetched and ran' },
        traceId: 't',
      }),
    );
    expect(events[0]).toMatchObject({
      type: 'placed',
      node: 'laptop',
      reason: expect.stringMatching(/will fetch the linux\/\S+ image from desk/),
    });
    expect(events[1]).toMatchObject({ type: 'accepted', hostName: 'laptop', warm: false });
    const said = events
      .filter((e) => e.type === 'progress')
      .map((e) => (e as { message: string }).message);
    expect(said).toEqual([
      `fetching image ${tag} from desk`,
      expect.stringMatching(new RegExp(`^fetched ${tag} from desk`)),
      'echoing',
    ]);
    expect(events.at(-1)).toMatchObject({
      type: 'result',
      text: 'fetched and ran',
      hostName: 'laptop',
    });
    expect(await laptop.has(tag)).toBe(true);
  });

  it('a host that can neither fetch nor build the image says why', async () => {
    const clients = new RpcClients({ nodeId: 'id-laptop', secret });
    cleanups.push(() => clients.close());
    const images = new PeerImageProvisioner({
      engine: laptop,
      platform: async () => platform,
      view: () => [],
      clients,
      imagePrefix: IMAGE_PREFIX,
    });
    await removeFromLaptop(imageTag('sleeper', sleeper.hash, platform, IMAGE_PREFIX));
    const err = await images
      .ensure(sleeper, { signal: AbortSignal.timeout(10_000) })
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /lacks helix-test-ahx-sleeper:.*no alive peer offers its linux\/\w+ image.*no Go toolchain.*no alive peer has Go and Docker.*apt-get install golang-go/,
    );
  });
});
