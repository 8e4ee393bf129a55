/** connectBus against a real nats-server: first connect, handlers, requests, close. */
import { afterEach, describe, expect, test } from 'vitest';
import { connectBus } from '../../node/bus/index.js';
import { UnreachableError } from '../../node/errors.js';
import { BusHarness, collect, dec, enc, newSecret, publishUntil, testLogger } from './helpers.js';

const h = new BusHarness(14800, 14899);
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

  test('gives up waiting when its signal aborts, with an error that says what it waited for', async () => {
    const port = h.port(); // nothing listens here
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
