/**
 * The bootstrap phase over real gRPC on loopback addresses 127.0.8.x: fresh
 * nodes started together, a lone node, a refusing member, a late lower node, a one-sided view.
 * Each "node" does what the daemon does: bootstrapMesh, then release() and its real Mesh service
 * (RpcServer + JoinService) on the same address and port.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { MeshAccessError } from '../../node/errors.js';
import {
  BootstrapEndpoint,
  JoinService,
  announcementMetadata,
  announcementOf,
  bootstrapMesh,
  createInvite,
  type BootstrapAnnouncement,
  type BootstrapMeshOptions,
  type JoinCandidate,
  type MeshBootstrap,
  type TailnetIdentity,
} from '../../node/join/index.js';
import {
  GrpcStatus,
  RpcCallError,
  RpcClients,
  RpcServer,
  routeGrpcLogs,
  unaryCall,
} from '../../node/rpc/index.js';
import { silentLogger } from '../../node/log.js';
import { listeningAddresses, tempDir } from '../rpc/helpers.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

routeGrpcLogs(silentLogger);

/** Every caller belongs to the member's owner (or, with `refuse`, to someone else). */
function tailnet(refuse = false, whoisDelayMs = 0): TailnetIdentity {
  return {
    whois: async () => {
      await new Promise((r) => setTimeout(r, whoisDelayMs));
      return { userId: refuse ? 2 : 1, tags: [] };
    },
    selfUserId: async () => 1,
  };
}

function capturingLogger() {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  return { logger, lines };
}

interface TestNode {
  address: string;
  port: number;
  id: string;
}

async function testNode(address: string): Promise<TestNode> {
  return { address, port: await freePort(), id: `node-${address}` };
}

function at(n: TestNode): JoinCandidate {
  return { address: n.address, rpcPort: n.port };
}

describe('bootstrapping a mesh', () => {
  let cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups = [];
  });

  function bootstrap(
    n: TestNode,
    candidates: readonly JoinCandidate[],
    extra: Partial<BootstrapMeshOptions> = {},
  ): Promise<MeshBootstrap> {
    const abort = new AbortController();
    cleanups.push(() => abort.abort());
    const run = bootstrapMesh({
      candidates: () => candidates,
      selfAddress: n.address,
      rpcPort: n.port,
      nodeId: n.id,
      name: n.address,
      signal: abort.signal,
      ...extra,
    });
    run.then(
      (b) => cleanups.push(() => b.release()),
      () => undefined,
    );
    return run;
  }

  /** What the daemon does once it has a mesh: free the port, then serve the real Join on it. */
  async function serveMesh(n: TestNode, b: MeshBootstrap): Promise<{ meshId: string }> {
    const mesh = 'created' in b ? b.created : b.joined;
    const { dir, remove } = tempDir('bootstrap');
    cleanups.push(remove);
    const server = new RpcServer({
      addresses: [n.address],
      port: n.port,
      secret: mesh.secret,
      shutdownTimeoutMs: 500,
    });
    new JoinService({
      self: { id: n.id, name: n.address },
      stateDir: dir,
      meshId: mesh.meshId,
      secret: mesh.secret,
      allowedTags: [],
      tailnet: tailnet(),
      members: () => [],
    }).register(server);
    await b.release();
    await server.start();
    cleanups.push(() => server.stop());
    return { meshId: mesh.meshId };
  }

  /** A node as the daemon runs it: bootstrap, then serve. */
  async function runNode(n: TestNode, candidates: readonly JoinCandidate[]) {
    const b = await bootstrap(n, candidates);
    await serveMesh(n, b);
    return b;
  }

  function meshOf(b: MeshBootstrap): { meshId: string; secret: Buffer } {
    return 'created' in b ? b.created : b.joined;
  }

  it('three nodes started at the same moment end in one mesh: the lowest address creates it, the others join', async () => {
    const nodes = await Promise.all(['127.0.8.3', '127.0.8.1', '127.0.8.2'].map(testNode));
    const results = await Promise.all(
      nodes.map((n) => runNode(n, nodes.filter((o) => o !== n).map(at))),
    );
    const creators = nodes.filter((_, i) => 'created' in results[i]!).map((n) => n.address);
    expect(creators).toEqual(['127.0.8.1']);
    const meshes = results.map(meshOf);
    expect(new Set(meshes.map((m) => m.meshId)).size).toBe(1);
    for (const m of meshes) expect(m.secret.equals(meshes[0]!.secret)).toBe(true);
  });

  it('a node whose peers never answer (phones, nodes without helix) creates the mesh after the settle window', async () => {
    const lone = await testNode('127.0.8.10');
    const silent = [await testNode('127.0.8.11'), await testNode('127.0.8.12')].map(at);
    const { logger, lines } = capturingLogger();
    const b = await bootstrap(lone, silent, { logger });
    expect('created' in b).toBe(true);
    expect(lines.join('\n')).toMatch(/no helix node answered: creating the mesh/);
    await b.release();
    expect(await listeningAddresses(lone.port)).toEqual([]);
  });

  it('creates at once, binding nothing, when there is no peer to ask (off a tailnet)', async () => {
    const n = await testNode('127.0.8.13');
    const b = await bootstrap(n, []);
    expect('created' in b).toBe(true);
    expect(await listeningAddresses(n.port)).toEqual([]);
  });

  /**
   * A running member of its own mesh (`whoisDelayMs` makes it answer late; `lan`: no tailnet, so
   * only invites admit). Returns its state dir, where invites are made.
   */
  async function member(
    n: TestNode,
    meshId: string,
    opts: { refuse?: boolean; whoisDelayMs?: number; admitted?: string[]; lan?: boolean } = {},
  ): Promise<string> {
    const { dir, remove } = tempDir('bootstrap-member');
    cleanups.push(remove);
    const secret = Buffer.alloc(32, meshId.length);
    const server = new RpcServer({
      addresses: [n.address],
      port: n.port,
      secret,
      shutdownTimeoutMs: 500,
    });
    new JoinService({
      self: { id: n.id, name: n.address },
      stateDir: dir,
      meshId,
      secret,
      allowedTags: [],
      tailnet: opts.lan ? null : tailnet(opts.refuse, opts.whoisDelayMs),
      members: () => [],
      onAdmitted: (a) => opts.admitted?.push(`${a.name} by ${n.address}`),
    }).register(server);
    await server.start();
    cleanups.push(() => server.stop());
    return dir;
  }

  it('when members of two meshes answer, joins the first candidate\u2019s, not the fastest', async () => {
    const slow = await testNode('127.0.8.80');
    const fast = await testNode('127.0.8.81');
    await member(slow, 'mesh-first-listed', { whoisDelayMs: 300 });
    await member(fast, 'mesh-stale');
    const b = await bootstrap(await testNode('127.0.8.82'), [at(slow), at(fast)]);
    expect('joined' in b && b.joined.meshId).toBe('mesh-first-listed');
  });

  it('is admitted by one member of a running mesh, the first candidate, not by every member', async () => {
    const admitted: string[] = [];
    const members = [
      await testNode('127.0.8.90'),
      await testNode('127.0.8.91'),
      await testNode('127.0.8.92'),
    ];
    for (const m of members) await member(m, 'mesh-running', { admitted });
    const joiner = await testNode('127.0.8.93');
    const b = await bootstrap(joiner, [members[1]!, members[0]!, members[2]!].map(at));
    expect('joined' in b && b.joined.meshId).toBe('mesh-running');
    expect(admitted).toEqual(['127.0.8.93 by 127.0.8.91']);
  });

  it('a member that refuses is an error, not a reason to create a second mesh, and the port is freed', async () => {
    const refusing = await testNode('127.0.8.20');
    await member(refusing, 'mesh-refusing', { refuse: true });

    const joiner = await testNode('127.0.8.21');
    const err = await bootstrap(joiner, [at(refusing)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshAccessError);
    expect((err as Error).message).toMatch(
      /no member admitted this node: .*belongs to tailnet user 2/,
    );
    expect(await listeningAddresses(joiner.port)).toEqual([]);
  });

  it('a lower node arriving after the mesh was created waits while its creator starts, then joins it', async () => {
    const creator = await testNode('127.0.8.31');
    const late = await testNode('127.0.8.30');
    const created = await bootstrap(creator, [at(late)]);
    expect('created' in created).toBe(true);

    // The creator's daemon is still starting (endpoint says "starting"); the lower node must wait.
    const { logger, lines } = capturingLogger();
    const joining = bootstrap(late, [at(creator)], { logger, progressEveryMs: 200 });
    // Wait until it has waited past the settle window (2 s) for the starting creator.
    await waitFor(
      () =>
        lines.some((l) => {
          const e = JSON.parse(l) as { msg: string; waitedS?: number };
          return e.msg.includes('which has a mesh and is starting') && (e.waitedS ?? 0) >= 3;
        }),
      { timeoutMs: 15_000 },
    );
    expect(lines.join('\n')).not.toMatch(/creating the mesh/);

    await serveMesh(creator, created);
    const joined = await joining;
    expect('joined' in joined && joined.joined.meshId).toBe(meshOf(created).meshId);
  });

  it('a node that hears of a lower one only through its Join request still lets it create, and joins', async () => {
    // `upper` does not list `lower` (its tailnet view lags); `lower` lists `upper`.
    const lower = await testNode('127.0.8.40');
    const upper = await testNode('127.0.8.41');
    const unseen = await testNode('127.0.8.42');
    const [l, u] = await Promise.all([runNode(lower, [at(upper)]), runNode(upper, [at(unseen)])]);
    expect('created' in l).toBe(true);
    expect('joined' in u && u.joined.meshId).toBe(meshOf(l).meshId);
  });

  it('with an invite, asks the invite\u2019s member only', async () => {
    const desk = await testNode('127.0.8.50');
    const dir = await member(desk, 'mesh-invite', { lan: true });
    const { code } = await createInvite(dir, {
      ttlS: 600,
      memberAddress: desk.address,
      rpcPort: desk.port,
    });
    const unrelated = await testNode('127.0.8.52');
    const b = await bootstrap(await testNode('127.0.8.51'), [at(unrelated)], { invite: code });
    expect('joined' in b && b.joined.meshId).toBe('mesh-invite');
  });

  it('stops when its signal is aborted (Ctrl-C) and frees the port', async () => {
    const n = await testNode('127.0.8.60');
    // A lower bootstrapping node that never creates keeps `n` waiting.
    const blocker = await testNode('127.0.8.59');
    const endpoint = await BootstrapEndpoint.start({
      address: blocker.address,
      port: blocker.port,
      nodeId: blocker.id,
      name: 'blocker',
      phase: 'bootstrapping',
    });
    cleanups.push(() => endpoint.stop());
    const abort = new AbortController();
    const run = bootstrap(n, [at(blocker)], { signal: abort.signal }).catch((e: unknown) => e);
    await waitFor(async () => (await listeningAddresses(n.port)).length > 0, { timeoutMs: 15_000 });
    abort.abort();
    const err = await run;
    expect((err as Error).name).toBe('AbortError');
    expect(await listeningAddresses(n.port)).toEqual([]);
  });
});

describe('the stand-in Join endpoint', () => {
  it('answers Join UNAVAILABLE as a helix node without a mesh, learns the asker, and refuses Ping', async () => {
    const n = await testNode('127.0.8.70');
    const asked: BootstrapAnnouncement[] = [];
    const endpoint = await BootstrapEndpoint.start({
      address: n.address,
      port: n.port,
      nodeId: n.id,
      name: 'kitchen',
      phase: 'bootstrapping',
      onAsked: (p) => asked.push(p),
    });
    const clients = new RpcClients({ nodeId: 'asker' });
    try {
      const mesh = clients.mesh({ address: n.address, port: n.port });
      const asker: BootstrapAnnouncement = {
        nodeId: 'asker',
        address: '127.0.8.71',
        rpcPort: 7700,
        phase: 'bootstrapping',
      };
      const join = () =>
        unaryCall(
          mesh.join.bind(mesh),
          {
            nodeId: 'asker',
            name: 'x',
            publicKey: Buffer.alloc(32),
            nonce: Buffer.alloc(16),
            inviteProof: Buffer.alloc(0),
            csr: Buffer.alloc(0),
          },
          { timeoutMs: 3000, metadata: announcementMetadata(asker) },
        ).catch((e: unknown) => e);
      const err = await join();
      expect((err as RpcCallError).code).toBe(GrpcStatus.UNAVAILABLE);
      expect((err as Error).message).toMatch(/bootstrapping: no mesh yet \(helix node kitchen\)/);
      expect(announcementOf(err)).toEqual({
        nodeId: n.id,
        address: n.address,
        rpcPort: n.port,
        phase: 'bootstrapping',
      });
      expect(asked).toEqual([asker]);

      endpoint.setPhase('starting');
      expect(announcementOf(await join())?.phase).toBe('starting');

      const ping = await unaryCall(
        mesh.ping.bind(mesh),
        { nodeId: 'asker', sentAtMs: 0, challenge: Buffer.alloc(0) },
        { timeoutMs: 3000 },
      ).catch((e: unknown) => e);
      expect((ping as RpcCallError).code).toBe(GrpcStatus.UNAUTHENTICATED);
    } finally {
      clients.close();
      await endpoint.stop();
    }
  });
});
