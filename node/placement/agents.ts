/**
 * Where an agent runs (pure; DESIGN.md §4). A warm agent goes to an alive Docker peer with an idle
 * warm container; otherwise a cold run goes to the least-loaded alive Docker peer with enough free
 * memory, preferring one that already holds the image. Only a peer that can get the image for its
 * own platform is picked: it holds it, a peer offers it, or a node with Go and Docker can build it
 * (Go cross-compiles for every buildable platform). `--on NODE` overrides the choice but not the
 * hard limits (alive, Docker, platform, memory), and each refusal says why and what to do.
 */
import { BUILDABLE_PLATFORMS, type Platform } from '../platform.js';
import type { PeerView } from '../types.js';

export interface AgentPlacementRequest {
  agent: string;
  tier: 'warm' | 'cold';
  /** the image's content hash the caller wants; peers holding it are preferred */
  imageHash?: string;
  /** the manifest's memory limit; a peer with less free memory is never chosen */
  memoryMb: number;
  /** `--on NODE`: a node name or id */
  onNode?: string;
  /** node ids or names not to use (a host tried earlier in this run: lost, or could not start it) */
  exclude?: readonly string[];
}

export type AgentPlacement = { node: PeerView; warm: boolean; reason: string } | { error: string };

/**
 * Load average per core is rounded to this step before comparing, so two peers whose load differs
 * by noise count as tied and the lower RTT wins (a 1-minute load average wobbles by ~0.1).
 */
export const LOAD_STEP = 0.25;

/**
 * What lacking the image costs, in load units (one running agent = 1). Fetching a ~2 MB agent
 * image from a peer takes well under a second, so a holder wins ties and near-ties but not a peer
 * that is clearly busier.
 */
export const IMAGE_MISSING_COST = 1;

/** How many hex digits of a content hash name an image (the tag length, agents/recipe.ts). */
export const IMAGE_HASH_DIGITS = 16;

/** True when two content hashes name the same image (full hashes or tag-length prefixes). */
export function sameImageHash(a: string, b: string): boolean {
  return a.length > 0 && a.slice(0, IMAGE_HASH_DIGITS) === b.slice(0, IMAGE_HASH_DIGITS);
}

/**
 * The other alive peers that offer this image (same agent, same content hash, same platform) to
 * the mesh.
 */
export function peersSharingImage(
  view: readonly PeerView[],
  agent: string,
  hash: string,
  platform: Platform,
): PeerView[] {
  return view.filter(
    (p) =>
      !p.self &&
      p.state === 'alive' &&
      p.images.some(
        (i) =>
          i.agent === agent &&
          i.shareable &&
          i.platform === platform &&
          sameImageHash(i.hash, hash),
      ),
  );
}

/** Alive nodes that can build agent images for any buildable platform: Go and a Docker engine. */
export function imageBuilders(view: readonly PeerView[]): PeerView[] {
  return view.filter((p) => p.state === 'alive' && p.capabilities.go && p.capabilities.docker);
}

/** The platform a Docker node runs agents as; "" when it does not say (an older node). */
export function platformOf(peer: PeerView): Platform {
  return peer.capabilities.docker?.platform ?? '';
}

/** What the mesh can build for, said for messages: the platforms, or why none. */
export function buildablePlatformsText(view: readonly PeerView[]): string {
  const builders = imageBuilders(view).map((p) => p.name);
  if (builders.length === 0)
    return 'the mesh can build for no platform: no alive node has both Go and Docker';
  return `the mesh can build ${BUILDABLE_PLATFORMS.join(', ')} (Go and Docker on ${builders.sort().join(', ')})`;
}

/**
 * How `peer` would get the agent's image for its platform, or null when it cannot: it holds it,
 * a peer offers it, it builds it, or a node with Go builds it for it.
 */
export function imageSource(
  view: readonly PeerView[],
  peer: PeerView,
  req: Pick<AgentPlacementRequest, 'agent' | 'imageHash'>,
): { holds: boolean; how: string } | null {
  const platform = platformOf(peer);
  if (platform === '') return null;
  if (holdsImage(peer, req)) return { holds: true, how: `holds the ${platform} image` };
  if (req.imageHash) {
    const from = peersSharingImage(view, req.agent, req.imageHash, platform).filter(
      (p) => p.id !== peer.id,
    );
    if (from.length > 0)
      return {
        holds: false,
        how: `will fetch the ${platform} image from ${from
          .map((p) => p.name)
          .sort()
          .join(' or ')}`,
      };
  }
  if (!(BUILDABLE_PLATFORMS as readonly string[]).includes(platform)) return null;
  if (peer.capabilities.go) return { holds: false, how: `will build the ${platform} image there` };
  const builders = imageBuilders(view).filter((p) => p.id !== peer.id);
  if (builders.length === 0) return null;
  return {
    holds: false,
    how: `will have the ${platform} image built on ${builders
      .map((p) => p.name)
      .sort()
      .join(' or ')}`,
  };
}

/** Why `peer` cannot get the image for its platform (imageSource returned null), in brief. */
function noImagePart(peer: PeerView, agent: string): string {
  const platform = platformOf(peer);
  if (platform === '')
    return `${peer.name} does not say which platform it runs (an older helix-node; update it)`;
  if (!(BUILDABLE_PLATFORMS as readonly string[]).includes(platform))
    return `${peer.name} runs ${platform}, which agents cannot be built for, and no node offers a ${platform} image of ${agent}`;
  return `${peer.name} runs ${platform} and no node offers a ${platform} image of ${agent}`;
}

/** Why none of `peers` can get the image, with what the mesh can build and the fix. */
function noImageWhy(view: readonly PeerView[], peers: readonly PeerView[], agent: string): string {
  const fix = imageBuilders(view).length === 0 ? '; install golang-go on a Docker node' : '';
  return `${peers.map((p) => noImagePart(p, agent)).join('; ')}; ${buildablePlatformsText(view)}${fix}`;
}

/** The peer that should run the agent, whether a warm container takes it, and why; or why none can. */
export function pickAgentHost(
  view: readonly PeerView[],
  req: AgentPlacementRequest,
): AgentPlacement {
  const exclude = new Set(req.exclude ?? []);
  const excluded = (p: PeerView) => exclude.has(p.id) || exclude.has(p.name);

  if (req.onNode !== undefined) return placeOn(view, req, excluded);

  const docker = view.filter(
    (p) => p.state === 'alive' && p.capabilities.docker !== null && !excluded(p),
  );
  if (docker.length === 0) return { error: noDockerPeer(view, req, excluded) };
  // Only a node that can get the image for its own platform; an image of another never runs.
  const sources = new Map(docker.map((p) => [p.id, imageSource(view, p, req)] as const));
  const usable = docker.filter((p) => sources.get(p.id) !== null);
  if (usable.length === 0) {
    return {
      error: `no Docker node can get an image of ${req.agent} for its platform: ${noImageWhy(view, docker, req.agent)}`,
    };
  }

  if (req.tier === 'warm') {
    const warm = usable.filter((p) => idleWarm(p, req) > 0);
    const best = minBy(
      warm,
      (p) => [load(p), rtt(p)],
      (p) => p.id,
    );
    if (best) {
      return {
        node: best,
        warm: true,
        reason: `${idleWarm(best, req)} idle warm ${req.agent} container(s) on ${best.name} (${describeLoad(best)})`,
      };
    }
  }

  const roomy = usable.filter((p) => p.load.memFreeMiB >= req.memoryMb);
  if (roomy.length === 0) {
    const free = usable
      .map((p) => `${p.name}: ${Math.floor(p.load.memFreeMiB)} MiB free`)
      .join(', ');
    return {
      error: `no Docker node has the ${req.memoryMb} MiB of free memory ${req.agent} needs (${free}); stop other work there or lower memory_mb in agents/${req.agent}/agent.toml`,
    };
  }
  const best = minBy(
    roomy,
    (p) => [load(p) + (holdsImage(p, req) ? 0 : IMAGE_MISSING_COST), rtt(p)],
    (p) => p.id,
  )!;
  const why =
    req.tier === 'warm' ? `no idle warm ${req.agent} container in the mesh; cold run` : 'cold run';
  const image = sources.get(best.id)!.how;
  return {
    node: best,
    warm: false,
    reason: `${why} on ${best.name} (${platformOf(best)}), the least-loaded Docker node (${describeLoad(best)}; ${image})`,
  };
}

function placeOn(
  view: readonly PeerView[],
  req: AgentPlacementRequest,
  excluded: (p: PeerView) => boolean,
): AgentPlacement {
  const target = req.onNode!;
  const node = view.find((p) => p.id === target) ?? view.find((p) => p.name === target);
  if (!node) {
    const known =
      view
        .map((p) => p.name)
        .sort()
        .join(', ') || 'none';
    return {
      error: `--on ${target}: no node of that name or id in the mesh (known: ${known}); check \`helix-node status\``,
    };
  }
  if (node.state !== 'alive') {
    return {
      error: `--on ${target}: ${node.name} is ${node.state}; start helix-node there or choose another node`,
    };
  }
  if (excluded(node)) {
    return {
      error: `--on ${target}: ${node.name} was lost during this run and is not tried again; choose another node`,
    };
  }
  if (node.capabilities.docker === null) {
    return {
      error: `--on ${target}: ${node.name} has no Docker engine, so it cannot run agents; install docker.io there or choose a Docker node`,
    };
  }
  if (req.tier === 'warm' && idleWarm(node, req) > 0) {
    return {
      node,
      warm: true,
      reason: `--on ${node.name}: idle warm ${req.agent} container there`,
    };
  }
  if (node.load.memFreeMiB < req.memoryMb) {
    return {
      error: `--on ${target}: ${node.name} has ${Math.floor(node.load.memFreeMiB)} MiB of free memory and ${req.agent} needs ${req.memoryMb} MiB; free memory there or choose another node`,
    };
  }
  const source = imageSource(view, node, req);
  if (!source) return { error: `--on ${target}: ${noImageWhy(view, [node], req.agent)}` };
  return {
    node,
    warm: false,
    reason: `--on ${node.name}: cold run there (${platformOf(node)}; ${describeLoad(node)}; ${source.how})`,
  };
}

function noDockerPeer(
  view: readonly PeerView[],
  req: AgentPlacementRequest,
  excluded: (p: PeerView) => boolean,
): string {
  const docker = view.filter((p) => p.capabilities.docker !== null);
  if (docker.length === 0) {
    return `no node in the mesh runs Docker, so ${req.agent} cannot run; install docker.io on one node (\`apt-get install docker.io\`) and restart helix-node there`;
  }
  // Excluded: tried already in this run (lost, or it could not start the agent; the caller says which).
  const tried = docker.filter(excluded).map((p) => p.name);
  const down = docker.filter((p) => !excluded(p)).map((p) => `${p.name} is ${p.state}`);
  const parts = [
    ...(tried.length ? [`${tried.join(', ')} already tried in this run`] : []),
    ...down,
  ];
  return `no Docker node is available to run ${req.agent} (${parts.join('; ')}); start helix-node on a Docker node`;
}

/** Idle warm containers of the agent on the peer (of the requested image, when one is named). */
function idleWarm(peer: PeerView, req: AgentPlacementRequest): number {
  let idle = 0;
  for (const e of peer.warmPool) {
    if (e.agent !== req.agent) continue;
    if (req.imageHash && !e.image.includes(req.imageHash.slice(0, IMAGE_HASH_DIGITS))) continue;
    idle += e.idle;
  }
  return idle;
}

/** The peer holds the agent's image (of the requested hash, when one is named) for its platform. */
function holdsImage(
  peer: PeerView,
  req: Pick<AgentPlacementRequest, 'agent' | 'imageHash'>,
): boolean {
  const platform = platformOf(peer);
  // A warm container of the agent runs its image there (the pool's images are the node's own).
  const warm = peer.warmPool.some(
    (e) =>
      e.agent === req.agent &&
      (!req.imageHash || e.image.includes(req.imageHash.slice(0, IMAGE_HASH_DIGITS))),
  );
  return (
    warm ||
    peer.images.some(
      (i) =>
        i.agent === req.agent &&
        i.platform === platform &&
        (!req.imageHash || sameImageHash(i.hash, req.imageHash)),
    )
  );
}

/** Running agents plus load average per core (rounded to LOAD_STEP): both count busy work. */
function load(peer: PeerView): number {
  return peer.load.runningAgents + Math.round(peer.load.loadPerCore / LOAD_STEP) * LOAD_STEP;
}

/** This node reaches itself without the network; an unmeasured peer sorts last. */
function rtt(peer: PeerView): number {
  return peer.self ? 0 : (peer.rttMs ?? Number.POSITIVE_INFINITY);
}

function describeLoad(p: PeerView): string {
  return `${p.load.runningAgents} running, load ${p.load.loadPerCore.toFixed(2)}/core, ${Math.floor(p.load.memFreeMiB)} MiB free`;
}

/** The element with the smallest key (compared in order), ties broken by `id`; undefined when empty. */
export function minBy<T>(
  items: readonly T[],
  key: (t: T) => number[],
  id: (t: T) => string,
): T | undefined {
  let best: { item: T; k: number[]; id: string } | undefined;
  for (const item of items) {
    const k = key(item);
    const i = id(item);
    if (!best || compare(k, i, best.k, best.id) < 0) best = { item, k, id: i };
  }
  return best?.item;
}

function compare(a: number[], aId: string, b: number[], bId: string): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return aId < bId ? -1 : aId > bId ? 1 : 0;
}
