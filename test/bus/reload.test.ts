/** A route reload must not disturb local clients (their re-subscriptions race route changes). */
import { connect } from '@nats-io/transport-node';
import { afterEach, expect, test } from 'vitest';
import { BusHarness, newSecret } from './helpers.js';
import { freePort } from '../support/ports.js';
import { happensWithin } from '../support/wait.js';

const h = new BusHarness();
afterEach(() => h.cleanup());

test('setRoutes reloads routes without disconnecting the node’s NATS clients', async () => {
  const n = await h.started('127.0.1.14', newSecret());
  const nc = await connect({
    servers: `127.0.0.1:${n.clientPort}`,
    user: n.clientCreds.user,
    pass: n.clientCreds.pass,
    maxReconnectAttempts: -1,
  });
  const events: string[] = [];
  void (async () => {
    for await (const s of nc.status()) events.push(s.type);
  })();
  try {
    expect(await n.sup.setRoutes([{ host: '127.0.1.15', port: await freePort() }])).toBe(true);
    expect(await n.sup.setRoutes([{ host: '127.0.1.16', port: await freePort() }])).toBe(true);
    await nc.flush();
    // the reload would show as a status event: watch for one (up to 500 ms)
    await happensWithin(500, () => events.some((e) => e === 'disconnect' || e === 'reconnect'));
    expect(events.filter((e) => e === 'disconnect' || e === 'reconnect')).toEqual([]);
  } finally {
    await nc.close();
  }
});
