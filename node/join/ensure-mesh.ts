/**
 * The mesh this node belongs to, decided once at start: the membership on disk, else join through
 * an invite or a tailnet peer, else create a new mesh (the lowest address of the bootstrap phase).
 */
import path from 'node:path';
import { MeshAccessError } from '../errors.js';
import {
  createNodeCsr,
  installNodeCertificate,
  readMesh,
  writeMesh,
  type MeshMembership,
} from '../identity/index.js';
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { PeerCandidate } from '../types.js';
import { bootstrapMesh } from './bootstrap.js';

export interface EnsureMeshOptions {
  stateDir: string;
  /** a code from `helix-node invite` */
  invite?: string;
  /** where members are looked for, asked again every round (a fresh `tailscale status`) */
  discovery: { refresh(): Promise<unknown>; candidates(): PeerCandidate[] };
  /** off a tailnet nobody is asked: an invite, or create at once */
  onTailnet: boolean;
  /** discovery polled just now (the daemon starts it right before): the first round uses that */
  discoveryFresh?: boolean;
  selfAddress: string;
  rpcPort: number;
  nodeId: string;
  name: string;
  logger?: Logger;
  signal?: AbortSignal;
  /**
   * Mesh TLS (the daemon): join over TLS with a CSR for this node's TLS key and keep the
   * certificate the member issues. Default plaintext without a CSR (tests of the join alone).
   */
  tls?: boolean;
}

export interface EnsuredMesh {
  mesh: MeshMembership;
  /** the members the joined mesh named: route candidates before any advert is heard */
  members: PeerCandidate[];
  /**
   * Hands the rpc port back: the stand-in Join holds it (answering "starting") until the real
   * server binds it. Idempotent; call it before RpcServer.start and on every stop path.
   */
  release(): Promise<void>;
}

export async function ensureMesh(opts: EnsureMeshOptions): Promise<EnsuredMesh> {
  const log = opts.logger ?? silentLogger;
  const existing = readMesh(opts.stateDir);
  const nothingHeld = async () => undefined;
  if (existing && !opts.invite) return { mesh: existing, members: [], release: nothingHeld };
  if (existing && opts.invite) {
    throw new MeshAccessError(
      `this node already belongs to ${existing.meshId}; to move it, remove ${path.join(opts.stateDir, 'mesh.json')} first`,
    );
  }
  const csr = opts.tls
    ? await createNodeCsr(opts.stateDir, { nodeId: opts.nodeId, addresses: [opts.selfAddress] })
    : undefined;
  // The daemon's discovery has just polled the tailnet when this runs: the first round asks the
  // peers of that poll (one `tailscale status` less on the way to the mesh), later rounds poll anew.
  let polled = opts.discoveryFresh ?? false;
  const boot = await bootstrapMesh({
    tls: opts.tls,
    csr,
    invite: opts.invite,
    candidates: async () => {
      if (!opts.onTailnet) return [];
      if (!polled) await opts.discovery.refresh();
      polled = false;
      return opts.discovery.candidates().map((c) => ({
        address: c.address,
        rpcPort: c.rpcPort ?? opts.rpcPort,
      }));
    },
    selfAddress: opts.selfAddress,
    rpcPort: opts.rpcPort,
    nodeId: opts.nodeId,
    name: opts.name,
    logger: log,
    signal: opts.signal,
  });
  if ('created' in boot) {
    writeMesh(opts.stateDir, boot.created);
    log.info({ mesh: boot.created.meshId }, 'created a new mesh');
    return { mesh: boot.created, members: [], release: boot.release };
  }
  const result = boot.joined;
  const mesh: MeshMembership = {
    meshId: result.meshId,
    secret: result.secret,
    joinedAt: new Date().toISOString(),
    via: result.via,
  };
  writeMesh(opts.stateDir, mesh);
  log.info({ mesh: mesh.meshId, via: result.via }, 'joined mesh');
  if (result.certificate.length > 0) {
    try {
      await installNodeCertificate(opts.stateDir, mesh.secret, result.certificate, opts.nodeId);
      log.info({ via: result.via }, 'stored the mesh certificate the member issued');
    } catch (err) {
      // The node holds the mesh CA (derived from the secret): it issues its own at start.
      log.warn(
        { via: result.via, err: describeError(err) },
        'the member issued an unusable certificate',
      );
    }
  }
  const members = result.members.map((m) => ({
    address: m.address,
    source: 'invite' as const,
    dial: 'always' as const,
    name: m.name,
    clusterPort: m.clusterPort,
    rpcPort: m.rpcPort,
  }));
  return { mesh, members, release: boot.release };
}
