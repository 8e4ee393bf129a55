/**
 * RemovalService over real gRPC (TLS 1.3, Keys.Rekey without a client certificate): a member that
 * was away during a removal catches up with the old secret and its node key; the removed node,
 * holding the same old secret and its own key, is refused; calls from a removed node are refused
 * by the auth interceptor; proofs under the previous secret pass during the grace window only.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { generateNodeKey, type NodeKey } from '../../node/identity/node-key.js';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureNodeTls, type MeshMembership } from '../../node/identity/index.js';
import { silentLogger } from '../../node/log.js';
import {
  GrpcStatus,
  grpcKey,
  MeshService,
  Metadata,
  ProofVerifier,
  signCall,
  RpcCallError,
  RpcClients,
  RpcServer,
  routeGrpcLogs,
  unaryCall,
  type MeshServer,
} from '../../node/rpc/index.js';
import {
  makeRekeyRequest,
  RemovalService,
  rotationsFile,
  type ApplyRotation,
} from '../../node/removal/index.js';
import { tempDir } from '../rpc/helpers.js';

routeGrpcLogs(silentLogger);

interface Member {
  id: string;
  name: string;
  key: NodeKey;
  dir: string;
  mesh: MeshMembership;
  removal: RemovalService;
  applied: Array<{ newSecret: Buffer; revoked: string[] }>;
}

describe('removal over gRPC', () => {
  const cleanups: Array<() => unknown> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  const s0 = randomBytes(32);
  const meshId = 'mesh-removal-test';

  async function member(name: string, nodes: () => Array<{ id: string; name: string }>) {
    const key = generateNodeKey();
    const id = key.peerId;
    const t = tempDir(`removal-${name}`);
    cleanups.push(t.remove);
    const mesh: MeshMembership = { meshId, secret: Buffer.from(s0), joinedAt: '', via: 'test' };
    const applied: Member['applied'] = [];
    const apply: ApplyRotation = async ({ newSecret, revoked }) => {
      applied.push({ newSecret, revoked: [...revoked] });
    };
    const clients = new RpcClients({ nodeId: id, secret: s0 });
    cleanups.push(() => clients.close());
    const removal = new RemovalService({
      stateDir: t.dir,
      self: { id, name, privateKey: key },
      mesh,
      selfTarget: () => ({ address: '127.0.0.1', port: 0 }),
      clients: () => clients,
      nodes: () => nodes().map((n) => ({ ...n, state: 'alive', self: n.id === id })),
      apply,
      logger: silentLogger,
      callTimeoutMs: 3000,
    });
    cleanups.push(() => removal.close());
    return { id, name, key, dir: t.dir, mesh, removal, applied } satisfies Member;
  }

  it('hands the new keys to a member that was away, never to the removed node', async () => {
    const all: Member[] = [];
    const nodes = () => all.map((m) => ({ id: m.id, name: m.name }));
    const a = await member('a', nodes);
    const b = await member('b', nodes);
    const c = await member('c', nodes);
    all.push(a, b, c);

    const { tls } = await ensureNodeTls(a.dir, s0, { nodeId: a.id, addresses: ['127.0.0.1'] });
    const server = new RpcServer({
      addresses: [],
      port: 0,
      secret: s0,
      tls: { ca: tls.ca, cert: tls.cert, key: tls.key },
      isRevoked: (id) => a.removal.isRevoked(id),
      logger: silentLogger,
    });
    a.removal.register(server);
    const meshImpl: MeshServer = {
      join: (_c, cb) => cb({ code: GrpcStatus.UNIMPLEMENTED, details: 'not here' }),
      ping: (call, cb) =>
        cb(null, {
          nodeId: a.id,
          name: 'a',
          meshId,
          sentAtMs: call.request.sentAtMs,
          receivedAtMs: Date.now(),
          memberProof: Buffer.alloc(0),
        }),
    };
    server.addService(MeshService, meshImpl);
    await server.start();
    cleanups.push(() => server.stop());
    const target = { address: '127.0.0.1', port: server.port };

    // errors name what to do
    expect(() => a.removal.resolve('nobody')).toThrow(
      /no node "nobody" in this mesh; the nodes are: a .*b .*c/,
    );
    expect(() => a.removal.resolve('a')).toThrow(/a node cannot remove itself/);

    // a removes c; b has no address here, so it is "away"
    const result = await a.removal.remove('c');
    expect(result.removed).toEqual({ id: c.id, name: 'c' });
    expect(result.epoch).toBe(1);
    expect(result.members.map((m) => [m.name, m.ok])).toEqual([['b', false]]);
    expect(a.mesh.secret.equals(s0)).toBe(false);
    expect(a.applied).toHaveLength(1);
    expect(a.applied[0]!.revoked).toEqual([c.id]);
    expect(existsSync(rotationsFile(a.dir))).toBe(true);
    expect(() => a.removal.resolve(c.id)).toThrow(/already removed by a/);

    // b catches up from a with the old secret and its node key
    expect(await b.removal.catchUp(target)).toBe('rotated');
    expect(b.mesh.secret.equals(a.mesh.secret)).toBe(true);
    expect(b.removal.epoch).toBe(1);
    expect(b.removal.isRevoked(c.id)).toBe(true);
    expect(b.applied[0]!.revoked).toEqual([c.id]);

    // c, with the same old secret and its own key, is refused, saying why
    expect(await c.removal.catchUp(target)).toBe('failed');
    expect(c.mesh.secret.equals(s0)).toBe(true);
    const { request } = await makeRekeyRequest({
      nodeId: c.id,
      meshId,
      epoch: 0,
      secret: s0,
      key: c.key,
    });
    const joinClients = new RpcClients({ nodeId: c.id, transport: { kind: 'join' } });
    cleanups.push(() => joinClients.close());
    const keys = joinClients.keys(target);
    const refused = await unaryCall(keys.rekey.bind(keys), request, { timeoutMs: 3000 }).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(RpcCallError);
    expect((refused as RpcCallError).code).toBe(GrpcStatus.PERMISSION_DENIED);
    expect((refused as RpcCallError).message).toMatch(
      /was removed by a at .*gets no new mesh keys/,
    );
    // c posing as b: b's id with c's key does not verify
    const posing = await makeRekeyRequest({
      nodeId: b.id,
      meshId,
      epoch: 0,
      secret: s0,
      key: c.key,
    });
    const p = await unaryCall(keys.rekey.bind(keys), posing.request, { timeoutMs: 3000 }).catch(
      (e: unknown) => e,
    );
    expect((p as RpcCallError).code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect((p as RpcCallError).message).toMatch(/not signed by node/);

    // and a call from c with a mesh certificate and a valid proof: refused as a removed node's
    const cTls = await ensureNodeTls(path.join(c.dir, 'x'), s0, {
      nodeId: c.id,
      addresses: ['127.0.0.1'],
    });
    const cClients = new RpcClients({
      nodeId: c.id,
      secret: s0,
      transport: { kind: 'mesh', tls: { ca: cTls.tls.ca, cert: cTls.tls.cert, key: cTls.tls.key } },
    });
    cleanups.push(() => cClients.close());
    const mesh = cClients.mesh(target);
    const ping = await unaryCall(
      mesh.ping.bind(mesh),
      { nodeId: c.id, sentAtMs: Date.now(), challenge: Buffer.alloc(0) },
      { timeoutMs: 3000 },
    ).catch((e: unknown) => e);
    expect((ping as RpcCallError).code).toBe(GrpcStatus.PERMISSION_DENIED);
    expect((ping as RpcCallError).message).toMatch(/was removed from this mesh/);
  }, 30_000);
});

describe('call proofs across a rotation', () => {
  it('accepts the previous secret (as the alternative proof) only during the grace window', () => {
    const [oldSecret, newSecret] = [randomBytes(32), randomBytes(32)];
    const verifier = new ProofVerifier(oldSecret);
    const path = '/helix.v1.Mesh/Ping';
    // a member that rotated signs with the new secret, plus the old one as the alternative
    const both = () =>
      signCall(grpcKey(newSecret), path, 'b', new Metadata(), Date.now(), grpcKey(oldSecret));
    // a member that has not rotated yet accepts it through the alternative proof
    expect(verifier.check(path, both())).toMatchObject({ ok: true });
    // a member in its grace window accepts calls under either secret
    verifier.setSecrets([newSecret, oldSecret]);
    expect(
      verifier.check(path, signCall(grpcKey(oldSecret), path, 'b', new Metadata())),
    ).toMatchObject({ ok: true });
    expect(
      verifier.check(path, signCall(grpcKey(newSecret), path, 'b', new Metadata())),
    ).toMatchObject({ ok: true });
    // after it, the old secret proves nothing (the removed node holds it)
    verifier.setSecrets([newSecret]);
    const old = verifier.check(path, signCall(grpcKey(oldSecret), path, 'c', new Metadata()));
    expect(old).toMatchObject({ ok: false, kind: 'wrong' });
    expect(verifier.check(path, both())).toMatchObject({ ok: true });
  });
});
