/**
 * Member side of the join protocol: the Mesh service (Join + Ping) registered on the RpcServer.
 *
 * Join (callable without the mesh secret) admits a node that either proves a one-time invite
 * issued by this member, or — with no invite — is identified by `tailscale whois` on the call's
 * source address as owned by the same user as this member or carrying an allowed tag. Admitted
 * nodes get the mesh id, secret and member list sealed to their ephemeral key (crypto.ts).
 */
import { memberProof } from './member.js';
import { isIP } from 'node:net';
import {
  GrpcStatus,
  JoinGrant,
  MeshService,
  type JoinRequest,
  type JoinResponse,
  type MeshServer,
  type PingResponse,
  type RpcServer,
} from '../rpc/index.js';
import { describeError, HelixError, MeshAccessError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { ephemeralX25519, grantKey, KEY_BYTES, NONCE_BYTES, seal, sharedSecret } from './crypto.js';
import { consumeInvite } from './invites.js';
import { isJoinProbe, memberProbeAnswer } from './bootstrap-endpoint.js';
import { issueNodeCertificate } from '../identity/index.js';

/** A mesh member as handed to a joiner. */
export interface JoinMember {
  id: string;
  name: string;
  address: string;
  rpcPort: number;
  clusterPort: number;
}

/** Who owns a tailnet address: `tailscale whois` reduced to what the join check needs. */
export interface TailnetIdentity {
  whois(ip: string, signal?: AbortSignal): Promise<{ userId: number; tags: string[] }>;
  /** this member's own tailnet user id; null when not on a tailnet */
  selfUserId(signal?: AbortSignal): Promise<number | null>;
}

export interface JoinServiceOptions {
  /** this member, answered by Ping */
  self: { id: string; name: string };
  /** this member's mesh address: Ping signs challenges with it (see member.ts) */
  selfAddress?: string;
  stateDir: string;
  meshId: string;
  secret: Uint8Array;
  /** join.allowed_tags: peers of another owner are admitted only with one of these */
  allowedTags: readonly string[];
  /** absent or null: not on a tailnet, so only invites admit */
  tailnet?: TailnetIdentity | null;
  /** the members to hand a joiner (alive nodes of the view, this one included) */
  members: () => JoinMember[] | Promise<JoinMember[]>;
  logger?: Logger;
  now?: () => number;
  whoisTimeoutMs?: number;
  /** told about every admitted node */
  onAdmitted?: (joiner: AdmittedNode) => void;
  /**
   * The node ids removed from the mesh, with who removed them (node/removal): their joins are
   * refused, whatever invite or tailnet tag they bring.
   */
  removedBy?: (nodeId: string) => string | null;
}

export interface AdmittedNode {
  nodeId: string;
  name: string;
  ip: string;
  via: 'invite' | 'tailnet';
  detail: string;
}

/** A refusal with the gRPC status it maps to. */
export class JoinRefusedError extends MeshAccessError {
  constructor(
    readonly grpcCode: GrpcStatus,
    message: string,
  ) {
    super(message);
  }
}

export class JoinService {
  readonly definition = MeshService;
  readonly implementation: MeshServer;
  private readonly log: Logger;
  private readonly now: () => number;
  private secret: Uint8Array;

  constructor(private readonly opts: JoinServiceOptions) {
    this.secret = opts.secret;
    this.log = (opts.logger ?? silentLogger).child({ component: 'join' });
    this.now = opts.now ?? Date.now;
    this.implementation = {
      join: (call, callback) => {
        // A node looking for a mesh asks every peer at once; one member, asked next, admits it.
        if (isJoinProbe(call.metadata)) {
          callback(memberProbeAnswer(this.opts.self));
          return;
        }
        this.admit(call.request, peerIp(call.getPeer())).then(
          (response) => callback(null, response),
          (err: unknown) => {
            const code = err instanceof JoinRefusedError ? err.grpcCode : GrpcStatus.INTERNAL;
            const details =
              err instanceof HelixError
                ? err.message
                : `join failed on the member: ${describeError(err)}`;
            this.log.warn(
              {
                node: call.request.nodeId,
                name: call.request.name,
                peer: call.getPeer(),
                reason: details,
              },
              'join refused',
            );
            callback({ code, details });
          },
        );
      },
      ping: (call, callback) => {
        const response: PingResponse = {
          nodeId: this.opts.self.id,
          name: this.opts.self.name,
          meshId: this.opts.meshId,
          sentAtMs: call.request.sentAtMs,
          receivedAtMs: this.now(),
          memberProof:
            call.request.challenge.length > 0 && this.opts.selfAddress
              ? memberProof(this.secret, call.request.challenge, this.opts.selfAddress)
              : Buffer.alloc(0),
        };
        callback(null, response);
      },
    };
  }

  /** After a key rotation (node/removal): Ping proofs, certificates and grants use this secret. */
  setSecret(secret: Uint8Array): void {
    this.secret = secret;
  }

  register(server: RpcServer): void {
    server.addService(this.definition, this.implementation);
  }

  /** Verify a join request from `ip` and build the sealed reply (JoinRefusedError when refused). */
  async admit(request: JoinRequest, ip: string): Promise<JoinResponse> {
    validate(request);
    const removed = this.opts.removedBy?.(request.nodeId) ?? null;
    if (removed !== null)
      throw new JoinRefusedError(
        GrpcStatus.PERMISSION_DENIED,
        `node ${request.nodeId} was removed from this mesh (${removed}); a removed node's key is not admitted again. To bring the device back, stop helix-node on it, move its state dir away (a new node key), then join with a fresh code from \`helix-node invite\` on a member`,
      );
    // Key agreement first: a bad key must not burn an invite.
    const own = ephemeralX25519();
    let shared: Buffer;
    try {
      shared = sharedSecret(own.privateKey, request.publicKey);
    } catch (err) {
      throw new JoinRefusedError(
        GrpcStatus.INVALID_ARGUMENT,
        `malformed join request: ${describeError(err)}; update helix-node on the joining device`,
      );
    }
    // The certificate before the invite, too: a bad CSR must not burn an invite. It reaches the
    // joiner only inside the sealed grant, after the admission check below.
    let certificate: Buffer = Buffer.alloc(0);
    if (request.csr.length > 0) {
      try {
        certificate = await issueNodeCertificate(this.secret, request.csr, request.nodeId);
      } catch (err) {
        throw new JoinRefusedError(GrpcStatus.INVALID_ARGUMENT, describeError(err));
      }
    }
    let inviteKey: Buffer = Buffer.alloc(0);
    let admitted: AdmittedNode;
    if (request.inviteProof.length > 0) {
      try {
        const invite = await consumeInvite(
          this.opts.stateDir,
          {
            proof: request.inviteProof,
            nonce: request.nonce,
            publicKey: request.publicKey,
            nodeId: request.nodeId,
          },
          this.now(),
        );
        inviteKey = invite.verifier;
        admitted = {
          nodeId: request.nodeId,
          name: request.name,
          ip,
          via: 'invite',
          detail: `invite ${invite.id}`,
        };
      } catch (err) {
        if (err instanceof MeshAccessError)
          throw new JoinRefusedError(GrpcStatus.PERMISSION_DENIED, err.message);
        throw err;
      }
    } else {
      admitted = {
        nodeId: request.nodeId,
        name: request.name,
        ip,
        via: 'tailnet',
        detail: await this.checkTailnet(ip),
      };
    }

    const key = grantKey({
      shared,
      inviteKey,
      joinerNonce: request.nonce,
      joinerPublic: request.publicKey,
      memberPublic: own.publicKey,
    });
    const members = await this.opts.members();
    const grant = JoinGrant.encode({
      meshId: this.opts.meshId,
      secret: Buffer.from(this.secret),
      members: members.map((m) => ({
        id: m.id,
        name: m.name,
        address: m.address,
        rpcPort: m.rpcPort,
        clusterPort: m.clusterPort,
      })),
      certificate,
    }).finish();
    const { iv, sealed } = seal(key, grant, request.nodeId);
    this.log.info(
      {
        node: admitted.nodeId,
        name: admitted.name,
        ip,
        via: admitted.via,
        detail: admitted.detail,
      },
      'admitted node to the mesh',
    );
    this.opts.onAdmitted?.(admitted);
    return {
      memberNodeId: this.opts.self.id,
      memberName: this.opts.self.name,
      publicKey: own.publicKey,
      iv,
      sealedGrant: sealed,
    };
  }

  /** Same owner as this member, or an allowed tag; returns why the caller was admitted. */
  private async checkTailnet(ip: string): Promise<string> {
    const tailnet = this.opts.tailnet;
    const denied = (why: string) => new JoinRefusedError(GrpcStatus.PERMISSION_DENIED, why);
    if (!tailnet) {
      throw denied(
        'this member is not on a tailnet, so it admits only with an invite; run `helix-node invite` here and join with `helix-node join --invite CODE`',
      );
    }
    const signal = AbortSignal.timeout(this.opts.whoisTimeoutMs ?? 5000);
    let caller: { userId: number; tags: string[] };
    let selfUser: number | null;
    try {
      [caller, selfUser] = await Promise.all([
        tailnet.whois(ip, signal),
        tailnet.selfUserId(signal),
      ]);
    } catch (err) {
      throw denied(
        `cannot identify ${ip} on the tailnet (${describeError(err)}); join over the tailnet address, or use an invite (\`helix-node invite\` on a member)`,
      );
    }
    // Tagged nodes have no human owner in Tailscale (the tag owns them), so a tagged caller is
    // judged by its tags alone; an untagged one by its owner.
    if (caller.tags.length > 0) {
      const allowed = caller.tags.find((t) => this.opts.allowedTags.includes(t));
      if (allowed) return `tag ${allowed}`;
      throw denied(
        `${ip} carries tags ${caller.tags.join(', ')}, none of which join.allowed_tags (${this.opts.allowedTags.join(', ') || 'none'}) admits; add one of them to join.allowed_tags on the members, tag the device ${this.opts.allowedTags[0] ?? 'tag:helix'}, or use an invite`,
      );
    }
    if (selfUser !== null && caller.userId === selfUser) return `same owner (user ${selfUser})`;
    throw denied(
      `${ip} belongs to tailnet user ${caller.userId}, not to this member's owner${selfUser !== null ? ` (user ${selfUser})` : ''}, and carries no tag; tag it ${this.opts.allowedTags[0] ?? 'tag:helix'} (see join.allowed_tags) or use an invite (\`helix-node invite\` on a member)`,
    );
  }
}

function validate(r: JoinRequest): void {
  const bad = (why: string) =>
    new JoinRefusedError(
      GrpcStatus.INVALID_ARGUMENT,
      `malformed join request: ${why}; update helix-node on the joining device`,
    );
  if (!r.nodeId || r.nodeId.length > 128) throw bad('node_id must be 1-128 characters');
  if (r.name.length > 64) throw bad('name must be at most 64 characters');
  if (r.publicKey.length !== KEY_BYTES) throw bad(`public_key must be ${KEY_BYTES} bytes`);
  if (r.nonce.length !== NONCE_BYTES) throw bad(`nonce must be ${NONCE_BYTES} bytes`);
  if (r.inviteProof.length !== 0 && r.inviteProof.length !== 64)
    throw bad('invite_proof must be empty or 64 bytes');
  if (r.csr.length > 4096) throw bad('csr must be at most 4096 bytes');
}

/** The IP of a grpc-js peer string ("1.2.3.4:5678", "[::1]:5678", "::ffff:1.2.3.4:5678"). */
export function peerIp(peer: string): string {
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(peer);
  let ip = bracketed?.[1] ?? peer;
  if (!bracketed && isIP(ip) === 0) ip = peer.replace(/:\d+$/, '');
  if (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4) ip = ip.slice(7);
  return ip;
}
