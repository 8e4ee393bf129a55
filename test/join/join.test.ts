import { readFileSync, statSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MeshAccessError, UnreachableError } from '../../node/errors.js';
import {
  JoinService,
  createInvite,
  invitesFile,
  parseInviteCode,
  requestJoin,
  type JoinMember,
  type TailnetIdentity,
} from '../../node/join/index.js';
import {
  GrpcStatus,
  RpcCallError,
  RpcClients,
  RpcServer,
  unaryCall,
  routeGrpcLogs,
} from '../../node/rpc/index.js';
import { silentLogger } from '../../node/log.js';
import { meshSecret, tempDir } from '../rpc/helpers.js';
import { freePort } from '../support/ports.js';

routeGrpcLogs(silentLogger);

const MEMBERS: JoinMember[] = [
  { id: 'member-1', name: 'desk', address: '127.0.3.10', rpcPort: 7700, clusterPort: 6222 },
  { id: 'member-2', name: 'laptop', address: '127.0.3.11', rpcPort: 7700, clusterPort: 6222 },
];

/** A stand-in tailnet: who owns which address, and this member's own user. */
class FakeTailnet implements TailnetIdentity {
  readonly asked: string[] = [];
  owners = new Map<string, { userId: number; tags: string[] }>();
  constructor(private self: number | null) {}
  async whois(ip: string) {
    this.asked.push(ip);
    const owner = this.owners.get(ip);
    if (!owner) throw new Error(`no tailnet node has address ${ip}`);
    return owner;
  }
  async selfUserId() {
    return this.self;
  }
}

interface Member {
  server: RpcServer;
  stateDir: string;
  secret: Buffer;
  address: string;
  port: number;
  tailnet: FakeTailnet | null;
}

describe('joining a mesh', () => {
  const cleanups: Array<() => unknown> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function member(address: string, tailnet: FakeTailnet | null): Promise<Member> {
    const { dir, remove } = tempDir('join');
    cleanups.push(remove);
    const secret = meshSecret();
    const port = await freePort();
    const server = new RpcServer({ addresses: [address], port, secret, shutdownTimeoutMs: 500 });
    new JoinService({
      self: { id: `member-at-${address}`, name: 'desk' },
      stateDir: dir,
      meshId: 'mesh-test',
      secret,
      allowedTags: ['tag:helix'],
      tailnet,
      members: () => MEMBERS,
    }).register(server);
    await server.start();
    cleanups.push(() => server.stop());
    return { server, stateDir: dir, secret, address, port, tailnet };
  }

  describe('with an invite', () => {
    let m: Member;
    beforeAll(async () => {
      m = await member('127.0.3.12', null);
    });

    /** A fresh invite to m, valid for 10 minutes. */
    const invite = async (opts: { now?: number } = {}) =>
      (
        await createInvite(m.stateDir, {
          ttlS: 600,
          memberAddress: m.address,
          rpcPort: m.port,
          ...opts,
        })
      ).code;
    /** Ask m to admit a node with the code. */
    const join = (code: string, nodeId: string, name = 'x') =>
      requestJoin({ invite: code, nodeId, name, timeoutMs: 5000 });

    it('admits the node once: it gets the mesh secret and members, and the code cannot be used again', async () => {
      const code = await invite();
      const joined = await join(code, 'new-node', 'pi-kitchen');
      expect(joined).not.toBeNull();
      expect(joined!.secret.equals(m.secret)).toBe(true);
      expect(joined!.meshId).toBe('mesh-test');
      expect(joined!.members).toEqual(MEMBERS);
      expect(joined!.via).toBe(`${m.address}:${m.port}`);
      expect(joined!.member).toEqual({ id: `member-at-${m.address}`, name: 'desk' });

      const again = await join(code, 'other-node').catch((e: unknown) => e);
      expect(again).toBeInstanceOf(MeshAccessError);
      expect((again as Error).message).toMatch(/already used .* by node new-node/);
    });

    it('refuses an expired invite and says to make a new one', async () => {
      const code = await invite({ now: Date.now() - 601_000 });
      const err = await join(code, 'late-node').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MeshAccessError);
      expect((err as Error).message).toMatch(/expired at .*helix-node invite/);
    });

    it('refuses a code this member never issued', async () => {
      const other = tempDir('join-other');
      cleanups.push(other.remove);
      const { code } = await createInvite(other.dir, {
        ttlS: 600,
        memberAddress: m.address,
        rpcPort: m.port,
      });
      const err = await join(code, 'n').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MeshAccessError);
      expect((err as Error).message).toMatch(/not one this member issued/);
    });

    it('keeps only a verifier on disk: invites.json is mode 0600 and holds no token', async () => {
      const code = await invite();
      const token = parseInviteCode(code).token;
      const file = invitesFile(m.stateDir);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const text = readFileSync(file, 'utf8');
      for (const form of [
        token.toString('hex'),
        token.toString('base64'),
        token.toString('base64url'),
        code.split('-')[2]!,
      ]) {
        expect(text).not.toContain(form);
      }
    });

    it('says the member is unreachable when the code names an address where nothing listens', async () => {
      const { code } = await createInvite(m.stateDir, {
        ttlS: 600,
        memberAddress: '127.0.3.13',
        rpcPort: await freePort(),
      });
      const err = await requestJoin({
        invite: code,
        nodeId: 'n',
        name: 'x',
        timeoutMs: 2000,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnreachableError);
      expect((err as Error).message).toMatch(/did not answer/);
    });

    it('Join is callable without the mesh secret, Ping is not', async () => {
      const clients = new RpcClients({ nodeId: 'outsider' });
      cleanups.push(() => clients.close());
      const mesh = clients.mesh({ address: m.address, port: m.port });
      const err = await unaryCall(
        mesh.ping.bind(mesh),
        { nodeId: 'outsider', sentAtMs: 0, challenge: Buffer.alloc(0) },
        { timeoutMs: 5000 },
      ).catch((e: unknown) => e);
      expect((err as RpcCallError).code).toBe(GrpcStatus.UNAUTHENTICATED);
      const joinErr = await unaryCall(
        mesh.join.bind(mesh),
        {
          nodeId: 'outsider',
          name: 'x',
          publicKey: Buffer.alloc(3),
          nonce: Buffer.alloc(32),
          inviteProof: Buffer.alloc(0),
          csr: Buffer.alloc(0),
        },
        { timeoutMs: 5000 },
      ).catch((e: unknown) => e);
      // reached the join handler (which validates), not refused by the auth interceptor
      expect((joinErr as RpcCallError).code).toBe(GrpcStatus.INVALID_ARGUMENT);
    });

    it('a node that joined can Ping with the secret it received', async () => {
      const code = await invite();
      const joined = await join(code, 'pinger');
      const clients = new RpcClients({ nodeId: 'pinger', secret: joined!.secret });
      cleanups.push(() => clients.close());
      const mesh = clients.mesh(joined!.via);
      const pong = await unaryCall(
        mesh.ping.bind(mesh),
        { nodeId: 'pinger', sentAtMs: 7, challenge: Buffer.alloc(0) },
        { timeoutMs: 5000 },
      );
      expect(pong).toMatchObject({
        nodeId: `member-at-${m.address}`,
        meshId: 'mesh-test',
        sentAtMs: 7,
      });
    });
  });

  describe('on a tailnet', () => {
    const ME = 1001;
    let m: Member;
    let tailnet: FakeTailnet;
    beforeAll(async () => {
      tailnet = new FakeTailnet(ME);
      m = await member('127.0.3.14', tailnet);
    });
    afterEach(() => tailnet.owners.clear());

    const join = () =>
      requestJoin({
        candidates: [{ address: m.address, rpcPort: m.port }],
        nodeId: 'ts-node',
        name: 'laptop',
        timeoutMs: 5000,
      });

    it('admits a node owned by the same user, identified by the address the call came from', async () => {
      tailnet.owners.set('127.0.0.1', { userId: ME, tags: [] });
      const joined = await join();
      expect(joined!.secret.equals(m.secret)).toBe(true);
      expect(tailnet.asked.at(-1)).toBe('127.0.0.1');
    });

    it("refuses another user's untagged node, saying why and what to do", async () => {
      tailnet.owners.set('127.0.0.1', { userId: 2002, tags: [] });
      const err = await join().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MeshAccessError);
      expect((err as Error).message).toMatch(/user 2002.*not to this member's owner.*tag:helix/);
    });

    it("admits another user's node carrying an allowed tag", async () => {
      tailnet.owners.set('127.0.0.1', { userId: 2002, tags: ['tag:server', 'tag:helix'] });
      const joined = await join();
      expect(joined!.secret.equals(m.secret)).toBe(true);
    });

    it('refuses a tagged node whose tags are not allowed, even under the same user id', async () => {
      tailnet.owners.set('127.0.0.1', { userId: ME, tags: ['tag:guest'] });
      const err = await join().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MeshAccessError);
      expect((err as Error).message).toMatch(/tag:guest.*join.allowed_tags/);
    });

    it('refuses an address the tailnet does not know and suggests an invite', async () => {
      const err = await join().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MeshAccessError);
      expect((err as Error).message).toMatch(/cannot identify 127.0.0.1 .*invite/);
    });

    it('tries candidates in order, skipping ones that do not answer', async () => {
      tailnet.owners.set('127.0.0.1', { userId: ME, tags: [] });
      const dead = { address: '127.0.3.15', rpcPort: await freePort() };
      const joined = await requestJoin({
        candidates: [dead, { address: m.address, rpcPort: m.port }],
        nodeId: 'n',
        name: 'x',
        timeoutMs: 8000,
      });
      expect(joined!.via).toBe(`${m.address}:${m.port}`);
    });

    it('returns null when no candidate answers at all', async () => {
      const dead = [
        { address: '127.0.3.15', rpcPort: await freePort() },
        { address: '127.0.3.16', rpcPort: await freePort() },
      ];
      expect(
        await requestJoin({ candidates: dead, nodeId: 'n', name: 'x', timeoutMs: 4000 }),
      ).toBeNull();
    });
  });

  it('a member without a tailnet admits only with an invite', async () => {
    const m = await member('127.0.3.17', null);
    const err = await requestJoin({
      candidates: [{ address: m.address, rpcPort: m.port }],
      nodeId: 'n',
      name: 'x',
      timeoutMs: 5000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshAccessError);
    expect((err as Error).message).toMatch(/admits only with an invite/);
  });
});
