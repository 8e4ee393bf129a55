/**
 * Image transfer throughput between two Docker engines on this machine: the shared engine and a
 * private dockerd (own data root, exec root, pidfile, socket). For each image, in the same run
 * and alternating:
 *  - bare: `docker -H A save IMAGE | docker -H B load` (one pipe, nothing checked);
 *  - HelixOS: ImageStore.Fetch over gRPC (mesh-proof auth, 127.0.5.50) into fetchImage: the
 *    sender spools `docker save` to a file to announce its sha256 first, the receiver spools while
 *    hashing, checks digest, size and tags, then `docker load`s.
 *  - mirror: B's engine pulls by digest through B's registry mirror on loopback, which fetches
 *    the blobs from A's mirror over ImageBlobs (gRPC, mesh proof) and checks each sha256 first
 *    (node/registry). B's mirror starts with an empty cache every run; A's keeps the blobs it
 *    converted from `docker save` in the first (warm-up) round, as a node that offers an image does.
 * The image is removed from B before every transfer. Images: the echo agent (~1.5 MB, what
 * peers really exchange) and a FROM scratch image holding N MB of random bytes (throughput).
 *
 *   npx tsx bench/agenthost/transfer.ts [--runs 5] [--mb 64] [--json]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type Docker from 'dockerode';
import tar from 'tar-stream';
import { buildImage, DockerRuntime, imageTag, loadAgents } from '../../node/agents/index.js';
import { fetchImage, imageStoreService } from '../../node/agenthost/index.js';
import {
  ImageBlobsService,
  ImageStoreService,
  RpcClients,
  RpcServer,
} from '../../node/rpc/index.js';
import {
  MirrorHttpServer,
  RegistryMirror,
  dockerEnginePull,
  imageBlobsService,
  pullThroughMirror,
} from '../../node/registry/index.js';
import { hostPeer } from '../../test/agenthost/helpers.js';
import type { ImageHeld } from '../../node/types.js';
import {
  DEFAULT_DOCKER_SOCKET,
  ensureDockerEngine,
  removeImages,
  startDockerd,
} from '../../test/support/docker.js';
import { percentiles, type Percentiles } from '../agents/baseline.js';
import { freePort } from '../../test/support/ports.js';

const PREFIX = 'helix-bench-ahx-';
const ADDRESS = '127.0.5.50';
const PORT = await freePort();

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    mb: { type: 'string', default: '64' },
    json: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);

/** A FROM scratch image with `mb` MB of random (incompressible) bytes, tagged like an agent image. */
async function blobImage(
  docker: Docker,
  mb: number,
  platform: string,
): Promise<{ agent: string; hash: string; tag: string }> {
  const hash = randomBytes(8).toString('hex');
  const tag = imageTag('blob', hash, platform, PREFIX);
  const context = tar.pack();
  context.entry({ name: 'Dockerfile' }, 'FROM scratch\nCOPY blob /blob\n');
  context.entry({ name: 'blob' }, randomBytes(mb * 1024 * 1024));
  context.finalize();
  // tar-stream packs are streamx streams, which dockerode reads like Node streams.
  const out = await docker.buildImage(context as unknown as NodeJS.ReadableStream, {
    t: tag,
    platform,
    rm: true,
  });
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(out, (err: Error | null) => (err ? reject(err) : resolve())),
  );
  return { agent: 'blob', hash, tag };
}

function barePipe(socketA: string, socketB: string, tag: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const save = spawn('docker', ['-H', `unix://${socketA}`, 'save', tag], {
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 300_000,
    });
    const load = spawn('docker', ['-H', `unix://${socketB}`, 'load', '-q'], {
      stdio: ['pipe', 'ignore', 'inherit'],
      timeout: 300_000,
    });
    save.stdout.pipe(load.stdin);
    let pending = 2;
    const done = (what: string) => (code: number | null) => {
      if (code !== 0) reject(new Error(`${what} exited with ${code}`));
      else if (--pending === 0) resolve();
    };
    save.once('close', done('docker save'));
    load.once('close', done('docker load'));
  });
}

async function main(): Promise<void> {
  const engineA = await ensureDockerEngine();
  const work = await mkdtemp(path.join(os.tmpdir(), 'helix-bench-ahx-'));
  const dockerdB = await startDockerd(path.join(work, 'dockerd-b'));
  const secret = randomBytes(32);
  const held: ImageHeld[] = [];
  const server = new RpcServer({ addresses: [ADDRESS], port: PORT, secret });
  server.addService(
    ImageStoreService,
    imageStoreService({
      engine: new DockerRuntime({ docker: engineA }),
      images: () => held,
      imagePrefix: PREFIX,
    }),
  );
  const clients = new RpcClients({ nodeId: 'id-b', secret });
  const engineB = new DockerRuntime({ docker: dockerdB.docker });
  const mirrorA = new RegistryMirror({
    dir: path.join(work, 'mirror-a'),
    engine: new DockerRuntime({ docker: engineA }),
    images: () => held,
    tagOf: (i) => imageTag(i.agent, i.hash, PREFIX),
    view: () => [],
    clients,
  });
  await mirrorA.open();
  server.addService(ImageBlobsService, imageBlobsService(mirrorA));
  const peerA = () => ({ ...hostPeer({ name: 'a', address: ADDRESS, port: PORT }), images: held });
  let round = 0;
  /** B's mirror with an empty cache, and its engine pulling through it. */
  async function mirrorPull(agent: string, hash: string): Promise<void> {
    const mirrorB = new RegistryMirror({
      dir: path.join(work, `mirror-b-${round++}`),
      engine: null,
      images: () => [],
      tagOf: (i) => imageTag(i.agent, i.hash, PREFIX),
      view: () => [peerA()],
      clients,
    });
    await mirrorB.open();
    const http = new MirrorHttpServer(mirrorB, { port: 0 });
    await http.start();
    try {
      await pullThroughMirror({
        mirror: mirrorB,
        address: http.address,
        engine: dockerEnginePull(dockerdB.docker),
        agent,
        hash,
        tag: imageTag(agent, hash, PREFIX),
      });
    } finally {
      await http.stop();
      await rm(mirrorB.store.dir, { recursive: true, force: true });
    }
  }
  try {
    await server.start();
    const echo = (await loadAgents([path.resolve('agents')])).find(
      (a) => a.manifest.name === 'echo',
    )!;
    const echoImage = await buildImage(echo, {
      runtime: new DockerRuntime({ docker: engineA }),
      imagePrefix: PREFIX,
    });
    const platform = echoImage.platform;
    const blob = await blobImage(engineA, Number(values.mb), platform);
    const images = [
      { agent: 'echo', hash: echo.hash, tag: echoImage.tag },
      { ...blob, tag: blob.tag },
    ];
    const report: Array<{
      image: string;
      bytes: number;
      bare: Percentiles;
      helix: Percentiles;
      mirror: Percentiles;
      bareMBps: number;
      helixMBps: number;
      mirrorMBps: number;
    }> = [];
    for (const image of images) {
      const size = (await new DockerRuntime({ docker: engineA }).inspectImage(image.tag))!
        .sizeBytes;
      held.push({
        agent: image.agent,
        hash: image.hash,
        platform,
        sizeBytes: size,
        shareable: true,
      });
      const bare: number[] = [];
      const helix: number[] = [];
      const mirror: number[] = [];
      let tarBytes = 0;
      const clear = () =>
        dockerdB.docker
          .getImage(image.tag)
          .remove({ force: true })
          .catch(() => undefined);
      for (let i = 0; i < runs + 1; i++) {
        await clear();
        let t0 = process.hrtime.bigint();
        await barePipe(DEFAULT_DOCKER_SOCKET, dockerdB.socketPath, image.tag);
        const bareMs = Number(process.hrtime.bigint() - t0) / 1e6;
        await clear();
        t0 = process.hrtime.bigint();
        const got = await fetchImage({
          clients,
          peer: { address: ADDRESS, port: PORT },
          agent: image.agent,
          hash: image.hash,
          platform,
          engine: engineB,
          imagePrefix: PREFIX,
        });
        const helixMs = Number(process.hrtime.bigint() - t0) / 1e6;
        tarBytes = got.sizeBytes;
        await clear();
        t0 = process.hrtime.bigint();
        await mirrorPull(image.agent, image.hash);
        const mirrorMs = Number(process.hrtime.bigint() - t0) / 1e6;
        // the first round warms every path (page cache, connections, A's converted blobs)
        if (i > 0) {
          bare.push(bareMs);
          helix.push(helixMs);
          mirror.push(mirrorMs);
        }
      }
      const b = percentiles(bare);
      const h = percentiles(helix);
      const m = percentiles(mirror);
      const mbps = (ms: number) => tarBytes / 1e6 / (ms / 1000);
      report.push({
        image: image.tag,
        bytes: tarBytes,
        bare: b,
        helix: h,
        mirror: m,
        bareMBps: mbps(b.p50),
        helixMBps: mbps(h.p50),
        mirrorMBps: mbps(m.p50),
      });
      await clear();
    }
    if (values.json) {
      console.log(JSON.stringify({ runs, loadAvg1: os.loadavg()[0], report }, null, 2));
      return;
    }
    console.log(
      `image transfer, ${runs} runs per image, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(1)} (p50; MB/s of the saved tar)`,
    );
    for (const r of report) {
      console.log(
        `  ${r.image.padEnd(44)} ${(r.bytes / 1e6).toFixed(1).padStart(6)} MB   bare save|load ${r.bare.p50.toFixed(0).padStart(5)} ms ${r.bareMBps.toFixed(1).padStart(6)} MB/s   ImageStore.Fetch ${r.helix.p50.toFixed(0).padStart(5)} ms ${r.helixMBps.toFixed(1).padStart(6)} MB/s   x${(r.helix.p50 / r.bare.p50).toFixed(2)} time   mirror pull ${r.mirror.p50.toFixed(0).padStart(5)} ms ${r.mirrorMBps.toFixed(1).padStart(6)} MB/s   x${(r.mirror.p50 / r.bare.p50).toFixed(2)} time`,
      );
    }
  } finally {
    clients.close();
    await server.stop();
    await dockerdB.stop();
    await removeImages(engineA, PREFIX);
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
