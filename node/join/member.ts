/**
 * Proof that a peer is a member of this mesh before any NATS route is dialled to it: a route
 * carries the route password, and a route to a non-member's nats-server would hand it every
 * message on the bus. The caller sends a random challenge in Mesh.Ping (itself authenticated by
 * the caller's per-call proof); the responder signs it together with its own mesh address, so a
 * node that merely relays to a real member elsewhere cannot answer for its own address.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { deriveKey } from '../identity/index.js';
import { unaryCall, type RpcClients } from '../rpc/index.js';

export function memberProof(secret: Uint8Array, challenge: Uint8Array, address: string): Buffer {
  return createHmac('sha256', deriveKey(secret, 'grpc'))
    .update('helix/v1/member\n')
    .update(challenge)
    .update(`\n${address}`)
    .digest();
}

export interface VerifiedMember {
  id: string;
  name: string;
  meshId: string;
}

/**
 * Ask the node at address:rpcPort to prove it holds the mesh secret. Null when it cannot (not a
 * member, not a helix node, unreachable): the caller simply does not route to it.
 */
export async function verifyMember(opts: {
  clients: RpcClients;
  address: string;
  rpcPort: number;
  secret: Uint8Array;
  selfId: string;
  timeoutMs: number;
}): Promise<VerifiedMember | null> {
  const challenge = randomBytes(32);
  try {
    const client = opts.clients.mesh({ address: opts.address, port: opts.rpcPort });
    const reply = await unaryCall(
      client.ping.bind(client),
      { nodeId: opts.selfId, sentAtMs: Date.now(), challenge },
      { timeoutMs: opts.timeoutMs },
    );
    const expected = memberProof(opts.secret, challenge, opts.address);
    const got = Buffer.from(reply.memberProof ?? []);
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) return null;
    return { id: reply.nodeId, name: reply.name, meshId: reply.meshId };
  } catch {
    return null;
  }
}

interface GateCandidate {
  address: string;
  source: string;
  rpcPort?: number;
}

interface GateEntry {
  verified: boolean;
  checkedAt: number;
  pending: boolean;
}

/**
 * Which route candidates are members. Addresses learned from the mesh itself (signed adverts, the
 * join grant) are trusted; every other source (tailscale, mDNS, static peers) is asked to prove
 * membership first, again after `ttlMs`, and unproven ones are asked again every `retryMs` (a
 * peer may start later). `onChange` fires when the trusted set may have changed.
 */
export class MemberGate {
  private readonly entries = new Map<string, GateEntry>();
  private latest: GateCandidate[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly opts: {
      verify: (c: GateCandidate) => Promise<VerifiedMember | null>;
      onChange: () => void;
      trustedSources?: readonly string[];
      retryMs?: number;
      ttlMs?: number;
      now?: () => number;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => this.check(), this.opts.retryMs ?? 3000);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Forget every proof so far (the mesh keys rotated: a peer proved the old secret, which the
   * removed node holds too). Every candidate proves itself again under the new one.
   */
  reset(): void {
    this.entries.clear();
    this.check();
    if (!this.stopped) this.opts.onChange();
  }

  /**
   * Forget the proof of one address (the peer there went silent: it may have restarted with
   * other keys, or rotated them while this node was away). It proves itself again now.
   */
  forget(address: string): void {
    if (!this.entries.delete(address)) return;
    this.check();
  }

  /** The members among `candidates` (as far as known now); starts proving the others. */
  filter<C extends GateCandidate>(candidates: C[]): C[] {
    this.latest = candidates;
    this.check();
    const trusted = this.opts.trustedSources ?? ['advert', 'invite'];
    return candidates.filter(
      (c) => trusted.includes(c.source) || this.entries.get(c.address)?.verified === true,
    );
  }

  private check(): void {
    if (this.stopped) return;
    const now = (this.opts.now ?? Date.now)();
    const trusted = this.opts.trustedSources ?? ['advert', 'invite'];
    for (const c of this.latest) {
      if (trusted.includes(c.source)) continue;
      const e = this.entries.get(c.address);
      const due =
        !e ||
        (!e.pending &&
          now - e.checkedAt >=
            (e.verified ? (this.opts.ttlMs ?? 60_000) : (this.opts.retryMs ?? 3000)));
      if (!due) continue;
      const entry: GateEntry = { verified: e?.verified ?? false, checkedAt: now, pending: true };
      this.entries.set(c.address, entry);
      void this.opts.verify(c).then((member) => {
        entry.pending = false;
        entry.checkedAt = (this.opts.now ?? Date.now)();
        const verified = member !== null;
        if (verified !== entry.verified) {
          entry.verified = verified;
          if (!this.stopped) this.opts.onChange();
        }
      });
    }
  }
}
