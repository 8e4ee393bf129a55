/**
 * Wires this node's OCI registry mirror (node/registry, docs/registry.md) to the agent side: it
 * offers what the agents registry offers (held images that ran successfully), serves peers over
 * ImageBlobs on the node's gRPC server, listens on loopback at registry.port for the engine,
 * and gives the provisioner a MirrorPuller when the engine is Docker. A mirror that cannot
 * listen is logged and left out: images then move by ImageStore.Fetch alone.
 */
import path from 'node:path';
import { DockerRuntime, imageTag, type AgentRuntime, type Registry } from '../agents/index.js';
import type { Config } from '../config/index.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import {
  MirrorHttpServer,
  RegistryMirror,
  dockerEnginePull,
  imageBlobsService,
  pullThroughMirror,
  type Platform,
} from '../registry/index.js';
import { ImageBlobsService, type RpcClients, type RpcServer } from '../rpc/index.js';
import { platformParts } from '../platform.js';
import type { PeerView } from '../types.js';
import type { MirrorPuller } from './types.js';

export interface NodeMirror {
  /** "127.0.0.1:<port>", or null when the mirror is off or could not listen */
  readonly address: string | null;
  /** for the provisioner: null when the engine cannot pull through it */
  readonly puller: MirrorPuller | null;
  readonly mirror: RegistryMirror;
  stop(): Promise<void>;
}

export interface NodeMirrorOptions {
  config: Pick<Config, 'registry'>;
  stateDir: string;
  runtime: AgentRuntime;
  registry: Pick<Registry, 'held'>;
  imagePrefix: string;
  view: () => readonly PeerView[];
  clients: RpcClients;
  rpc: RpcServer;
  log: Logger;
}

/** How often blobs of images no longer offered leave the cache. */
const PRUNE_INTERVAL_MS = 60_000;

export async function startNodeMirror(o: NodeMirrorOptions): Promise<NodeMirror | null> {
  if (!o.config.registry.enabled) return null;
  const mirror = new RegistryMirror({
    dir: path.join(o.stateDir, 'registry'),
    engine: o.runtime,
    // images of an unknown platform (recorded before platforms) are never offered
    images: () => o.registry.held().filter((i) => i.platform !== ''),
    tagOf: (image) => imageTag(image.agent, image.hash, image.platform, o.imagePrefix),
    view: o.view,
    clients: o.clients,
    log: o.log,
  });
  await mirror.open();
  o.rpc.addService(ImageBlobsService, imageBlobsService(mirror, { log: o.log }));
  const http = new MirrorHttpServer(mirror, { port: o.config.registry.port, log: o.log });
  let address: string | null = null;
  try {
    await http.start();
    address = http.address;
  } catch (err) {
    o.log.warn(
      { err: describeError(err) },
      'the registry mirror is not serving the engine; images move between nodes by ImageStore.Fetch',
    );
  }
  const timer = setInterval(() => {
    mirror
      .prune()
      .catch((err: unknown) => o.log.warn({ err: describeError(err) }, 'registry prune failed'));
  }, PRUNE_INTERVAL_MS);
  timer.unref();
  const runtime = o.runtime;
  const engine = runtime instanceof DockerRuntime ? dockerEnginePull(() => runtime.docker) : null;
  // The platform this node runs agents as (the engine's own, or agents.platform): the engine
  // pulls that manifest of the index, and a holder whose index lists it is preferred.
  let platform: Promise<Platform | undefined> | null = null;
  const enginePlatform = () =>
    (platform ??= o.runtime
      .platform(AbortSignal.timeout(5000))
      .then((p): Platform => platformParts(p))
      .catch(() => {
        platform = null;
        return undefined;
      }));
  const puller: MirrorPuller | null =
    address && engine
      ? {
          address,
          pull: async (agent, hash, tag, signal) =>
            pullThroughMirror({
              mirror,
              address: address!,
              engine,
              agent,
              hash,
              tag,
              signal,
              platform: await enginePlatform(),
            }),
        }
      : null;
  return {
    address,
    puller,
    mirror,
    stop: async () => {
      clearInterval(timer);
      await http.stop();
    },
  };
}
