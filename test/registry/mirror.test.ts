/**
 * The registry mirror on real parts: agent images built by the shared Docker engine (node
 * "desk", 127.0.109.1), served as OCI content over the real HTTP API, relayed between nodes over
 * real gRPC (ImageBlobs) to node "laptop" (127.0.109.2), whose own dockerd pulls through it by
 * digest and runs the agent; containerd's `ctr` pulls through it too. Image names start with
 * helix-test-agent-mirror-.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { promisify } from 'node:util';
import { createReadStream } from 'node:fs';
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
import { PeerImageProvisioner, imageStoreService } from '../../node/agenthost/index.js';
import {
  MEDIA_TYPE,
  MirrorHttpServer,
  RegistryMirror,
  dockerEnginePull,
  imageBlobsService,
  parseManifest,
  pullThroughMirror,
  type ImageBlobsOptions,
} from '../../node/registry/index.js';
import {
  ImageBlobsService,
  ImageStoreService,
  RpcClients,
  RpcServer,
} from '../../node/rpc/index.js';
import type { ImageHeld, PeerView } from '../../node/types.js';
import {
  ensureDockerEngine,
  removeContainers,
  removeImages,
  startDockerd,
  type PrivateDockerd,
} from '../support/docker.js';
import { freePort } from '../support/ports.js';
import { collect, hostPeer, meshSecret } from '../agenthost/helpers.js';

const run = promisify(execFile);
const IMAGE_PREFIX = 'helix-test-agent-mirror-';
const DESK = '127.0.109.1';
const LAPTOP = '127.0.109.2';
const SHED = '127.0.109.3';
/** docker's own containerd (docker.io starts it); a system containerd would be /run/containerd */
const CONTAINERD_SOCKETS = [
  '/run/containerd/containerd.sock',
  '/var/run/docker/containerd/containerd.sock',
];
const CTR_NAMESPACE = 'helix-test-mirror';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface MirrorNode {
  mirror: RegistryMirror;
  http: MirrorHttpServer;
  rpc: RpcServer | null;
  peer: PeerView;
  url: string;
}

describe('the OCI registry mirror', () => {
  const secret = meshSecret();
  let shared: Docker;
  let laptopd: PrivateDockerd | undefined;
  let work: string;
  let echo: LoadedAgent;
  let shout: LoadedAgent;
  let held: ImageHeld[];
  let platform: string;
  let desk: MirrorNode;
  let laptop: MirrorNode;
  let clients: RpcClients;
  const cleanups: Array<() => Promise<unknown> | unknown> = [];

  async function mirrorNode(o: {
    name: string;
    address: string;
    engine: DockerRuntime | null;
    images: () => ImageHeld[];
    view: () => PeerView[];
    serve?: ImageBlobsOptions;
    rttMs?: number;
  }): Promise<MirrorNode> {
    const mirror = new RegistryMirror({
      dir: path.join(work, o.name),
      engine: o.engine,
      images: o.images,
      tagOf: (i) => imageTag(i.agent, i.hash, i.platform, IMAGE_PREFIX),
      view: o.view,
      clients,
      peerTimeoutMs: 20_000,
    });
    await mirror.open();
    const rpc = new RpcServer({
      addresses: [o.address],
      port: await freePort(),
      secret,
      shutdownTimeoutMs: 0,
    });
    rpc.addService(ImageBlobsService, imageBlobsService(mirror, o.serve));
    // the older transfer, which provisioning falls back to
    if (o.engine)
      rpc.addService(
        ImageStoreService,
        imageStoreService({ engine: o.engine, images: o.images, imagePrefix: IMAGE_PREFIX }),
      );
    await rpc.start();
    const http = new MirrorHttpServer(mirror, { port: 0 });
    await http.start();
    cleanups.push(
      () => http.stop(),
      () => rpc.stop(),
    );
    const peer: PeerView = {
      ...hostPeer({ name: o.name, address: o.address, port: rpc.port, rttMs: o.rttMs }),
      images: o.images(),
    };
    return { mirror, http, rpc, peer, url: `http://${http.address}` };
  }

  beforeAll(async () => {
    shared = await ensureDockerEngine();
    work = await mkdtemp(path.join(os.tmpdir(), 'helix-test-mirror-'));
    laptopd = await startDockerd(path.join(work, 'laptopd'));
    echo = (await loadAgents([path.resolve('agents')])).find((a) => a.manifest.name === 'echo')!;
    shout = await loadAgent(path.resolve('test/agenthost/agents/shout'));
    const runtime = new DockerRuntime({ docker: shared });
    const built = [
      await buildImage(echo, { runtime, imagePrefix: IMAGE_PREFIX }),
      await buildImage(shout, { runtime, imagePrefix: IMAGE_PREFIX }),
    ];
    platform = built[0]!.platform;
    held = built.map((b) => ({
      agent: b.agent,
      hash: b.hash,
      platform: b.platform,
      sizeBytes: b.sizeBytes,
      shareable: true,
    }));
    clients = new RpcClients({ nodeId: 'id-laptop', secret });
    desk = await mirrorNode({
      name: 'desk',
      address: DESK,
      engine: runtime,
      images: () => held,
      view: () => [],
      rttMs: 5,
    });
    laptop = await mirrorNode({
      name: 'laptop',
      address: LAPTOP,
      engine: new DockerRuntime({ docker: laptopd.docker }),
      images: () => [],
      view: () => [{ ...laptop.peer, self: true }, desk.peer],
    });
  }, 180_000);

  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    clients?.close();
    await laptopd?.stop();
    if (shared) {
      await removeContainers(shared, IMAGE_PREFIX);
      await removeImages(shared, IMAGE_PREFIX);
    }
    if (work) await rm(work, { recursive: true, force: true });
  }, 60_000);

  const get = (node: MirrorNode, p: string, init?: RequestInit) => fetch(`${node.url}${p}`, init);

  async function indexOf(node: MirrorNode, agent: LoadedAgent) {
    const res = await get(
      node,
      `/v2/helix/${agent.manifest.name}/manifests/${agent.hash.slice(0, 16)}`,
    );
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    return { res, bytes, digest: res.headers.get('docker-content-digest')! };
  }

  async function manifestOf(node: MirrorNode, agent: LoadedAgent) {
    const index = await indexOf(node, agent);
    const [m] = parseManifest(index.bytes).children;
    const res = await get(node, `/v2/helix/${agent.manifest.name}/manifests/${m!.digest}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const [config, ...layers] = parseManifest(bytes).children;
    return { index, manifest: m!, config: config!, layers };
  }

  it('answers the version check and the registry API errors with their codes', async () => {
    const v2 = await get(desk, '/v2/');
    expect(v2.status).toBe(200);
    expect(v2.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    const zero = `sha256:${'0'.repeat(64)}`;
    const cases: Array<[string, string, number, string]> = [
      ['GET', `/v2/helix/echo/manifests/${zero}`, 404, 'MANIFEST_UNKNOWN'],
      ['GET', `/v2/helix/echo/blobs/${zero}`, 404, 'BLOB_UNKNOWN'],
      ['GET', '/v2/helix/echo/manifests/latest', 404, 'MANIFEST_UNKNOWN'],
      ['GET', '/v2/helix/nobody/manifests/0123456789abcdef', 404, 'MANIFEST_UNKNOWN'],
      ['GET', '/v2/library/alpine/manifests/latest', 404, 'NAME_UNKNOWN'],
      ['GET', '/v2/helix/echo/blobs/sha256:xyz', 400, 'DIGEST_INVALID'],
      ['PUT', `/v2/helix/echo/manifests/${zero}`, 405, 'UNSUPPORTED'],
      ['DELETE', `/v2/helix/echo/blobs/${zero}`, 405, 'UNSUPPORTED'],
      ['POST', '/v2/helix/echo/blobs/uploads/', 405, 'UNSUPPORTED'],
    ];
    // laptop asks desk (the holder of echo) for the unknown digests, and still says unknown
    for (const node of [desk, laptop]) {
      for (const [method, p, status, code] of cases) {
        const res = await get(node, p, { method });
        expect({ p, method, status: res.status }).toEqual({ p, method, status });
        expect(res.headers.get('content-type')).toBe('application/json');
        const body = (await res.json()) as { errors: Array<{ code: string; message: string }> };
        expect(body.errors[0]).toMatchObject({ code, message: expect.any(String) });
      }
    }
    const head = await get(laptop, `/v2/helix/echo/blobs/${zero}`, { method: 'HEAD' });
    expect(head.status).toBe(404);
  });

  it('serves an agent version from its engine as an OCI index, with stable digests, HEAD and ranges', async () => {
    const { index, manifest, config, layers } = await manifestOf(desk, echo);
    expect(index.res.headers.get('content-type')).toBe(MEDIA_TYPE.index);
    expect(index.digest).toBe(sha256(index.bytes));
    expect(parseManifest(index.bytes).children).toEqual([
      expect.objectContaining({
        mediaType: MEDIA_TYPE.manifest,
        platform: expect.objectContaining({ os: 'linux', architecture: 'amd64' }),
      }),
    ]);
    expect(manifest.mediaType).toBe(MEDIA_TYPE.manifest);
    expect(config.mediaType).toBe(MEDIA_TYPE.config);
    // the config is the engine's: its digest is the image id
    const image = await shared
      .getImage(imageTag('echo', echo.hash, platform, IMAGE_PREFIX))
      .inspect();
    expect(config.digest).toBe(image.Id);
    expect(layers).toEqual([expect.objectContaining({ mediaType: MEDIA_TYPE.layer })]);
    const layer = layers[0]!;

    const head = await get(desk, `/v2/helix/echo/blobs/${layer.digest}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(layer.size);
    expect(head.headers.get('docker-content-digest')).toBe(layer.digest);
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const headManifest = await get(desk, `/v2/helix/echo/manifests/${manifest.digest}`, {
      method: 'HEAD',
    });
    expect(headManifest.headers.get('content-type')).toBe(MEDIA_TYPE.manifest);
    expect(headManifest.headers.get('docker-content-digest')).toBe(manifest.digest);

    const whole = Buffer.from(
      await (await get(desk, `/v2/helix/echo/blobs/${layer.digest}`)).arrayBuffer(),
    );
    expect(sha256(whole)).toBe(layer.digest);
    const part = await get(desk, `/v2/helix/echo/blobs/${layer.digest}`, {
      headers: { Range: 'bytes=100-1123' },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-1123/${layer.size}`);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(whole.subarray(100, 1124));
    const tail = await get(desk, `/v2/helix/echo/blobs/${layer.digest}`, {
      headers: { Range: 'bytes=-10' },
    });
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(whole.subarray(whole.length - 10));
    const past = await get(desk, `/v2/helix/echo/blobs/${layer.digest}`, {
      headers: { Range: `bytes=${layer.size}-` },
    });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${layer.size}`);

    // a second conversion (another cache, a later docker save) gives the same digests
    const again = await mirrorNode({
      name: 'desk-again',
      address: DESK,
      engine: new DockerRuntime({ docker: shared }),
      images: () => held,
      view: () => [],
    });
    expect((await indexOf(again, echo)).digest).toBe(index.digest);
  });

  it('laptop serves blobs only desk holds, one transfer for concurrent pulls', async () => {
    const fromDesk = await manifestOf(desk, echo);
    const viaLaptop = await indexOf(laptop, echo);
    expect(viaLaptop.digest).toBe(fromDesk.index.digest);
    expect(viaLaptop.bytes).toEqual(fromDesk.index.bytes);
    const layer = fromDesk.layers[0]!;
    await laptop.mirror.store.remove(layer.digest);
    const before = laptop.mirror.stats.peerTransfers;
    const bodies = await Promise.all(
      Array.from({ length: 6 }, async () =>
        Buffer.from(
          await (await get(laptop, `/v2/helix/echo/blobs/${layer.digest}`)).arrayBuffer(),
        ),
      ),
    );
    for (const b of bodies) expect(sha256(b)).toBe(layer.digest);
    expect(laptop.mirror.stats.peerTransfers - before).toBe(1);
  });

  it('laptop’s dockerd pulls echo through the mirror by digest and runs it', async () => {
    const engine = new DockerRuntime({ docker: laptopd!.docker });
    const tag = imageTag('echo', echo.hash, platform, IMAGE_PREFIX);
    await laptopd!.docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => undefined);
    const images = new PeerImageProvisioner({
      engine,
      platform: async () => platform,
      view: () => [{ ...laptop.peer, self: true }, desk.peer],
      clients,
      imagePrefix: IMAGE_PREFIX,
      mirror: {
        address: laptop.http.address,
        pull: (agent, hash, t, signal) =>
          pullThroughMirror({
            mirror: laptop.mirror,
            address: laptop.http.address,
            engine: dockerEnginePull(laptopd!.docker),
            agent,
            hash,
            tag: t,
            signal,
          }),
      },
    });
    const said: string[] = [];
    await images.ensure(echo, {
      signal: AbortSignal.timeout(50_000),
      onProgress: (m) => said.push(m),
    });
    expect(said).toEqual([
      `pulling image ${tag} through the registry mirror ${laptop.http.address}`,
      expect.stringMatching(new RegExp(`^pulled ${tag} through the registry mirror \\(sha256:`)),
    ]);
    const pulled = await laptopd!.docker.getImage(tag).inspect();
    const original = await shared.getImage(tag).inspect();
    expect(pulled.Id).toBe(original.Id);
    // only the node's tag is left: removing it (the budget) removes the image
    expect(pulled.RepoTags).toEqual([tag]);
    expect(pulled.RepoDigests).toEqual([]);

    const runner = new AgentRunner({
      runtime: engine,
      agents: [echo],
      host: 'laptop',
      imagePrefix: IMAGE_PREFIX,
      containerPrefix: IMAGE_PREFIX,
      warmPoolSize: 0,
    });
    cleanups.push(() => runner.stop());
    const events = await collect(
      runner.run({ agent: 'echo', intent: 'echo', args: { text: 'via the mirror' } }),
    );
    expect(events.at(-1)).toMatchObject({ type: 'result', text: 'via the mirror' });
  }, 60_000);

  it('falls back to ImageStore.Fetch when the engine cannot pull through the mirror', async () => {
    const engine = new DockerRuntime({ docker: laptopd!.docker });
    const tag = imageTag('shout', shout.hash, platform, IMAGE_PREFIX);
    await laptopd!.docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => undefined);
    // a mirror that is not listening any more (the engine would find nothing on that port)
    const gone = new MirrorHttpServer(laptop.mirror, { port: 0 });
    await gone.start();
    const address = gone.address;
    await gone.stop();
    const images = new PeerImageProvisioner({
      engine,
      platform: async () => platform,
      view: () => [{ ...laptop.peer, self: true }, desk.peer],
      clients,
      imagePrefix: IMAGE_PREFIX,
      mirror: {
        address,
        pull: (agent, hash, t, signal) =>
          pullThroughMirror({
            mirror: laptop.mirror,
            address,
            engine: dockerEnginePull(laptopd!.docker),
            agent,
            hash,
            tag: t,
            signal,
          }),
      },
    });
    const said: string[] = [];
    await images.ensure(shout, {
      signal: AbortSignal.timeout(50_000),
      onProgress: (m) => said.push(m),
    });
    expect(said).toEqual([
      `pulling image ${tag} through the registry mirror ${address}`,
      `fetching image ${tag} from desk`,
      expect.stringMatching(new RegExp(`^fetched ${tag} from desk`)),
    ]);
    expect(await engine.has(tag)).toBe(true);
    await laptopd!.docker.getImage(tag).remove({ force: true });
  }, 60_000);

  it('containerd’s ctr pulls through the mirror and checks the digest', async () => {
    const socket = CONTAINERD_SOCKETS.find((s) => existsSync(s));
    expect(socket, `no containerd socket at ${CONTAINERD_SOCKETS.join(' or ')}`).toBeDefined();
    const { index } = await manifestOf(laptop, echo);
    const ref = `${laptop.http.address}/helix/echo@${index.digest}`;
    const ctr = (...args: string[]) =>
      run('ctr', ['-a', socket!, '-n', CTR_NAMESPACE, ...args], { timeout: 40_000 });
    cleanups.push(async () => {
      await ctr('images', 'rm', '--sync', ref).catch(() => undefined);
      await run('ctr', ['-a', socket!, 'namespaces', 'rm', CTR_NAMESPACE]).catch(() => undefined);
    });
    await ctr('images', 'rm', '--sync', ref).catch(() => undefined);
    await ctr('images', 'pull', '--plain-http', ref);
    const { stdout } = await ctr('images', 'ls');
    const row = stdout.split('\n').find((l) => l.startsWith(ref));
    expect(row).toBeDefined();
    expect(row).toContain(MEDIA_TYPE.index);
    expect(row).toContain(index.digest);
    expect(row).toContain('linux/amd64');
  }, 60_000);

  it('refuses a corrupt blob from a peer: never cached, never served, never pulled', async () => {
    const { index, layers } = await manifestOf(desk, shout);
    const layer = layers[0]!;
    // desk's cached copy rots on disk: desk serves it as it is, laptop must catch it
    const file = desk.mirror.store.path(layer.digest);
    const good = await readFile(file);
    const bad = Buffer.from(good);
    bad[bad.length >> 1]! ^= 0xff;
    await writeFile(file, bad);
    try {
      const mismatches = laptop.mirror.stats.digestMismatches;
      const res = await get(laptop, `/v2/helix/shout/blobs/${layer.digest}`);
      expect(res.status).toBe(404);
      const body = (await res.json()) as { errors: Array<{ code: string; message: string }> };
      expect(body.errors[0]!.code).toBe('BLOB_UNKNOWN');
      expect(body.errors[0]!.message).toMatch(/desk sent bytes that hash to sha256:/);
      expect(laptop.mirror.stats.digestMismatches).toBe(mismatches + 1);
      expect(await laptop.mirror.store.size(layer.digest)).toBeNull();

      const tag = imageTag('shout', shout.hash, platform, IMAGE_PREFIX);
      const err = await pullThroughMirror({
        mirror: laptop.mirror,
        address: laptop.http.address,
        engine: dockerEnginePull(laptopd!.docker),
        agent: 'shout',
        hash: shout.hash,
        tag,
      }).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/docker pull .*shout@sha256:.* failed/);
      const there = await laptopd!.docker.listImages({ all: true });
      expect(there.map((i) => i.Id)).not.toContain((await shared.getImage(tag).inspect()).Id);
      expect(index.digest).toMatch(/^sha256:/);
    } finally {
      await writeFile(file, good);
    }
  }, 60_000);

  it('a peer that vanishes mid-blob is replaced by another that holds it', async () => {
    let shed: MirrorNode | undefined = undefined;
    // node "shed" is nearer than desk and holds echo too, but goes away after its first chunk
    shed = await mirrorNode({
      name: 'shed',
      address: SHED,
      engine: new DockerRuntime({ docker: shared }),
      images: () => held,
      view: () => [],
      rttMs: 1,
      serve: {
        chunkBytes: 64 * 1024,
        open: (p, start) => {
          let sent = 0;
          return createReadStream(p, { start, highWaterMark: 64 * 1024 }).pipe(
            new Transform({
              transform(chunk: Buffer, _enc, done) {
                sent++;
                if (sent === 1) return done(null, chunk);
                // the node is gone: its gRPC server and every call with it
                void shed!.rpc!.stop();
                done(new Error('gone'));
              },
            }),
          );
        },
      },
    });
    const { layers } = await manifestOf(shed, echo);
    const layer = layers[0]!;
    expect(layer.size).toBeGreaterThan(128 * 1024);
    const node = await mirrorNode({
      name: 'laptop-2',
      address: LAPTOP,
      engine: null,
      images: () => [],
      view: () => [shed!.peer, desk.peer],
    });
    const res = await get(node, `/v2/helix/echo/blobs/${layer.digest}`);
    expect(res.status).toBe(200);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(layer.digest);
    expect(node.mirror.stats).toMatchObject({ peerTransfers: 1, peerFailovers: 1 });
  }, 60_000);

  it('offers only images that ran successfully, and drops the blobs of images no longer held', async () => {
    let offered: ImageHeld[] = held.map((h) => ({ ...h, shareable: false }));
    const attic = await mirrorNode({
      name: 'attic',
      address: SHED,
      engine: new DockerRuntime({ docker: shared }),
      images: () => offered,
      view: () => [],
    });
    const version = `/v2/helix/echo/manifests/${echo.hash.slice(0, 16)}`;
    const refused = await get(attic, version);
    expect(refused.status).toBe(404);
    expect(((await refused.json()) as { errors: Array<{ code: string }> }).errors[0]!.code).toBe(
      'MANIFEST_UNKNOWN',
    );

    offered = held;
    const { layers } = await manifestOf(attic, echo);
    const layer = layers[0]!;
    expect(await attic.mirror.store.size(layer.digest)).toBe(layer.size);
    // the agents registry removed echo (least recently used, past the budget)
    offered = held.filter((h) => h.agent !== 'echo');
    expect(await attic.mirror.prune()).toBeGreaterThan(0);
    expect(await attic.mirror.store.size(layer.digest)).toBeNull();
    expect((await get(attic, `/v2/helix/echo/blobs/${layer.digest}`)).status).toBe(404);
    expect((await get(attic, version)).status).toBe(404);
  });
});
