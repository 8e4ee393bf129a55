import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../node/errors.js';
import {
  AgentHostService,
  GrpcStatus,
  MeshService,
  RpcCallError,
  RpcClients,
  RpcServer,
  listenHosts,
  serverStream,
  unaryCall,
  untilConnected,
  type AgentHostServer,
  type MeshServer,
} from '../../node/rpc/index.js';
import { listeningAddresses, meshSecret } from './helpers.js';
import { freePort } from '../support/ports.js';

const mesh: MeshServer = {
  join: (_call, cb) => cb({ code: GrpcStatus.UNIMPLEMENTED, details: 'not in this test' }),
  ping: (call, cb) =>
    cb(null, {
      nodeId: 'srv',
      name: 'srv',
      meshId: 'm',
      sentAtMs: call.request.sentAtMs,
      receivedAtMs: Date.now(),
      memberProof: Buffer.alloc(0),
    }),
};

describe('RpcServer', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function started(
    opts: { addresses: string[]; port: number; shutdownTimeoutMs?: number },
    services?: (s: RpcServer) => void,
  ) {
    const server = new RpcServer({ ...opts, secret: meshSecret() });
    server.addService(MeshService, mesh);
    services?.(server);
    await server.start();
    cleanups.push(() => server.stop());
    return server;
  }

  it('listens on the mesh address and loopback, never on a wildcard address', async () => {
    const port = await freePort();
    const server = await started({ addresses: ['127.0.3.2'], port });
    expect(server.boundAddresses).toEqual([`127.0.3.2:${port}`, `127.0.0.1:${port}`]);
    const listening = await listeningAddresses(port);
    expect(listening.sort()).toEqual([`127.0.0.1:${port}`, `127.0.3.2:${port}`]);
    expect(
      listening.some((a) => a.startsWith('0.0.0.0') || a.startsWith('*') || a.startsWith('[::]')),
    ).toBe(false);
  });

  it('binds once when the mesh address is loopback itself', async () => {
    const port = await freePort();
    const server = await started({ addresses: ['127.0.0.1'], port });
    expect(server.boundAddresses).toEqual([`127.0.0.1:${port}`]);
    expect(await listeningAddresses(port)).toEqual([`127.0.0.1:${port}`]);
  });

  it('uses one free port on every address when asked for port 0', async () => {
    const server = await started({ addresses: ['127.0.3.3'], port: 0 });
    expect(server.port).toBeGreaterThan(0);
    expect((await listeningAddresses(server.port)).sort()).toEqual([
      `127.0.0.1:${server.port}`,
      `127.0.3.3:${server.port}`,
    ]);
  });

  it.each([['0.0.0.0'], ['::'], ['[::]'], ['my-laptop.local']])(
    'refuses to listen on %s',
    (address) => {
      expect(() => listenHosts([address])).toThrow(ConfigError);
    },
  );

  it('says which key to change when the port is taken', async () => {
    const port = await freePort();
    await started({ addresses: ['127.0.3.4'], port });
    const second = new RpcServer({ addresses: ['127.0.3.4'], port, secret: meshSecret() });
    const err = await second.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe('mesh.rpc_port');
    // the loopback bind of the first server is untouched, and the failed one holds nothing
    expect((await listeningAddresses(port)).sort()).toEqual([
      `127.0.0.1:${port}`,
      `127.0.3.4:${port}`,
    ]);
  });

  it('refuses services added after start', async () => {
    const server = await started({ addresses: ['127.0.3.5'], port: await freePort() });
    expect(() => server.addService(MeshService, mesh)).toThrow(/before starting/);
  });

  it('stop() cancels calls still running after the shutdown timeout and frees the port', async () => {
    const port = await freePort();
    const secret = meshSecret();
    const endless: AgentHostServer = {
      run: (call) =>
        call.write({
          event: { $case: 'accepted', value: { hostNode: 'srv', hostName: 'srv', warm: false } },
        }),
    };
    const server = new RpcServer({
      addresses: ['127.0.3.6'],
      port,
      secret,
      shutdownTimeoutMs: 200,
    });
    server.addService(AgentHostService, endless);
    await server.start();
    const clients = new RpcClients({ nodeId: 'c', secret });
    cleanups.push(() => clients.close());
    const target = `127.0.3.6:${port}`;
    const a = clients.agentHost(target);
    const events = serverStream(
      a.run.bind(a),
      {
        traceId: 't',
        agent: 'a',
        intent: 'i',
        argsJson: '{}',
        callerNode: 'c',
        deadlineMs: 0,
        imageHash: '',
      },
      { timeoutMs: 30_000, target },
    );
    const first = await events.next();
    expect(first.value?.event?.$case).toBe('accepted');
    await server.stop();
    const err = await events.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcCallError);
    expect(await listeningAddresses(port)).toEqual([]);
  });
});

describe('RpcClients', () => {
  it('shares one channel per host:port across services and reconnects after drop()', async () => {
    const secret = meshSecret();
    const port = await freePort();
    const server = new RpcServer({ addresses: ['127.0.3.7'], port, secret });
    server.addService(MeshService, mesh);
    await server.start();
    const clients = new RpcClients({ nodeId: 'c', secret });
    try {
      const target = { address: '127.0.3.7', port };
      clients.mesh(target);
      clients.agentHost(target);
      clients.router(`127.0.3.7:${port}`);
      expect(clients.targets()).toEqual([`127.0.3.7:${port}`]);
      expect(clients.mesh(target)).toBe(clients.mesh(`127.0.3.7:${port}`));
      clients.drop(target);
      expect(clients.targets()).toEqual([]);
      const m = clients.mesh(target);
      const pong = await unaryCall(
        m.ping.bind(m),
        { nodeId: 'c', sentAtMs: 42, challenge: Buffer.alloc(0) },
        { timeoutMs: 5000 },
      );
      expect(pong.sentAtMs).toBe(42);
    } finally {
      clients.close();
      await server.stop();
    }
  });

  it('reports an unreachable peer as UNAVAILABLE with what to check', async () => {
    const clients = new RpcClients({ nodeId: 'c', secret: meshSecret() });
    try {
      const target = `127.0.3.8:${await freePort()}`;
      const m = clients.mesh(target);
      const err = await unaryCall(
        m.ping.bind(m),
        { nodeId: 'c', sentAtMs: 0, challenge: Buffer.alloc(0) },
        { timeoutMs: 3000, target },
      ).catch((e: unknown) => e);
      expect((err as RpcCallError).code).toBe(GrpcStatus.UNAVAILABLE);
      expect((err as RpcCallError).message).toMatch(/helix-node runs there/);
    } finally {
      clients.close();
    }
  });

  it('untilConnected: a peer whose server starts after a failed call is reached, not failed at once', async () => {
    // A node is alive in the mesh a moment before its gRPC server listens (its adverts start
    // first): a call then fails, and the channel waits out a reconnect backoff, in which a call
    // fails at once with the old error. untilConnected lets the next call wait for the server.
    const secret = meshSecret();
    const port = await freePort();
    const target = `127.0.3.9:${port}`;
    // a backoff long enough that the server is up well inside it, however slow this machine
    const clients = new RpcClients({
      nodeId: 'c',
      secret,
      channelOptions: {
        'grpc.initial_reconnect_backoff_ms': 2500,
        'grpc.max_reconnect_backoff_ms': 2500,
      },
    });
    const server = new RpcServer({ addresses: ['127.0.3.9'], port, secret });
    server.addService(MeshService, mesh);
    const ping = (m: ReturnType<RpcClients['mesh']>) =>
      unaryCall(
        m.ping.bind(m),
        { nodeId: 'c', sentAtMs: 7, challenge: Buffer.alloc(0) },
        { timeoutMs: 3000, target },
      );
    try {
      const m = clients.mesh(target);
      const first = await ping(m).catch((e: unknown) => e);
      expect((first as RpcCallError).code).toBe(GrpcStatus.UNAVAILABLE);
      await server.start();
      // without waiting, the channel is still in its backoff: the call fails at once
      const early = await ping(m).catch((e: unknown) => e);
      expect((early as RpcCallError).code).toBe(GrpcStatus.UNAVAILABLE);
      const t0 = performance.now();
      await untilConnected(m, 8000);
      expect(performance.now() - t0).toBeLessThan(8000);
      expect((await ping(m)).sentAtMs).toBe(7);
    } finally {
      clients.close();
      await server.stop();
    }
  });

  it('untilConnected gives up at its deadline or when aborted, without throwing', async () => {
    const clients = new RpcClients({ nodeId: 'c', secret: meshSecret() });
    try {
      const m = clients.mesh(`127.0.3.10:${await freePort()}`);
      const t0 = performance.now();
      await expect(untilConnected(m, 300)).resolves.toBeUndefined();
      expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const t1 = performance.now();
      await expect(untilConnected(m, 60_000, controller.signal)).resolves.toBeUndefined();
      expect(performance.now() - t1).toBeLessThan(30_000);
    } finally {
      clients.close();
    }
  });
});
