/**
 * The stand-in Mesh service a node serves on its rpc port before its real one exists: Join answers
 * UNAVAILABLE with the node's announcement (id, address, port, phase) in the trailers, so a peer
 * asking can tell "a helix node without a running mesh yet" from "nothing there". The RpcServer
 * carries a random secret: Join is the only method callable without proof, so nothing else is
 * reachable. Askers put their own announcement in the request metadata, so a node also learns
 * about peers its tailnet view does not list yet.
 *
 * Askers also mark their Join as a probe: a member (JoinService) then answers FAILED_PRECONDITION
 * with `phase: member` instead of admitting, so a node asking every peer at once is admitted by
 * one member (asked next, in candidate order), not by all of them.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import {
  GrpcStatus,
  Metadata,
  MeshService,
  RpcServer,
  isServiceError,
  type MeshServer,
} from '../rpc/index.js';
import { silentLogger, type Logger } from '../log.js';
import type { BootstrapAnnouncement, BootstrapPhase } from './bootstrap-view.js';
import { lazySchema } from '../types.js';

export const BOOTSTRAP_HEADERS = {
  /** on a Join: "1" asks who answers without being admitted */
  probe: 'helix-join-probe',
  phase: 'helix-bootstrap-phase',
  node: 'helix-bootstrap-node',
  address: 'helix-bootstrap-address',
  port: 'helix-bootstrap-port',
} as const;

const AnnouncementSchema = lazySchema(() =>
  z.object({
    phase: z.enum(['bootstrapping', 'starting']),
    nodeId: z.string().min(1).max(128),
    address: z.string().refine((a) => isIP(a) !== 0, 'an IP address'),
    rpcPort: z.coerce.number().int().min(1).max(65535),
  }),
);

/**
 * An announcement as gRPC metadata (request headers of an asker, trailers of an endpoint);
 * `probe` marks an asker's Join as a probe.
 */
export function announcementMetadata(
  a: BootstrapAnnouncement,
  { probe = false, into = new Metadata() }: { probe?: boolean; into?: Metadata } = {},
): Metadata {
  if (probe) into.set(BOOTSTRAP_HEADERS.probe, '1');
  into.set(BOOTSTRAP_HEADERS.phase, a.phase);
  into.set(BOOTSTRAP_HEADERS.node, a.nodeId);
  into.set(BOOTSTRAP_HEADERS.address, a.address);
  into.set(BOOTSTRAP_HEADERS.port, String(a.rpcPort));
  return into;
}

/** The announcement in `metadata`, or null when it has none or a malformed one. */
export function readAnnouncement(metadata: Metadata): BootstrapAnnouncement | null {
  const get = (name: string) => {
    const v = metadata.get(name)[0];
    return typeof v === 'string' ? v : undefined;
  };
  const parsed = AnnouncementSchema.safeParse({
    phase: get(BOOTSTRAP_HEADERS.phase),
    nodeId: get(BOOTSTRAP_HEADERS.node),
    address: get(BOOTSTRAP_HEADERS.address),
    rpcPort: get(BOOTSTRAP_HEADERS.port),
  });
  return parsed.success ? parsed.data : null;
}

/** The announcement a failed Join carries (a bootstrap endpoint's answer), else null. */
export function announcementOf(err: unknown): BootstrapAnnouncement | null {
  const cause = serviceError(err);
  if (!cause || cause.code !== GrpcStatus.UNAVAILABLE) return null;
  return readAnnouncement(cause.metadata);
}

/** Whether a Join asks only who answers (see memberProbeAnswer). */
export function isJoinProbe(metadata: Metadata): boolean {
  return metadata.get(BOOTSTRAP_HEADERS.probe)[0] === '1';
}

/** What a member answers a probing Join: "a mesh is here; ask again without the probe". */
export function memberProbeAnswer(self: { id: string; name: string }): {
  code: GrpcStatus;
  details: string;
  metadata: Metadata;
} {
  const metadata = new Metadata();
  metadata.set(BOOTSTRAP_HEADERS.phase, 'member');
  metadata.set(BOOTSTRAP_HEADERS.node, self.id);
  return {
    code: GrpcStatus.FAILED_PRECONDITION,
    details: `helix member ${self.name}: ask again without ${BOOTSTRAP_HEADERS.probe} to be admitted`,
    metadata,
  };
}

/** The member's node id when a failed Join is a member's answer to a probe, else null. */
export function probedMemberOf(err: unknown): string | null {
  const cause = serviceError(err);
  if (!cause || cause.code !== GrpcStatus.FAILED_PRECONDITION) return null;
  if (cause.metadata.get(BOOTSTRAP_HEADERS.phase)[0] !== 'member') return null;
  const id = cause.metadata.get(BOOTSTRAP_HEADERS.node)[0];
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : null;
}

function serviceError(err: unknown) {
  const cause = err instanceof Error && isServiceError(err.cause) ? err.cause : err;
  return isServiceError(cause) ? cause : null;
}

export interface BootstrapEndpointOptions {
  /** this node's mesh address (loopback is bound too, as by the real RpcServer) */
  address: string;
  port: number;
  nodeId: string;
  name: string;
  phase: BootstrapPhase;
  /** told about every helix node that asks this endpoint (with its own announcement) */
  onAsked?: (peer: BootstrapAnnouncement) => void;
  logger?: Logger;
  /** serve TLS with this (throwaway) certificate: nodes with a mesh dial TLS only */
  tls?: { cert: Buffer; key: Buffer };
}

export class BootstrapEndpoint {
  private phase: BootstrapPhase;
  private stopped: Promise<void> | null = null;

  private constructor(
    private readonly opts: BootstrapEndpointOptions,
    private readonly server: RpcServer,
  ) {
    this.phase = opts.phase;
  }

  /** Bind the rpc port and answer Join with this node's announcement. */
  static async start(opts: BootstrapEndpointOptions): Promise<BootstrapEndpoint> {
    const log = (opts.logger ?? silentLogger).child({ component: 'bootstrap' });
    const server = new RpcServer({
      addresses: [opts.address],
      port: opts.port,
      // Nobody can prove this secret, so only the open method (Join) answers.
      secret: randomBytes(32),
      tls: opts.tls,
      selfId: opts.nodeId,
      // Members' route gates ping every peer with their proof; refusing them here is expected.
      logger: log.levelVal >= 50 ? log : log.child({}, { level: 'error' }),
      shutdownTimeoutMs: 1000,
    });
    const endpoint = new BootstrapEndpoint(opts, server);
    const unavailable = () => ({
      code: GrpcStatus.UNAVAILABLE,
      details:
        endpoint.phase === 'bootstrapping'
          ? `bootstrapping: no mesh yet (helix node ${opts.name})`
          : `starting: helix node ${opts.name} has a mesh and serves Join in a moment`,
      metadata: announcementMetadata(endpoint.announcement()),
    });
    const implementation: MeshServer = {
      join: (call, callback) => {
        const asker = readAnnouncement(call.metadata);
        if (asker) opts.onAsked?.(asker);
        callback(unavailable());
      },
      ping: (_call, callback) => callback(unavailable()),
    };
    server.addService(MeshService, implementation);
    await server.start();
    return endpoint;
  }

  announcement(): BootstrapAnnouncement {
    return {
      nodeId: this.opts.nodeId,
      address: this.opts.address,
      rpcPort: this.server.port || this.opts.port,
      phase: this.phase,
    };
  }

  /** The port bound (useful with port 0). */
  get port(): number {
    return this.server.port;
  }

  setPhase(phase: BootstrapPhase): void {
    this.phase = phase;
  }

  /** Free the port (idempotent). */
  stop(): Promise<void> {
    this.stopped ??= this.server.stop();
    return this.stopped;
  }
}
