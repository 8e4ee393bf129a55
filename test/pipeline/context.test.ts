/**
 * The conversation context of follow-ups (node/pipeline/context.ts): per room, expiring, and
 * shared on the mesh: signed on the wire (ContextCodec), and carried by a real nats-server to a
 * node that did not run the command.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  busContextChannel,
  ContextCodec,
  ContextStore,
  CONTEXT_SUBJECT,
  HeardCodec,
  resultScalars,
  type ContextEntry,
  type ConversationContext,
} from '../../node/pipeline/index.js';
import { BusHarness, newSecret } from '../bus/helpers.js';
import { waitFor } from '../support/wait.js';

const KITCHEN_ON: ContextEntry = {
  room: 'living room',
  node: 'id-a',
  name: 'a',
  traceId: 't1',
  transcript: 'turn on the kitchen lights',
  agent: 'lights',
  intent: 'on',
  args: { room: 'kitchen' },
};

/** A clock the test moves. */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('ContextStore', () => {
  it('keeps the last command per room until it expires (default 60 s)', () => {
    const c = clock();
    const store = new ContextStore({ now: c.now });
    expect(store.ttlMs).toBe(60_000);
    store.remember(KITCHEN_ON);
    c.advance(59_999);
    expect(store.lookup('living room')).toMatchObject({
      from: 'room',
      ageMs: 59_999,
      context: { agent: 'lights', intent: 'on', args: { room: 'kitchen' } },
    });
    c.advance(1);
    expect(store.lookup('living room')).toBeNull();
    expect(store.list()).toEqual([]);
  });

  it('takes its lifetime from voice.context_ttl_s, and 0 keeps nothing', () => {
    const c = clock();
    const short = new ContextStore({ now: c.now, ttlMs: 5000 });
    expect(short.remember(KITCHEN_ON)?.expiresAt).toBe(c.now() + 5000);
    c.advance(5000);
    expect(short.lookup('living room')).toBeNull();
    const off = new ContextStore({ now: c.now, ttlMs: 0 });
    expect(off.remember(KITCHEN_ON)).toBeNull();
    expect(off.lookup('living room')).toBeNull();
  });

  it('is per room: a newer command in one room does not replace another room', () => {
    const c = clock();
    const store = new ContextStore({ now: c.now });
    store.remember(KITCHEN_ON);
    c.advance(1000);
    store.remember({ ...KITCHEN_ON, room: 'bedroom', traceId: 't2', intent: 'off' });
    c.advance(1000);
    store.remember({
      ...KITCHEN_ON,
      traceId: 't3',
      intent: 'dim',
      args: { room: 'kitchen', level: 40 },
    });
    expect(store.lookup('living room')?.context).toMatchObject({ traceId: 't3', intent: 'dim' });
    expect(store.lookup('bedroom')?.context).toMatchObject({ traceId: 't2', intent: 'off' });
    expect(store.list().map((x) => x.traceId)).toEqual(['t3', 't2']);
  });

  it('a room without a context falls back to the newest of the mesh, and says so', () => {
    const c = clock();
    const store = new ContextStore({ now: c.now });
    store.remember({ ...KITCHEN_ON, room: 'bedroom', traceId: 'old' });
    c.advance(2000);
    store.remember({ ...KITCHEN_ON, traceId: 'new' });
    c.advance(500);
    expect(store.lookup('hall')).toMatchObject({
      from: 'mesh',
      ageMs: 500,
      context: { traceId: 'new' },
    });
    expect(store.lookup('')).toMatchObject({ from: 'mesh', context: { traceId: 'new' } });
  });

  it('receives: newer wins, older and expired ones are ignored, a far expiry is held to its ttl', () => {
    const c = clock();
    const store = new ContextStore({ now: c.now, ttlMs: 10_000 });
    const at = c.now();
    const ctx = (traceId: string, dt: number, ttl = 10_000): ConversationContext => ({
      ...KITCHEN_ON,
      traceId,
      at: at + dt,
      expiresAt: at + dt + ttl,
    });
    expect(store.receive(ctx('b', 0))).toBe(true);
    expect(store.receive(ctx('a', -100))).toBe(false);
    expect(store.receive(ctx('gone', -20_000))).toBe(false);
    // the same millisecond: the larger trace id, whichever arrives first
    expect(store.receive(ctx('a0', 0))).toBe(false);
    expect(store.receive(ctx('b1', 0))).toBe(true);
    expect(store.receive(ctx('c', 100, 3_600_000))).toBe(true);
    expect(store.lookup('living room')?.context.traceId).toBe('c');
    c.advance(10_000);
    expect(store.lookup('living room')).toBeNull();
  });
});

describe('ContextCodec', () => {
  const secret = randomBytes(32);
  const codec = new ContextCodec({ meshId: 'mesh-1', secret });
  const ctx: ConversationContext = { ...KITCHEN_ON, at: 1, expiresAt: 60_001 };

  it('round-trips', () => {
    expect(codec.decode(codec.encode(ctx))).toEqual({ ok: ctx });
  });

  it.each([
    ['another secret', new ContextCodec({ meshId: 'mesh-1', secret: randomBytes(32) }), 'forged'],
    ['another mesh', new ContextCodec({ meshId: 'mesh-2', secret }), 'wrong-mesh'],
  ])('drops one signed with %s', (_, other, reason) => {
    expect(codec.decode(other.encode(ctx))).toEqual({ drop: reason });
  });

  it('drops a tampered body, garbage, oversized messages and a heard announcement', () => {
    const bytes = new TextDecoder().decode(codec.encode(ctx)).replace('kitchen', 'bedroom');
    expect(codec.decode(new TextEncoder().encode(bytes))).toEqual({ drop: 'forged' });
    expect(codec.decode(new TextEncoder().encode('hello'))).toEqual({ drop: 'malformed' });
    expect(codec.decode(new Uint8Array(9000))).toEqual({ drop: 'oversized' });
    // signed with the same voice key, but an announcement is not a context
    const heard = new HeardCodec({ meshId: 'mesh-1', secret }).encode({
      node: 'id-a',
      name: 'a',
      utteranceId: 'u1',
      startAt: 1,
      endAt: 2,
      levelDbfs: -20,
      snrDb: 20,
    });
    expect(codec.decode(heard)).toEqual({ drop: 'schema' });
  });

  it('keeps only the scalar fields of a result', () => {
    expect(
      resultScalars({ id: 3, label: '', seconds: 300, lights: ['a'], nested: { x: 1 }, ok: true }),
    ).toEqual({ id: 3, label: '', seconds: 300, ok: true });
    expect(resultScalars(null)).toBeUndefined();
    expect(resultScalars(['x'])).toBeUndefined();
  });
});

describe('contexts on the mesh (real nats-server)', () => {
  const harness = new BusHarness();
  afterEach(() => harness.cleanup());

  it('a context remembered on one node reaches a node that did not run the command; forgeries do not', async () => {
    const secret = newSecret();
    const server = await harness.started('127.0.1.1', secret);
    const [busA, busB, busX] = await Promise.all([
      harness.bus(server, 'a'),
      harness.bus(server, 'b'),
      harness.bus(server, 'intruder'),
    ]);
    const a = new ContextStore({
      channel: busContextChannel(busA, { meshId: 'm', secret, selfId: 'id-a' }),
    });
    const b = new ContextStore({
      channel: busContextChannel(busB, { meshId: 'm', secret, selfId: 'id-b' }),
    });
    a.start();
    b.start();
    try {
      await new Promise((r) => setTimeout(r, 100)); // subscriptions reach the server
      // someone on the bus without the mesh secret
      const forged = new ContextCodec({ meshId: 'm', secret: newSecret() });
      busX.publish(
        CONTEXT_SUBJECT,
        forged.encode({
          ...KITCHEN_ON,
          traceId: 'forged',
          at: Date.now(),
          expiresAt: Date.now() + 60_000,
        }),
      );
      a.remember(KITCHEN_ON);
      const seen = await waitFor(() => b.lookup('living room'), {
        timeoutMs: 5000,
        what: 'b to hold the living room context',
      });
      expect(seen.context).toMatchObject({
        node: 'id-a',
        traceId: 't1',
        args: { room: 'kitchen' },
      });
      expect(b.list().map((c) => c.traceId)).toEqual(['t1']);
      // a does not take its own message back as a newer one
      expect(a.list()).toHaveLength(1);
    } finally {
      a.stop();
      b.stop();
    }
  }, 20_000);
});
