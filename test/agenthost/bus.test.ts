/**
 * Host calls that cross nodes over a real nats-server: notify delivered to the node that asked.
 * (llm.generate goes over gRPC: llm.test.ts.)
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManifestSchema } from '../../node/agentspec/index.js';
import { Notifier, type Notification } from '../../node/agenthost/index.js';
import type { Bus } from '../../node/bus/index.js';
import { BusHarness, newSecret } from '../bus/helpers.js';
import { peer } from '../placement/peers.js';
import { waitFor } from '../support/wait.js';

const timerManifest = ManifestSchema.parse({
  name: 'timer',
  tier: 'warm',
  calls: ['notify'],
  intents: [{ name: 'set' }],
});

describe('notify between nodes over the bus', () => {
  const harness = new BusHarness();
  let busA: Bus;
  let busB: Bus;
  const notifiers: Notifier[] = [];

  beforeAll(async () => {
    const node = await harness.started('127.0.7.20', newSecret());
    busA = await harness.bus(node, 'pi');
    busB = await harness.bus(node, 'desk');
  });

  afterEach(() => {
    for (const n of notifiers.splice(0)) n.stop();
  });

  afterAll(async () => {
    await harness.cleanup();
  });

  it('delivers notify to the node named in the call, over the bus', async () => {
    const view = () => [
      peer({ name: 'desk', id: 'id-desk', self: true }),
      peer({ name: 'pi', id: 'id-pi' }),
      peer({ name: 'old', id: 'id-old', state: 'dead' }),
    ];
    const desk = new Notifier({ bus: busB, view, self: { id: 'id-desk', name: 'desk' } });
    const pi = new Notifier({
      bus: busA,
      view: () => [],
      self: { id: 'id-pi', name: 'pi' },
    });
    notifiers.push(desk, pi);
    pi.start();
    await busA.flush();
    const got: Notification[] = [];
    pi.onNotify((n) => got.push(n));
    const ctx = { agent: timerManifest, traceId: 'trace-7' };
    await expect(
      desk.handler({ node: 'pi', text: 'The tea timer is done.' }, ctx),
    ).resolves.toEqual({
      node: 'pi',
    });
    await waitFor(() => got.length > 0, { timeoutMs: 5000, what: 'the notification on pi' });
    expect(got[0]).toMatchObject({
      from: 'desk',
      agent: 'timer',
      text: 'The tea timer is done.',
      traceId: 'trace-7',
    });

    await expect(desk.handler({ node: 'old', text: 'x' }, ctx)).rejects.toThrow(
      /old is dead; the notification was not delivered/,
    );
    await expect(desk.handler({ node: 'attic', text: 'x' }, ctx)).rejects.toThrow(
      /no node "attic" in the mesh \(nodes: desk, old, pi\)/,
    );
  });
});
