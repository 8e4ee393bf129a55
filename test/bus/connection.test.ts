/** connectBus against a real nats-server: first connect, handlers, requests, close. */
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { connectBus } from '../../node/bus/index.js';
import { UnreachableError } from '../../node/errors.js';
import { BusHarness, collect, dec, enc, newSecret, publishUntil, testLogger } from './helpers.js';
import { freePort } from '../support/ports.js';

const h = new BusHarness();
afterEach(() => h.cleanup());

describe('connectBus', () => {
  test('waits for a server that is not listening yet', async () => {
    const n = await h.node('127.0.1.13', newSecret());
    const connecting = h.bus(n);
    await new Promise((r) => setTimeout(r, 300)); // a few failed dials first
    await n.sup.start();
    const bus = await connecting;
    const inbox = collect(bus, 'helix.test.late');
    await publishUntil(bus, 'helix.test.late', 'late', () => inbox.messages.includes('late'));
  });

  // A reload (every route change) closes each client that has not sent CONNECT yet, with
  // "Authorization Violation". A client whose CONNECT was already on its way gets a reset and
  // never reads the error: nats.js, in its first dial, waited out its 20 s attempt timeout.
  test('connects although its first attempt is cut off by a server reload', async () => {
    const n = await h.started('127.0.1.13', newSecret());
    const proxy = await stallFirstConnection(n.clientPort);
    try {
      const connecting = connectBus({
        port: proxy.port,
        creds: n.clientCreds,
        name: 'reload-race',
        logger: testLogger,
        signal: AbortSignal.timeout(15_000),
      });
      await proxy.firstHeld;
      await n.sup.setRoutes([{ host: '127.0.1.14', port: await freePort() }]);
      expect(await proxy.firstFromServer).toContain("-ERR 'Authorization Violation'");
      const bus = await connecting;
      expect(proxy.connections()).toBeGreaterThanOrEqual(2);
      const inbox = collect(bus, 'helix.test.reload-race');
      await publishUntil(bus, 'helix.test.reload-race', 'up', () => inbox.messages.includes('up'));
      await bus.close();
    } finally {
      await proxy.close();
    }
  }, 15_000);

  test('gives up waiting when its signal aborts, with an error that says what it waited for', async () => {
    const port = await freePort(); // nothing listens here
    const attempt = connectBus({
      port,
      creds: { user: 'helix', pass: 'x' },
      name: 'test',
      logger: testLogger,
      signal: AbortSignal.timeout(300),
    });
    await expect(attempt).rejects.toThrow(UnreachableError);
    await expect(attempt).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${port}`));
  });

  test('a handler that throws does not stop the messages after it', async () => {
    const n = await h.started('127.0.1.13', newSecret());
    const bus = await h.bus(n);
    const seen: string[] = [];
    bus.subscribe('helix.test.throw', (m) => {
      seen.push(dec(m.data));
      if (dec(m.data) === 'boom') throw new Error('handler failed');
    });
    bus.publish('helix.test.throw', enc('boom'));
    await publishUntil(bus, 'helix.test.throw', 'next', () => seen.includes('next'));
    expect(seen[0]).toBe('boom');
  });

  test('unsubscribe stops delivery', async () => {
    const n = await h.started('127.0.1.13', newSecret());
    const bus = await h.bus(n);
    const gone = collect(bus, 'helix.test.unsub');
    gone.stop();
    const control = collect(bus, 'helix.test.unsub');
    await publishUntil(bus, 'helix.test.unsub', 'x', () => control.messages.includes('x'));
    expect(gone.messages).toEqual([]);
  });

  test('a request nobody answers in time fails with the subject and the timeout', async () => {
    const n = await h.started('127.0.1.13', newSecret());
    const bus = await h.bus(n);
    bus.subscribe('helix.test.silent', () => undefined); // receives, never responds
    await bus.flush();
    await expect(bus.request('helix.test.silent', enc('?'), { timeoutMs: 200 })).rejects.toThrow(
      /no reply on helix\.test\.silent within 200 ms/,
    );
  });

  test('close() delivers what was published before it', async () => {
    const n = await h.started('127.0.1.13', newSecret());
    const sender = await h.bus(n, 'sender');
    const receiver = await h.bus(n, 'receiver');
    const inbox = collect(receiver, 'helix.test.close');
    await receiver.flush();
    for (let i = 0; i < 100; i++) sender.publish('helix.test.close', enc(String(i)));
    await sender.close();
    expect(() => sender.publish('helix.test.close', enc('after'))).toThrow();
    await receiver.flush();
    expect(inbox.messages).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
  });
});

/**
 * A loopback TCP proxy to `port`. On its first connection the server's INFO passes, the client's
 * CONNECT is held (`firstHeld`), and when the server closes the connection the client gets a TCP
 * reset, as from a kernel whose socket is closed when the CONNECT arrives: the server's error is
 * lost with it. Later connections pass both ways.
 */
async function stallFirstConnection(port: number): Promise<{
  port: number;
  firstHeld: Promise<void>;
  firstFromServer: Promise<string>;
  connections: () => number;
  close: () => Promise<void>;
}> {
  let count = 0;
  const sockets: Socket[] = [];
  let held!: () => void;
  const firstHeld = new Promise<void>((r) => (held = r));
  let fromServer!: (text: string) => void;
  const firstFromServer = new Promise<string>((r) => (fromServer = r));
  const server: Server = createServer((client) => {
    const first = count++ === 0;
    const upstream = tcpConnect(port, '127.0.0.1');
    sockets.push(client, upstream);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    if (!first) {
      client.pipe(upstream).pipe(client);
      return;
    }
    let seen = '';
    upstream.on('data', (d: Buffer) => {
      if (!seen) client.write(d);
      seen += d.toString();
    });
    client.once('data', () => held());
    upstream.on('close', () => {
      fromServer(seen);
      client.resetAndDestroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    firstHeld,
    firstFromServer,
    connections: () => count,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
