/**
 * Per-call proof of the mesh secret, carried in gRPC metadata.
 *
 *   helix-node:  the caller's node id
 *   helix-ts:    the caller's wall clock, ms since epoch
 *   helix-nonce: 16 random bytes, hex
 *   helix-proof: hex HMAC-SHA256(deriveKey(secret, 'grpc'), path "\n" node "\n" ts "\n" nonce)
 *
 * The method path is inside the MAC, so a proof for Ping cannot be replayed against AgentHost.Run.
 * The server refuses a proof whose clock is more than 60 s off and remembers every nonce it
 * accepted until its timestamp leaves that window, so a captured call cannot be replayed.
 * The secret itself never travels; only the derived "grpc" key signs.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  InterceptingCall,
  Metadata,
  ResponderBuilder,
  ServerInterceptingCall,
  ServerListenerBuilder,
  status,
  type Interceptor,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import { deriveKey } from '../identity/index.js';
import { certificateNodeId } from './tls.js';

export const PROOF_HEADERS = {
  node: 'helix-node',
  ts: 'helix-ts',
  nonce: 'helix-nonce',
  proof: 'helix-proof',
  /**
   * A second proof of the same call under another secret, sent only during a key rotation's
   * grace window (docs/security.md, "Removing a node"): a member that has rotated signs with the
   * new secret and the old one, so a member that has not rotated yet still accepts its calls.
   */
  altProof: 'helix-proof-alt',
} as const;

/**
 * Methods a caller may use without proof. Only Mesh.Join: it is how a node obtains the secret, and
 * it hands the secret out only after its own check (invite or tailnet owner). Mesh.Ping needs the
 * proof, so an outsider learns nothing about the mesh from it.
 */
export const UNAUTHENTICATED_METHODS: readonly string[] = [
  '/helix.v1.Mesh/Join',
  // a member that was away during a removal holds only the old secret; Rekey checks it itself
  '/helix.v1.Keys/Rekey',
];

export const DEFAULT_MAX_SKEW_MS = 60_000;

const JOIN_HINT =
  'join the mesh first with `helix-node join` (tailnet) or `helix-node join --invite CODE`';

/** The derived key that signs and checks call proofs. */
export function grpcKey(meshSecret: Uint8Array): Buffer {
  return deriveKey(meshSecret, 'grpc');
}

function mac(key: Buffer, path: string, nodeId: string, ts: string, nonce: string): Buffer {
  return createHmac('sha256', key).update(`${path}\n${nodeId}\n${ts}\n${nonce}`).digest();
}

/** Adds a fresh proof for one call of `path` to `metadata` (replacing any earlier one). */
export function signCall(
  key: Buffer,
  path: string,
  nodeId: string,
  metadata: Metadata,
  now: number = Date.now(),
  altKey?: Buffer,
): Metadata {
  const ts = String(Math.round(now));
  const nonce = randomBytes(16).toString('hex');
  metadata.set(PROOF_HEADERS.node, nodeId);
  metadata.set(PROOF_HEADERS.ts, ts);
  metadata.set(PROOF_HEADERS.nonce, nonce);
  metadata.set(PROOF_HEADERS.proof, mac(key, path, nodeId, ts, nonce).toString('hex'));
  if (altKey)
    metadata.set(PROOF_HEADERS.altProof, mac(altKey, path, nodeId, ts, nonce).toString('hex'));
  else metadata.remove(PROOF_HEADERS.altProof);
  return metadata;
}

export type ProofCheck =
  | { ok: true; nodeId: string }
  | {
      ok: false;
      kind:
        | 'missing'
        | 'malformed'
        | 'wrong'
        | 'stale'
        | 'replayed'
        | 'busy'
        | 'no-certificate'
        | 'other-certificate'
        | 'revoked';
      reason: string;
    };

export interface ProofVerifierOptions {
  maxSkewMs?: number;
  /** nonces remembered at once; past this, calls are refused until old ones expire */
  maxNonces?: number;
  now?: () => number;
}

/** Checks call proofs and remembers nonces (pure apart from the clock; no I/O). */
export class ProofVerifier {
  /** the current secret's key first; during a rotation's grace window also the previous one */
  private keys: Buffer[];
  private readonly maxSkewMs: number;
  private readonly maxNonces: number;
  private readonly now: () => number;
  /** nonce -> time after which its timestamp is outside the window anyway */
  private readonly seen = new Map<string, number>();
  private lastSweep = 0;

  constructor(meshSecret: Uint8Array, opts: ProofVerifierOptions = {}) {
    this.keys = [grpcKey(meshSecret)];
    this.maxSkewMs = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
    this.maxNonces = opts.maxNonces ?? 200_000;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Accept proofs under these secrets from now on (the current one first): after a rotation the
   * new and, for the grace window, the old one; then the new one alone.
   */
  setSecrets(secrets: readonly Uint8Array[]): void {
    if (secrets.length === 0) throw new Error('ProofVerifier.setSecrets needs at least one secret');
    this.keys = secrets.map((s) => grpcKey(s));
  }

  /** Nonces currently remembered (for tests and status). */
  get rememberedNonces(): number {
    return this.seen.size;
  }

  check(path: string, metadata: Metadata): ProofCheck {
    const get = (name: string): string | undefined => {
      const v = metadata.get(name)[0];
      return typeof v === 'string' ? v : undefined;
    };
    const nodeId = get(PROOF_HEADERS.node);
    const ts = get(PROOF_HEADERS.ts);
    const nonce = get(PROOF_HEADERS.nonce);
    const proof = get(PROOF_HEADERS.proof);
    if (!nodeId || !ts || !nonce || !proof) {
      return {
        ok: false,
        kind: 'missing',
        reason: `call to ${path} carries no proof of the mesh secret; ${JOIN_HINT}`,
      };
    }
    if (
      !/^\d{1,16}$/.test(ts) ||
      !/^[0-9a-f]{32}$/.test(nonce) ||
      !/^[0-9a-f]{64}$/.test(proof) ||
      nodeId.length > 256
    ) {
      return {
        ok: false,
        kind: 'malformed',
        reason: `call to ${path} carries a malformed mesh proof; update helix-node on the caller`,
      };
    }
    const alt = get(PROOF_HEADERS.altProof);
    const presented = [proof, ...(alt && /^[0-9a-f]{64}$/.test(alt) ? [alt] : [])].map((p) =>
      Buffer.from(p, 'hex'),
    );
    const proves = this.keys.some((key) => {
      const expected = mac(key, path, nodeId, ts, nonce);
      return presented.some((p) => timingSafeEqual(expected, p));
    });
    if (!proves) {
      return {
        ok: false,
        kind: 'wrong',
        reason: `call to ${path} from node ${nodeId} proves a different mesh secret; the caller belongs to another mesh or holds an old secret — ${JOIN_HINT}`,
      };
    }
    const now = this.now();
    const skew = now - Number(ts);
    if (Math.abs(skew) > this.maxSkewMs) {
      return {
        ok: false,
        kind: 'stale',
        reason: `call to ${path} from node ${nodeId} is stamped ${Math.round(skew / 1000)} s off this node's clock (limit ${this.maxSkewMs / 1000} s); synchronise the clocks (NTP, e.g. \`timedatectl set-ntp true\`)`,
      };
    }
    this.sweep(now);
    if (this.seen.has(nonce)) {
      return {
        ok: false,
        kind: 'replayed',
        reason: `call to ${path} from node ${nodeId} replays a proof already used; each call needs a fresh proof`,
      };
    }
    if (this.seen.size >= this.maxNonces) {
      return {
        ok: false,
        kind: 'busy',
        reason: `too many calls in the last ${this.maxSkewMs / 1000} s; retry shortly`,
      };
    }
    this.seen.set(nonce, Number(ts) + this.maxSkewMs);
    return { ok: true, nodeId };
  }

  private sweep(now: number): void {
    // A full pass at most once a second keeps the cost flat however busy the node is.
    if (now - this.lastSweep < 1000 && this.seen.size < this.maxNonces) return;
    this.lastSweep = now;
    for (const [nonce, expires] of this.seen) if (expires < now) this.seen.delete(nonce);
  }
}

export interface AuthInterceptorOptions {
  openMethods?: readonly string[];
  /**
   * Mesh TLS: a call must also come over a connection with a mesh certificate (the TLS layer
   * already dropped connections whose certificate failed), for the node id its proof names.
   */
  requireCertificate?: boolean;
  /** node ids removed from the mesh: their calls are refused whatever they prove */
  isRevoked?: (nodeId: string) => boolean;
  /** told about every refused call (for logs and counters) */
  onRefused?: (path: string, peer: string, check: Extract<ProofCheck, { ok: false }>) => void;
}

/** Server side: refuses calls without a valid proof with UNAUTHENTICATED before any handler runs. */
export function meshAuthServerInterceptor(
  verifier: ProofVerifier,
  opts: AuthInterceptorOptions = {},
): ServerInterceptor {
  const open = new Set(opts.openMethods ?? UNAUTHENTICATED_METHODS);
  return (method, call) => {
    if (open.has(method.path)) return new ServerInterceptingCall(call);
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const proof = verifier.check(method.path, metadata);
        const checked = opts.requireCertificate ? withCertificate(proof, method.path, call) : proof;
        const result = opts.isRevoked
          ? notRevoked(checked, method.path, call, opts.isRevoked)
          : checked;
        if (result.ok) {
          next(metadata);
          return;
        }
        opts.onRefused?.(method.path, call.getPeer(), result);
        const code =
          result.kind === 'busy'
            ? status.RESOURCE_EXHAUSTED
            : result.kind === 'revoked'
              ? status.PERMISSION_DENIED
              : status.UNAUTHENTICATED;
        call.sendStatus({ code, details: result.reason });
      })
      .build();
    const responder = new ResponderBuilder().withStart((next) => next(listener)).build();
    return new ServerInterceptingCall(call, responder);
  };
}

/**
 * The proof's node id must be the one the connection's certificate names: a member cannot sign
 * calls as another node. Certificate checks first, so an outsider learns nothing from the proof.
 */
function withCertificate(
  proof: ProofCheck,
  path: string,
  call: Parameters<typeof certificateNodeId>[0],
): ProofCheck {
  const certified = certificateNodeId(call);
  if (certified === null) {
    return {
      ok: false,
      kind: 'no-certificate',
      reason: `call to ${path} came over a connection without a mesh certificate; ${JOIN_HINT} (a member's certificate is issued at join)`,
    };
  }
  if (proof.ok && proof.nodeId !== certified) {
    return {
      ok: false,
      kind: 'other-certificate',
      reason: `call to ${path} is signed as node ${proof.nodeId} but its TLS certificate names node ${certified}; each node calls with its own certificate`,
    };
  }
  return proof;
}

/**
 * A removed node's calls are refused by the id its certificate names and the id its proof names,
 * before anything else is said (its old certificate and secret may still verify during a
 * rotation's grace window, or on a member that has not rotated yet).
 */
function notRevoked(
  check: ProofCheck,
  path: string,
  call: Parameters<typeof certificateNodeId>[0] & { metadata?: Metadata },
  isRevoked: (nodeId: string) => boolean,
): ProofCheck {
  const ids = [certificateNodeId(call), check.ok ? check.nodeId : null].filter(
    (id): id is string => id !== null,
  );
  const removed = ids.find((id) => isRevoked(id));
  if (removed === undefined) return check;
  return {
    ok: false,
    kind: 'revoked',
    reason: `call to ${path} refused: node ${removed} was removed from this mesh (\`helix-node remove\`); to bring the device back, a member runs \`helix-node invite\` and the device joins again with --invite after its state is cleared`,
  };
}

/**
 * Client side: signs every call with a fresh proof. `secrets` may be a function: it is read at
 * each call, so a key rotation takes effect without new clients (the first secret signs; a
 * second, during a rotation's grace window, signs the alternative proof).
 */
export function meshAuthClientInterceptor(
  secrets: Uint8Array | (() => readonly Uint8Array[]),
  nodeId: string,
  now: () => number = Date.now,
): Interceptor {
  const fixed = typeof secrets === 'function' ? null : [grpcKey(secrets)];
  let cachedFor: readonly Uint8Array[] | null = null;
  let cached: Buffer[] = [];
  const keys = (): Buffer[] => {
    if (fixed) return fixed;
    const current = (secrets as () => readonly Uint8Array[])();
    if (current !== cachedFor) {
      cachedFor = current;
      cached = current.map((s) => grpcKey(s));
    }
    return cached;
  };
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        const [key, altKey] = keys();
        if (!key) throw new Error('meshAuthClientInterceptor: no mesh secret to sign with');
        signCall(key, options.method_definition.path, nodeId, metadata, now(), altKey);
        next(metadata, listener);
      },
    });
}

/** The caller's node id on an authenticated call (the proof binds it), else undefined. */
export function callerNodeId(call: { metadata: Metadata }): string | undefined {
  const v = call.metadata.get(PROOF_HEADERS.node)[0];
  return typeof v === 'string' ? v : undefined;
}
