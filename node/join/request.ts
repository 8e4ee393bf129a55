/**
 * Joiner side of the join protocol: ask a member for the mesh secret, with an invite code (the
 * code names the member) or, on a tailnet, by asking candidate peers in order.
 */
import { randomBytes } from 'node:crypto';
import { describeError, MeshAccessError, UnreachableError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import {
  GrpcStatus,
  JoinGrant,
  Metadata,
  RpcCallError,
  RpcClients,
  targetKey,
  unaryCall,
  type ClientTransport,
  type JoinResponse,
} from '../rpc/index.js';
import { parseInviteCode } from './code.js';
import {
  ephemeralX25519,
  grantKey,
  inviteKeyPair,
  NONCE_BYTES,
  open,
  sharedSecret,
  signInviteProof,
} from './crypto.js';
import type { JoinMember } from './service.js';

export interface JoinCandidate {
  address: string;
  rpcPort: number;
}

export interface RequestJoinOptions {
  /** members to ask, in order, when there is no invite (e.g. tailnet peers) */
  candidates?: readonly JoinCandidate[];
  /** a code from `helix-node invite`; when given, only the member it names is asked */
  invite?: string;
  nodeId: string;
  name: string;
  /** for the whole join */
  timeoutMs: number;
  /** the most one candidate may take (default 3 s), so a dead address does not eat the budget */
  attemptTimeoutMs?: number;
  signal?: AbortSignal;
  logger?: Logger;
  /** a certificate request for this node's TLS key (identity createNodeCsr): the member signs it */
  csr?: Uint8Array;
  /** 'join' (TLS without a certificate) in the daemon; default plaintext (tests) */
  transport?: ClientTransport;
}

export interface JoinResult {
  meshId: string;
  /** the 32-byte mesh secret */
  secret: Buffer;
  members: JoinMember[];
  /** "address:port" of the member that admitted this node */
  via: string;
  /** this node's certificate from the mesh CA (DER); empty when no csr was sent */
  certificate: Buffer;
  member: { id: string; name: string };
}

/**
 * Join a mesh. Returns null only when no invite was given and no candidate answered at all (the
 * caller may then create a new mesh). Throws MeshAccessError when a member refused (with its
 * reason), UnreachableError when the invite's member did not answer, UsageError for a bad code.
 */
export async function requestJoin(opts: RequestJoinOptions): Promise<JoinResult | null> {
  const log = (opts.logger ?? silentLogger).child({ component: 'join' });
  const clients = new RpcClients({ nodeId: opts.nodeId, transport: opts.transport });
  const deadline = Date.now() + opts.timeoutMs;
  try {
    if (opts.invite !== undefined) {
      const code = parseInviteCode(opts.invite);
      const target = targetKey({ address: code.address, port: code.port });
      try {
        return await askMember(clients, target, opts, code.token, opts.timeoutMs);
      } catch (err) {
        if (err instanceof RpcCallError && !isRefusal(err.code)) {
          throw new UnreachableError(
            `the member named in the invite (${target}) did not answer: ${err.message}; check that it runs and that this device can reach it, or ask for a new code`,
            { cause: err },
          );
        }
        throw refusal(target, err);
      }
    }

    const seen = new Set<string>();
    const refusals: string[] = [];
    const silent: string[] = [];
    for (const c of opts.candidates ?? []) {
      const target = targetKey({ address: c.address, port: c.rpcPort });
      if (seen.has(target)) continue;
      seen.add(target);
      const left = deadline - Date.now();
      if (left <= 0 || opts.signal?.aborted) break;
      try {
        return await askMember(
          clients,
          target,
          opts,
          null,
          Math.min(left, opts.attemptTimeoutMs ?? 3000),
        );
      } catch (err) {
        if (err instanceof RpcCallError && !isRefusal(err.code)) {
          silent.push(target);
          log.debug({ target, err: err.message }, 'join candidate did not answer');
          continue;
        }
        const e = refusal(target, err);
        refusals.push(e.message);
        log.warn({ target, reason: e.message }, 'join candidate refused');
      }
    }
    if (refusals.length > 0) {
      throw new MeshAccessError(`no member admitted this node: ${refusals.join('; ')}`);
    }
    if (silent.length > 0) log.info({ candidates: silent }, 'no mesh member answered');
    return null;
  } finally {
    clients.close();
  }
}

/** A member's deliberate no (as opposed to a peer that did not answer). */
export function isRefusal(code: GrpcStatus): boolean {
  return (
    code === GrpcStatus.PERMISSION_DENIED ||
    code === GrpcStatus.UNAUTHENTICATED ||
    code === GrpcStatus.INVALID_ARGUMENT
  );
}

export function refusal(target: string, err: unknown): MeshAccessError {
  if (err instanceof MeshAccessError) return err;
  if (err instanceof RpcCallError) return new MeshAccessError(err.message, { cause: err });
  return new MeshAccessError(`joining through ${target} failed: ${describeError(err)}`, {
    cause: err,
  });
}

/**
 * One Join call to `target` (with an invite token or on tailnet grounds) and the grant opened.
 * Throws RpcCallError when the call fails, MeshAccessError when the grant cannot be used.
 */
export async function askMember(
  clients: RpcClients,
  target: string,
  opts: Pick<RequestJoinOptions, 'nodeId' | 'name' | 'signal' | 'csr'>,
  token: Buffer | null,
  timeoutMs: number,
  metadata?: Metadata,
): Promise<JoinResult> {
  const own = ephemeralX25519();
  const nonce = randomBytes(NONCE_BYTES);
  const client = clients.mesh(target);
  const response: JoinResponse = await unaryCall(
    client.join.bind(client),
    {
      nodeId: opts.nodeId,
      name: opts.name,
      publicKey: own.publicKey,
      nonce,
      inviteProof: token
        ? signInviteProof(token, nonce, own.publicKey, opts.nodeId)
        : Buffer.alloc(0),
      csr: Buffer.from(opts.csr ?? []),
    },
    { timeoutMs, signal: opts.signal, target, metadata },
  );
  let grant: JoinGrant;
  try {
    const key = grantKey({
      shared: sharedSecret(own.privateKey, response.publicKey),
      inviteKey: token ? inviteKeyPair(token).verifier : Buffer.alloc(0),
      joinerNonce: nonce,
      joinerPublic: own.publicKey,
      memberPublic: response.publicKey,
    });
    grant = JoinGrant.decode(open(key, response.iv, response.sealedGrant, opts.nodeId));
  } catch (err) {
    throw new MeshAccessError(
      `${target} answered with a mesh secret this node cannot open: the invite code does not match that member, or something on the network altered the reply; ask for a new code`,
      { cause: err },
    );
  }
  if (!grant.meshId || grant.secret.length !== 32) {
    throw new MeshAccessError(
      `${target} handed out an unusable mesh secret (${grant.secret.length} bytes); update helix-node on that member`,
    );
  }
  return {
    meshId: grant.meshId,
    secret: Buffer.from(grant.secret),
    members: grant.members.map((m) => ({
      id: m.id,
      name: m.name,
      address: m.address,
      rpcPort: m.rpcPort,
      clusterPort: m.clusterPort,
    })),
    via: target,
    certificate: Buffer.from(grant.certificate),
    member: { id: response.memberNodeId, name: response.memberName },
  };
}
