/**
 * `helix-node remove NODE` (docs/security.md, "Removing a node"): the member that removes makes a
 * new mesh secret and a signed rotation record, applies both here, then tells every remaining
 * member (Keys.Rotated over the current mutually-authenticated channel); each checks the record
 * and fetches the secret from the remover with Keys.Rekey (sealed to its ephemeral key, only for a
 * caller that proves the old secret, signs with its node key, and is not removed). A member that
 * was away does the same Rekey against any member when it returns. The removed node's id is on
 * every member's revocation list (the records), so it cannot fetch the new secret either way.
 *
 * The live swap of keys and certificates is the daemon's (`apply`): this module decides and
 * persists, the daemon rewires gRPC, NATS, adverts and settings without a restart.
 */
import { randomBytes } from 'node:crypto';
import type { NodeKey } from '../identity/node-key.js';
import { MeshAccessError, UsageError, describeError } from '../errors.js';
import { writeMesh, type MeshMembership } from '../identity/index.js';
import { voidOpenInvites } from '../join/invites.js';
import { silentLogger, type Logger } from '../log.js';
import {
  GrpcStatus,
  KeysService,
  RpcCallError,
  RpcClients,
  unaryCall,
  type KeysServer,
  type RpcServer,
  type RpcTarget,
} from '../rpc/index.js';
import {
  checkChain,
  checkRotation,
  secretFingerprint,
  signRotation,
  SignedRotationSchema,
  type SignedRotation,
} from './record.js';
import { checkRekeyRequest, makeRekeyRequest, openRekeyAnswer, sealRekeyAnswer } from './rekey.js';
import {
  currentEpoch,
  readRotations,
  revokedIds,
  writeRotations,
  type RotationState,
} from './store.js';

/** A node of the mesh as `remove` may name it. */
export interface KnownNode {
  id: string;
  name: string;
  state: string;
  address?: string;
  rpcPort?: number;
  self?: boolean;
}

/** What the daemon does to swap keys live (node/daemon.ts). */
export type ApplyRotation = (change: {
  oldSecret: Buffer;
  newSecret: Buffer;
  revoked: ReadonlySet<string>;
  records: readonly SignedRotation[];
}) => Promise<void>;

export interface RemovalServiceOptions {
  stateDir: string;
  self: { id: string; name: string; privateKey: NodeKey };
  /** the node's mesh membership (its secret is replaced in place on a rotation) */
  mesh: MeshMembership;
  /** where this node serves Keys.Rekey (told to members with Rotated) */
  selfTarget: () => { address: string; port: number };
  clients: () => RpcClients;
  /** the mesh's nodes as this one sees them (for names and whom to tell) */
  nodes: () => KnownNode[];
  apply: ApplyRotation;
  logger?: Logger;
  /** per member, for Rotated and Rekey (default 10 s) */
  callTimeoutMs?: number;
}

export interface MemberOutcome {
  id: string;
  name: string;
  ok: boolean;
  detail: string;
}

export interface RemoveResult {
  removed: { id: string; name: string };
  epoch: number;
  by: { id: string; name: string };
  /** every remaining member this node knows, and whether it has the new keys */
  members: MemberOutcome[];
  /** open invites voided on this node */
  invitesVoided: number;
}

export class RemovalService {
  private state: RotationState;
  private revoked: Set<string>;
  private readonly log: Logger;
  /** rotations and catch-ups one at a time */
  private chain: Promise<unknown> = Promise.resolve();
  private readonly lastCatchUp = new Map<string, number>();
  private rekeyClients: RpcClients | null = null;

  constructor(private readonly opts: RemovalServiceOptions) {
    this.state = readRotations(opts.stateDir);
    this.revoked = revokedIds(this.state);
    this.log = (opts.logger ?? silentLogger).child({ component: 'removal' });
  }

  get epoch(): number {
    return currentEpoch(this.state);
  }

  get records(): readonly SignedRotation[] {
    return this.state.records;
  }

  isRevoked(nodeId: string): boolean {
    return this.revoked.has(nodeId);
  }

  /** "removed by NAME at TIME" for a removed node, else null. */
  removedBy(nodeId: string): string | null {
    const r = this.state.records.find((x) => x.body.removed.id === nodeId);
    if (!r) return null;
    const by = this.opts.nodes().find((n) => n.id === r.body.by)?.name ?? r.body.by;
    return `removed by ${by} at ${new Date(r.body.at).toISOString()}`;
  }

  revokedSet(): ReadonlySet<string> {
    return this.revoked;
  }

  /** Close the channels Rekey opened. */
  close(): void {
    this.rekeyClients?.close();
    this.rekeyClients = null;
  }

  register(server: RpcServer): void {
    server.addService(KeysService, this.implementation);
  }

  /** Which node `name` means: a node id, the end of one (as status shows), or a node name. */
  resolve(name: string): KnownNode {
    const wanted = name.trim();
    if (wanted === '') throw new UsageError('name the node to remove: helix-node remove NODE');
    const nodes = this.opts.nodes();
    const matches = nodes.filter(
      (n) => n.id === wanted || n.name === wanted || (wanted.length >= 6 && n.id.endsWith(wanted)),
    );
    const listed = nodes.map((n) => `${n.name} (${n.id.slice(-8)}, ${n.state})`).join(', ');
    if (matches.length === 0) {
      if (this.revoked.has(wanted))
        throw new UsageError(`node ${wanted} was already ${this.removedBy(wanted)}`);
      throw new UsageError(
        `no node ${JSON.stringify(wanted)} in this mesh; the nodes are: ${listed || 'none'} (name one by name or id, see \`helix-node status\`)`,
      );
    }
    if (matches.length > 1)
      throw new UsageError(
        `${JSON.stringify(wanted)} names ${matches.length} nodes (${matches.map((n) => `${n.name} ${n.id}`).join(', ')}); name it by its full id`,
      );
    const node = matches[0]!;
    if (this.revoked.has(node.id))
      throw new UsageError(`${node.name} (${node.id}) was already ${this.removedBy(node.id)}`);
    if (node.self || node.id === this.opts.self.id)
      throw new UsageError(
        `${node.name} is this node; a node cannot remove itself. Run \`helix-node remove ${node.name}\` on another member (or stop this one and clear its state dir to leave for good)`,
      );
    return node;
  }

  /** Remove a node: new secret and record here, then every remaining member gets them. */
  remove(name: string): Promise<RemoveResult> {
    return this.serial(async () => {
      const target = this.resolve(name);
      const oldSecret = Buffer.from(this.opts.mesh.secret);
      const newSecret = randomBytes(32);
      const record = await signRotation({
        meshId: this.opts.mesh.meshId,
        epoch: this.epoch + 1,
        oldSecret,
        newSecret,
        removed: { id: target.id, name: target.name },
        by: this.opts.self.id,
        key: this.opts.self.privateKey,
      });
      const invitesVoided = await this.install([record], oldSecret, newSecret);
      this.log.info(
        { removed: target.name, removedId: target.id, epoch: record.body.epoch },
        `removed ${target.name} from the mesh; telling the other members`,
      );
      const others = this.opts
        .nodes()
        .filter((n) => !n.self && n.id !== this.opts.self.id && !this.revoked.has(n.id));
      const members = await Promise.all(others.map((n) => this.tell(n, record)));
      return {
        removed: { id: target.id, name: target.name },
        epoch: record.body.epoch,
        by: { id: this.opts.self.id, name: this.opts.self.name },
        members,
        invitesVoided,
      };
    });
  }

  /**
   * Ask the member at `target` for the current secret (a member that was away during a removal
   * does this when a peer no longer accepts it). At most once per 15 s per target; never throws.
   */
  catchUp(target: { address: string; port: number }): Promise<'rotated' | 'current' | 'failed'> {
    const key = `${target.address}:${target.port}`;
    const now = Date.now();
    if (now - (this.lastCatchUp.get(key) ?? 0) < 15_000) return Promise.resolve('current');
    this.lastCatchUp.set(key, now);
    return this.serial(() => this.pull(target)).then(
      (r) => r,
      (err: unknown) => {
        // an unreachable or foreign peer is the gate's business; only a refusal is news
        this.log.debug(
          { peer: key, err: describeError(err) },
          'could not fetch the mesh keys from a peer that does not accept this node',
        );
        return 'failed' as const;
      },
    );
  }

  private async tell(node: KnownNode, record: SignedRotation): Promise<MemberOutcome> {
    const base = { id: node.id, name: node.name };
    if (!node.address || !node.rpcPort)
      return { ...base, ok: false, detail: 'no address known; it catches up when it returns' };
    try {
      const client = this.opts.clients().keys({ address: node.address, port: node.rpcPort });
      const self = this.opts.selfTarget();
      const reply = await unaryCall(
        client.rotated.bind(client),
        { record: JSON.stringify(record), address: self.address, rpcPort: self.port },
        { timeoutMs: this.opts.callTimeoutMs ?? 10_000 },
      );
      return { ...base, ok: true, detail: `rotated to epoch ${reply.epoch}` };
    } catch (err) {
      this.log.warn(
        { peer: node.name, err: describeError(err) },
        'a member did not take the new mesh keys now; it catches up when it can reach a member',
      );
      return {
        ...base,
        ok: false,
        detail: `${describeError(err)}; it catches up when it can reach a member`,
      };
    }
  }

  /** Fetch the keys from a member and apply them; 'current' when this node is up to date. */
  private async pull(target: RpcTarget): Promise<'rotated' | 'current'> {
    const { request, ephemeral } = await makeRekeyRequest({
      nodeId: this.opts.self.id,
      meshId: this.opts.mesh.meshId,
      epoch: this.epoch,
      secret: this.opts.mesh.secret,
      key: this.opts.self.privateKey,
    });
    // Without a client certificate (as a joiner): after a rotation's grace window the peer no
    // longer accepts this node's old one, and Rekey proves everything inside the request.
    this.rekeyClients ??= new RpcClients({
      nodeId: this.opts.self.id,
      transport: { kind: 'join' },
    });
    const client = this.rekeyClients.keys(target);
    let answer;
    try {
      answer = await unaryCall(client.rekey.bind(client), request, {
        timeoutMs: this.opts.callTimeoutMs ?? 10_000,
      });
    } catch (err) {
      if (err instanceof RpcCallError && err.code === GrpcStatus.PERMISSION_DENIED)
        this.log.error({ err: err.message }, 'this node was removed from the mesh');
      throw err;
    }
    const records = JSON.parse(answer.records || '[]') as unknown[];
    if (records.length === 0) return 'current';
    const secret = openRekeyAnswer(request, ephemeral, answer);
    const chain = await checkChain(
      records,
      {
        meshId: this.opts.mesh.meshId,
        secret: this.opts.mesh.secret,
        epoch: this.epoch,
        revoked: this.revoked,
      },
      secret,
    );
    if (!chain.ok)
      throw new MeshAccessError(`refused the mesh keys a member sent: ${chain.reason}`);
    await this.install(chain.records, Buffer.from(this.opts.mesh.secret), secret);
    const last = chain.records.at(-1)!.body;
    this.log.info(
      {
        epoch: last.epoch,
        removed: chain.records.map((r) => r.body.removed.name),
        from: answer.memberNodeId,
      },
      'took the new mesh keys (a node was removed)',
    );
    return 'rotated';
  }

  /** Persist the records and the new secret, void open invites, then swap keys live. */
  private async install(
    records: SignedRotation[],
    oldSecret: Buffer,
    newSecret: Buffer,
  ): Promise<number> {
    const previous = [...this.state.previous, { epoch: this.epoch, secret: oldSecret }];
    const next: RotationState = { records: [...this.state.records, ...records], previous };
    // rotations.json first: a crash between the two files leaves the old secret with the records
    // (the node catches up again), never a new secret without its records
    writeRotations(this.opts.stateDir, next);
    const mesh = this.opts.mesh;
    mesh.secret = newSecret;
    writeMesh(this.opts.stateDir, mesh);
    this.state = next;
    this.revoked = revokedIds(next);
    const voided = await voidOpenInvites(this.opts.stateDir).catch((err: unknown) => {
      this.log.warn({ err: describeError(err) }, 'could not void the open invites');
      return 0;
    });
    await this.opts.apply({ oldSecret, newSecret, revoked: this.revoked, records });
    return voided;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const op = this.chain.then(fn);
    this.chain = op.catch(() => undefined);
    return op;
  }

  private readonly implementation: KeysServer = {
    rotated: (call, callback) => {
      void this.serial(async () => {
        let raw: unknown;
        try {
          raw = JSON.parse(call.request.record);
        } catch {
          throw new RpcCallError(GrpcStatus.INVALID_ARGUMENT, 'the rotation record is not JSON');
        }
        const parsed = SignedRotationSchema.safeParse(raw);
        // a record this node already applied (told twice, or by two members): nothing to do
        if (parsed.success && this.state.records.some((r) => r.sig === parsed.data.sig))
          return { nodeId: this.opts.self.id, epoch: this.epoch };
        const check = await checkRotation(raw, {
          meshId: this.opts.mesh.meshId,
          secret: this.opts.mesh.secret,
          epoch: this.epoch,
          revoked: this.revoked,
        });
        if (!check.ok) throw new RpcCallError(GrpcStatus.FAILED_PRECONDITION, check.reason);
        const from = { address: call.request.address, port: call.request.rpcPort };
        const outcome = await this.pull(from);
        if (outcome !== 'rotated' || this.state.records.at(-1)?.sig !== check.record.sig)
          throw new RpcCallError(
            GrpcStatus.FAILED_PRECONDITION,
            'the member that announced the rotation did not hand out its keys',
          );
        return { nodeId: this.opts.self.id, epoch: this.epoch };
      }).then(
        (reply) => callback(null, reply),
        (err: unknown) =>
          callback({
            code: err instanceof RpcCallError ? err.code : GrpcStatus.INTERNAL,
            details: describeError(err),
          }),
      );
    },
    rekey: (call, callback) => {
      void this.answerRekey(call.request).then(
        (reply) => callback(null, reply),
        (err: unknown) =>
          callback({
            code: err instanceof RpcCallError ? err.code : GrpcStatus.INTERNAL,
            details: describeError(err),
          }),
      );
    },
  };

  private async answerRekey(
    request: Parameters<KeysServer['rekey']>[0]['request'],
  ): Promise<ReturnType<typeof sealRekeyAnswer>> {
    if (request.meshId !== this.opts.mesh.meshId)
      throw new RpcCallError(
        GrpcStatus.PERMISSION_DENIED,
        `this node belongs to mesh ${this.opts.mesh.meshId}, not ${request.meshId}`,
      );
    const epoch = this.epoch;
    const secretThen =
      request.epoch === epoch
        ? this.opts.mesh.secret
        : (this.state.previous.find((p) => p.epoch === request.epoch)?.secret ?? null);
    const check = await checkRekeyRequest(request, secretThen);
    if (!check.ok) throw new RpcCallError(GrpcStatus.UNAUTHENTICATED, check.reason);
    if (this.revoked.has(request.nodeId)) {
      this.log.warn({ node: request.nodeId }, 'refused the mesh keys to a removed node');
      throw new RpcCallError(
        GrpcStatus.PERMISSION_DENIED,
        `node ${request.nodeId} was ${this.removedBy(request.nodeId)}; it gets no new mesh keys. To bring the device back, move its state dir away (a new node key) and join with a fresh code from \`helix-node invite\` on a member`,
      );
    }
    const records = this.state.records.filter((r) => r.body.epoch > request.epoch);
    if (records.length === 0)
      return {
        memberNodeId: this.opts.self.id,
        records: '[]',
        publicKey: Buffer.alloc(0),
        iv: Buffer.alloc(0),
        sealedSecret: Buffer.alloc(0),
      };
    this.log.info(
      { node: request.nodeId, fromEpoch: request.epoch, toEpoch: epoch },
      'handed the current mesh keys to a member',
    );
    return sealRekeyAnswer(request, this.opts.self.id, records, this.opts.mesh.secret);
  }
}

/** For status: the fingerprint of the secret in use (never the secret). */
export function keyFingerprint(secret: Uint8Array): string {
  return secretFingerprint(secret);
}
