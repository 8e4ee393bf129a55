/**
 * Settings replication over real, clustered nats-server processes on loopback (ports from the
 * OS). Digests every 250 ms here (1 s by default) so the partition and late-join cases are quick.
 */
import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { deriveKey } from '../../node/identity/index.js';
import { DELTA_SUBJECT, REDACTED, stateSubject } from '../../node/settings/index.js';
import { SettingsMesh, converged, waitFor } from './support/mesh.js';

let mesh: SettingsMesh;
afterEach(async () => {
  await mesh?.cleanup();
});

describe('settings replication over clustered nats-servers', () => {
  it('a write on A is seen on C, a delete on C is seen on A and B', async () => {
    mesh = new SettingsMesh();
    const [s0, s1, s2] = await mesh.cluster(3);
    const a = await mesh.node('node-a', s0!);
    const b = await mesh.node('node-b', s1!);
    const c = await mesh.node('node-c', s2!);
    // interest crosses the routes asynchronously: the digest exchange covers a write made before
    // C's subscription reached A's server, so the test may write at once
    a.service.store.set('rooms.kitchen', { lights: ['kitchen_ceiling', 'kitchen_counter'] });
    a.service.store.set('home_assistant.token', 'tok-123');
    await waitFor('C to see the kitchen', () => c.service.store.get('rooms.kitchen') !== undefined);
    expect(c.service.store.get('rooms.kitchen')).toEqual({
      lights: ['kitchen_ceiling', 'kitchen_counter'],
    });
    await waitFor(
      'C to get the token',
      () => c.service.store.get('home_assistant.token') === 'tok-123',
    );
    expect(c.service.store.list().find((s) => s.key === 'home_assistant.token')?.value).toBe(
      REDACTED,
    );

    c.service.store.delete('rooms.kitchen');
    await waitFor(
      'A and B to see the delete',
      () =>
        a.service.store.get('rooms.kitchen') === undefined &&
        b.service.store.get('rooms.kitchen') === undefined,
    );
    await waitFor('one state everywhere', () => converged([a, b, c]));
  });

  it("a partition (B's server killed) heals to one state on every node", async () => {
    mesh = new SettingsMesh();
    const [s0, s1, s2] = await mesh.cluster(3);
    const a = await mesh.node('node-a', s0!);
    const b = await mesh.node('node-b', s1!);
    const c = await mesh.node('node-c', s2!);
    a.service.store.set('lights.backend', 'zigbee2mqtt');
    await waitFor(
      'everyone to agree first',
      () => converged([a, b, c]) && b.service.store.get('lights.backend') !== undefined,
    );

    await s1!.kill();
    // both sides write while apart, including the same key (the later clock must win everywhere)
    a.service.store.set('rooms.kitchen', { lights: ['k1'] });
    c.service.store.set('nodes.node-c.room', 'kitchen');
    b.service.store.set('rooms.study', { lights: ['desk_lamp'] });
    await new Promise((r) => setTimeout(r, 20));
    const late = b.service.store.set('lights.backend', 'home_assistant');
    // A's and C's writes cannot reach B: it has no server
    await new Promise((r) => setTimeout(r, 600));
    expect(b.service.store.get('rooms.kitchen')).toBeUndefined();
    expect(a.service.store.get('rooms.study')).toBeUndefined();

    await s1!.restart([s0!.clusterPort, s2!.clusterPort]);
    await waitFor('one state on every node after the heal', () => converged([a, b, c]), 15_000);
    for (const n of [a, b, c]) {
      expect(n.service.store.get('lights.backend')).toBe('home_assistant');
      expect(n.service.store.entry('lights.backend')?.hlc).toEqual(late.hlc);
      expect(n.service.store.get('rooms.kitchen')).toEqual({ lights: ['k1'] });
      expect(n.service.store.get('rooms.study')).toEqual({ lights: ['desk_lamp'] });
      expect(n.service.store.get('nodes.node-c.room')).toBe('kitchen');
    }
  });

  it('a node that starts late receives the full state, in chunks when it is large', async () => {
    mesh = new SettingsMesh({ maxMessageBytes: 64 * 1024 });
    const [s0, s1, s2] = await mesh.cluster(3);
    const a = await mesh.node('node-a', s0!);
    const b = await mesh.node('node-b', s1!);
    // 150 rooms of 16 lights: ~95 KB of state, more than one 64 KiB message
    for (let i = 0; i < 150; i++) {
      a.service.store.set(`rooms.room-${i}`, {
        lights: Array.from({ length: 16 }, (_, j) => `light_${i}_${j}_xxxxxxxxxxxxxxxx`),
      });
    }
    b.service.store.set('mqtt.url', 'mqtt://127.0.0.1:1883');
    await waitFor(
      'A and B to agree',
      () => converged([a, b]) && a.service.store.get('mqtt.url') !== undefined,
    );

    const c = await mesh.node('node-c', s2!);
    await waitFor('the late node to hold everything', () => converged([a, b, c]), 10_000);
    expect(c.service.store.entries()).toHaveLength(151);
    expect(
      a.service.replicator.stats().statesSent + b.service.replicator.stats().statesSent,
    ).toBeGreaterThan(1);
  });

  it('a restarted node keeps its settings and catches up on what it missed', async () => {
    mesh = new SettingsMesh();
    const [s0, s1] = await mesh.cluster(2);
    const a = await mesh.node('node-a', s0!);
    let b = await mesh.node('node-b', s1!);
    a.service.store.set('lights.backend', 'both');
    await waitFor('B to see it', () => b.service.store.get('lights.backend') === 'both');
    const dir = b.stateDir;
    await mesh.stopNode(b);
    a.service.store.set('lights.preferred', 'home_assistant');
    b = await mesh.node('node-b', s1!, dir);
    expect(b.service.store.get('lights.backend')).toBe('both'); // from its own file, at once
    await waitFor(
      'B to catch up',
      () => b.service.store.get('lights.preferred') === 'home_assistant',
    );
  });

  it('works as a 1-node mesh', async () => {
    mesh = new SettingsMesh();
    const [s0] = await mesh.cluster(1);
    const a = await mesh.node('node-a', s0!);
    a.service.store.set('rooms.kitchen', { lights: [] });
    await new Promise((r) => setTimeout(r, 600));
    const stats = a.service.replicator.stats();
    expect(stats.digestsSent).toBeGreaterThanOrEqual(2);
    expect(stats.deltasSent).toBe(1);
    expect(Object.values(stats.drops).every((n) => n === 0)).toBe(true);
    expect(a.service.store.get('rooms.kitchen')).toEqual({ lights: [] });
  });

  it('drops and counts unsigned and wrongly signed updates from the bus, and keeps its state', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    mesh = new SettingsMesh({ logger: pino({ level: 'info' }, sink) });
    const [s0, s1] = await mesh.cluster(2);
    const a = await mesh.node('node-a', s0!);
    const b = await mesh.node('node-b', s1!);
    a.service.store.set('lights.backend', 'zigbee2mqtt');
    await waitFor('B to see it', () => b.service.store.get('lights.backend') === 'zigbee2mqtt');

    const body = JSON.stringify({
      v: 1,
      meshId: mesh.meshId,
      from: 'intruder',
      kind: 'delta',
      entries: [
        {
          key: 'lights.backend',
          value: 'home_assistant',
          hlc: { wall: Date.now() + 1e9, logical: 0, node: 'intruder' },
        },
      ],
    });
    const forgedMac = createHmac('sha256', deriveKey(Buffer.alloc(32, 7), 'settings'))
      .update(body)
      .digest('hex');
    const enc = new TextEncoder();
    // through A's server, so the messages cross a route to reach B as well
    for (let i = 0; i < 3; i++) {
      a.bus.publish(DELTA_SUBJECT, enc.encode(body));
      a.bus.publish(DELTA_SUBJECT, enc.encode(`${forgedMac}\n${body}`));
      a.bus.publish(stateSubject('node-b'), enc.encode(`${forgedMac}\n${body}`));
    }
    await a.bus.flush();
    await waitFor(
      'B to count the drops',
      () =>
        b.service.replicator.drops().unsigned === 3 && b.service.replicator.drops().forged === 6,
    );
    expect(a.service.replicator.drops()).toMatchObject({ unsigned: 3, forged: 3 });
    // one warning per reason (not one per message), naming the subject and the claimed sender
    const warnings = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.level === 40);
    expect(
      warnings.filter((w) => w.claimedFrom === 'intruder' && w.reason === 'forged'),
    ).toHaveLength(2);
    expect(warnings.filter((w) => w.reason === 'unsigned')).toHaveLength(2);
    expect(warnings.every((w) => typeof w.subject === 'string')).toBe(true);
    expect(lines.join('')).not.toContain('home_assistant"');
    for (const n of [a, b]) expect(n.service.store.get('lights.backend')).toBe('zigbee2mqtt');
  });
});
