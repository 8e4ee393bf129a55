/**
 * How a node without mesh.json gets one, also when several fresh nodes start at the same moment.
 *
 * With an invite: ask the invite's member only. With no candidates (off a tailnet): create at
 * once. Otherwise a bootstrap phase: serve a stand-in Join on the rpc port (bootstrap-endpoint.ts)
 * and probe every candidate's Join every 300-700 ms; members found that way are then asked in
 * candidate order to admit this node. A member's grant ends the phase (joined); a
 * member's refusal is an error (never a second mesh); peers answering "bootstrapping"/"starting"
 * are helix nodes without a running mesh; silent peers (phones, nodes not started) never block
 * anyone. BootstrapView decides when the lowest address creates. The endpoint keeps the port and
 * answers "starting" until the caller's real RpcServer is about to bind it (release()), so peers
 * wait for the new mesh instead of creating their own.
 */
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, MeshAccessError, UnreachableError } from '../errors.js';
import { createMesh, throwawayCertificate, type MeshMembership } from '../identity/index.js';
import { silentLogger, type Logger } from '../log.js';
import { RpcCallError, RpcClients, targetKey, type ClientTransport } from '../rpc/index.js';
import {
  announcementMetadata,
  announcementOf,
  BootstrapEndpoint,
  probedMemberOf,
} from './bootstrap-endpoint.js';
import {
  BootstrapView,
  type BootstrapAnnouncement,
  type BootstrapDecision,
  type BootstrapTimings,
} from './bootstrap-view.js';
import {
  askMember,
  isRefusal,
  refusal,
  requestJoin,
  type JoinCandidate,
  type JoinResult,
} from './request.js';

export interface BootstrapMeshOptions {
  /** where to look for members, asked again every round (e.g. a fresh `tailscale status`) */
  candidates: () => readonly JoinCandidate[] | Promise<readonly JoinCandidate[]>;
  /** this node's mesh address: the endpoint binds it, and the lowest address creates the mesh */
  selfAddress: string;
  /** this node's rpc port (where the real Mesh service will listen) */
  rpcPort: number;
  nodeId: string;
  name: string;
  /** a code from `helix-node invite`: only its member is asked, no bootstrap phase */
  invite?: string;
  logger?: Logger;
  /** stops the phase (Ctrl-C); the promise rejects with the signal's reason */
  signal?: AbortSignal;
  /** give up after this long with UnreachableError (default: keep trying until the signal) */
  timeoutMs?: number;
  timings?: Partial<BootstrapTimings>;
  /** pause between rounds, drawn uniformly (default 300-700 ms) */
  roundPauseMs?: { min: number; max: number };
  /** the most one Join call may take (default 3 s: a member runs `tailscale whois` first) */
  attemptTimeoutMs?: number;
  /** how often the phase logs who it waits for (default 5 s) */
  progressEveryMs?: number;
  /** for the invite's member (default 15 s) */
  inviteTimeoutMs?: number;
  /** a certificate request for this node's TLS key, sent with every Join */
  csr?: Uint8Array;
  /**
   * TLS for the whole phase (the daemon): Join calls over TLS without a certificate, and the
   * stand-in endpoint serves TLS with a throwaway certificate. Default plaintext (tests).
   */
  tls?: boolean;
}

function transportOf(opts: BootstrapMeshOptions): ClientTransport {
  return opts.tls ? { kind: 'join' } : { kind: 'plaintext' };
}

/** What the phase ended with, and the hand-back of the rpc port. */
export type MeshBootstrap = ({ created: MeshMembership } | { joined: JoinResult }) & {
  /**
   * Stop the stand-in endpoint (idempotent). Call it right before the real RpcServer binds the
   * rpc port, and on every path that stops the node; until then peers are told "starting".
   */
  release(): Promise<void>;
};

const nothingHeld = async (): Promise<void> => undefined;

export async function bootstrapMesh(opts: BootstrapMeshOptions): Promise<MeshBootstrap> {
  const log = (opts.logger ?? silentLogger).child({ component: 'bootstrap' });
  if (opts.invite !== undefined) {
    const joined = await requestJoin({
      invite: opts.invite,
      nodeId: opts.nodeId,
      name: opts.name,
      timeoutMs: opts.inviteTimeoutMs ?? 15_000,
      signal: opts.signal,
      logger: opts.logger,
      csr: opts.csr,
      transport: transportOf(opts),
    });
    // requestJoin throws rather than return null when given an invite.
    if (!joined) throw new UnreachableError('the member named in the invite did not answer');
    return { joined, release: nothingHeld };
  }
  opts.signal?.throwIfAborted();
  const first = dedupe(await opts.candidates(), opts);
  if (first.length === 0) {
    log.info('no peers to ask; creating a new mesh');
    return { created: createMesh(), release: nothingHeld };
  }

  const view = new BootstrapView(
    { nodeId: opts.nodeId, address: opts.selfAddress },
    Date.now(),
    opts.timings,
  );
  // Peers that asked this node: asked back, even before the tailnet view lists them.
  const askers = new Map<string, JoinCandidate>();
  const endpoint = await BootstrapEndpoint.start({
    address: opts.selfAddress,
    port: opts.rpcPort,
    nodeId: opts.nodeId,
    name: opts.name,
    phase: 'bootstrapping',
    logger: opts.logger,
    tls: opts.tls ? await throwawayCertificate() : undefined,
    onAsked: (peer) => {
      if (peer.nodeId === opts.nodeId) return;
      view.observe(peer, Date.now());
      askers.set(peer.nodeId, { address: peer.address, rpcPort: peer.rpcPort });
    },
  });
  log.info(
    { address: opts.selfAddress, port: endpoint.port, peers: first.length },
    'no mesh yet: asking the tailnet peers for one',
  );
  try {
    const outcome = await rounds(opts, view, endpoint, askers, first, log);
    // A mesh exists now: peers asking this node wait for it instead of creating their own.
    endpoint.setPhase('starting');
    return { ...outcome, release: () => endpoint.stop() };
  } catch (err) {
    await endpoint.stop();
    throw err;
  }
}

async function rounds(
  opts: BootstrapMeshOptions,
  view: BootstrapView,
  endpoint: BootstrapEndpoint,
  askers: Map<string, JoinCandidate>,
  first: JoinCandidate[],
  log: Logger,
): Promise<{ created: MeshMembership } | { joined: JoinResult }> {
  const startedAt = Date.now();
  let lastProgress = startedAt;
  let candidates = first;
  const pause = opts.roundPauseMs ?? { min: 300, max: 700 };
  for (;;) {
    opts.signal?.throwIfAborted();
    if (opts.timeoutMs !== undefined && Date.now() - startedAt > opts.timeoutMs) {
      throw new UnreachableError(
        `no mesh member answered within ${Math.round(opts.timeoutMs / 1000)} s (${describeWait(view.decide(Date.now()))}); start helix-node on a member, or join with an invite (\`helix-node invite\` on a member)`,
      );
    }
    const targets = dedupe([...candidates, ...askers.values()], opts);
    const round = await askAll(targets, endpoint.announcement(), opts);
    if (round.joined) {
      log.info(
        { mesh: round.joined.meshId, via: round.joined.via, member: round.joined.member.name },
        'a member answered: joining its mesh',
      );
      return { joined: round.joined };
    }
    if (round.refusals.length > 0)
      throw new MeshAccessError(`no member admitted this node: ${round.refusals.join('; ')}`);
    for (const peer of round.announced) view.observe(peer, Date.now());

    const decision = view.decide(Date.now());
    if (decision.action === 'create') {
      log.info(
        { waitedMs: Date.now() - startedAt, peers: decision.peers.map(peerLabel) },
        decision.peers.length > 0
          ? 'no mesh on the tailnet and this node has the lowest address of the helix nodes: creating the mesh'
          : 'no helix node answered: creating the mesh',
      );
      return { created: createMesh() };
    }
    if (Date.now() - lastProgress >= (opts.progressEveryMs ?? 5000)) {
      lastProgress = Date.now();
      log.info(
        { waitedS: Math.round((lastProgress - startedAt) / 1000), asked: targets.length },
        `still looking for a mesh: ${describeWait(decision)} (Ctrl-C stops)`,
      );
    }
    await sleep(randomInt(pause.min, pause.max + 1), undefined, { signal: opts.signal });
    try {
      candidates = dedupe(await opts.candidates(), opts);
    } catch (err) {
      log.debug({ err: describeError(err) }, 'could not refresh the candidates; keeping the last');
    }
  }
}

interface Round {
  /** the grant of the earliest candidate in the list that admitted this node */
  joined: JoinResult | null;
  refusals: string[];
  announced: BootstrapAnnouncement[];
}

/**
 * Ask every target at once whether it is a member, a bootstrapping node or nothing (a probing
 * Join: members answer without admitting), then ask the members in candidate order, one at a
 * time, to admit this node: one member admits it, not all of them. Fresh channels every round
 * (a cached channel to a peer that was not up yet would sit in reconnect backoff).
 */
async function askAll(
  targets: JoinCandidate[],
  self: BootstrapAnnouncement,
  opts: BootstrapMeshOptions,
): Promise<Round> {
  const clients = new RpcClients({ nodeId: opts.nodeId, transport: transportOf(opts) });
  const timeoutMs = opts.attemptTimeoutMs ?? 3000;
  const round: Round = { joined: null, refusals: [], announced: [] };
  const refused = (target: string, err: unknown) => {
    if (!(err instanceof RpcCallError) || isRefusal(err.code))
      round.refusals.push(refusal(target, err).message);
    // Anything else: nothing that speaks helix there (yet), or a member that just went away.
  };
  // A member too old to know the probe admits (or refuses) at once: its grant counts in place.
  const grants: Array<JoinResult | undefined> = [];
  const members: Array<string | undefined> = [];
  try {
    await Promise.all(
      targets.map(async (c, i) => {
        const target = targetKey({ address: c.address, port: c.rpcPort });
        try {
          grants[i] = await askMember(
            clients,
            target,
            opts,
            null,
            timeoutMs,
            announcementMetadata(self, { probe: true }),
          );
        } catch (err) {
          const peer = announcementOf(err);
          if (peer) round.announced.push(peer);
          else if (probedMemberOf(err) !== null) members[i] = target;
          else refused(target, err);
        }
      }),
    );
    for (let i = 0; i < targets.length && !round.joined; i++) {
      round.joined = grants[i] ?? null;
      const member = members[i];
      if (round.joined || !member) continue;
      try {
        round.joined = await askMember(clients, member, opts, null, timeoutMs);
      } catch (err) {
        refused(member, err);
      }
    }
  } finally {
    clients.close();
  }
  return round;
}

/** Each target once, never this node itself. */
function dedupe(list: readonly JoinCandidate[], opts: BootstrapMeshOptions): JoinCandidate[] {
  const self = targetKey({ address: opts.selfAddress, port: opts.rpcPort });
  const seen = new Set<string>([self]);
  return list.filter((c) => {
    const key = targetKey({ address: c.address, port: c.rpcPort });
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function peerLabel(p: BootstrapAnnouncement): string {
  return `${p.address}:${p.rpcPort} (${p.phase})`;
}

function describeWait(d: BootstrapDecision): string {
  if (d.action === 'create') return 'about to create the mesh';
  switch (d.reason) {
    case 'mesh-starting':
      return `waiting for ${d.waitingFor ? peerLabel(d.waitingFor) : 'a peer'}, which has a mesh and is starting`;
    case 'lower-peer':
      return `waiting for ${d.waitingFor ? peerLabel(d.waitingFor) : 'a peer'} (lowest address) to create the mesh`;
    default:
      return d.peers.length > 0
        ? `helix nodes without a mesh: ${d.peers.map(peerLabel).join(', ')}`
        : 'no helix node answered yet';
  }
}
