/**
 * The registry mirror as the node registers it (startAgentServices): a node whose own Docker
 * engine lacks an agent's image pulls it by digest through its loopback mirror, which fetches the
 * blobs from a peer that ran it successfully (ImageBlobs over gRPC, digests checked), runs it,
 * and then offers it too. Each node has its own dockerd.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RemoteRunEvent } from '../../node/agenthost/index.js';
import type { PeerView } from '../../node/types.js';
import {
  ensureDockerEngine,
  removeContainers,
  removeImages,
  startDockerd,
  type PrivateDockerd,
} from '../support/docker.js';
import {
  CONTAINER_PREFIX,
  IMAGE_PREFIX,
  collect,
  startTestNode,
  type TestNode,
} from './service-helpers.js';
import { freePort } from '../support/ports.js';

describe('agent images between nodes through the registry mirror', () => {
  let privateEngine: PrivateDockerd;
  let desk: TestNode;
  let laptop: TestNode;
  let peersOfDesk: () => PeerView[] = () => [];
  let peersOfLaptop: () => PeerView[] = () => [];

  beforeAll(async () => {
    const shared = await ensureDockerEngine();
    await removeContainers(shared, CONTAINER_PREFIX);
    privateEngine = await startDockerd(await mkdtemp(path.join(os.tmpdir(), 'helix-svc-dockerd-')));
    const secret = randomBytes(32);
    const common = { agents: ['shout'], secret, config: { agents: { warm_pool_size: 0 } } };
    desk = await startTestNode({
      ...common,
      docker: shared,
      address: '127.0.7.7',
      port: await freePort(),
      name: 'desk',
      peers: () => peersOfDesk(),
    });
    laptop = await startTestNode({
      ...common,
      docker: privateEngine.docker,
      address: '127.0.7.8',
      port: await freePort(),
      name: 'laptop',
      peers: () => peersOfLaptop(),
    });
    peersOfDesk = () => [laptop.asPeer()];
    peersOfLaptop = () => [desk.asPeer()];
    await Promise.all([desk.svc.ready(), laptop.svc.ready()]);
  }, 240_000);

  afterAll(async () => {
    await laptop?.stop();
    await desk?.stop();
    await privateEngine?.stop();
    const shared = await ensureDockerEngine();
    await removeContainers(shared, CONTAINER_PREFIX);
    await removeImages(shared, IMAGE_PREFIX);
  }, 60_000);

  it('fetches the image from the peer that ran it, then runs it and offers it in turn', async () => {
    // desk builds and runs shout once: its image becomes shareable.
    const first = await collect(
      desk.svc.runIntent({ agent: 'shout', intent: 'say', args: { text: 'one' }, onNode: 'desk' }),
    );
    expect(first.at(-1)).toMatchObject({ type: 'result', text: 'ONE' });
    expect(desk.svc.advert().images).toMatchObject([{ agent: 'shout', shareable: true }]);
    expect(laptop.svc.advert().images).toEqual([]);

    const events: RemoteRunEvent[] = await collect(
      laptop.svc.runIntent({
        agent: 'shout',
        intent: 'say',
        args: { text: 'two' },
        onNode: 'laptop',
      }),
    );
    const progress = events.filter((e) => e.type === 'progress').map((e) => e.message);
    // through laptop's registry mirror, by digest, from desk's blobs (ImageBlobs over gRPC)
    expect(progress).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^pulling image helix-test-svc-shout:\w{16}-linux-[\w-]+ through the registry mirror 127\.0\.0\.1:\d+$/,
        ),
        expect.stringMatching(
          /^pulled helix-test-svc-shout:\w{16}-linux-[\w-]+ through the registry mirror \(sha256:\w{12}\)$/,
        ),
      ]),
    );
    expect(progress.some((m) => /^(fetching|building) image/.test(m))).toBe(false);
    expect(events.at(-1)).toMatchObject({ type: 'result', text: 'TWO', hostName: 'laptop' });
    const held = laptop.svc.advert().images;
    expect(held).toMatchObject([{ agent: 'shout', shareable: true }]);
    expect(held[0]!.hash).toBe(desk.svc.advert().images[0]!.hash);

    // laptop now offers it too: its mirror, converting its own engine's copy, gives the same index
    const index = async (node: TestNode) => {
      const res = await fetch(
        `http://${node.svc.registryMirror}/v2/helix/shout/manifests/${held[0]!.hash.slice(0, 16)}`,
      );
      expect(res.status).toBe(200);
      return res.headers.get('docker-content-digest');
    };
    expect(await index(laptop)).toBe(await index(desk));
  }, 120_000);
});
