/** Announcements on the wire (HeardCodec) and the Arbiter's timing over an in-memory channel. */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  Arbiter,
  HeardCodec,
  type HeardChannel,
  type HeardUtterance,
} from '../../node/pipeline/index.js';
import type { PeerView } from '../../node/types.js';
import { peer } from './support/plain.js';

const secret = randomBytes(32);
const now = Date.now();
const heard: HeardUtterance = {
  node: 'id-b',
  name: 'b',
  room: 'kitchen',
  utteranceId: 'abc123',
  startAt: now - 1500,
  endAt: now,
  levelDbfs: -23.44,
  snrDb: 31.26,
};

describe('HeardCodec', () => {
  const codec = new HeardCodec({ meshId: 'mesh-1', secret });

  it('round-trips, with levels to 0.1 dB', () => {
    const d = codec.decode(codec.encode(heard));
    expect(d).toEqual({ ok: { ...heard, levelDbfs: -23.4, snrDb: 31.3 } });
  });

  it.each([
    ['another secret', new HeardCodec({ meshId: 'mesh-1', secret: randomBytes(32) }), 'forged'],
    ['another mesh', new HeardCodec({ meshId: 'mesh-2', secret }), 'wrong-mesh'],
  ])('drops one signed with %s', (_, other, reason) => {
    expect(codec.decode(other.encode(heard))).toEqual({ drop: reason });
  });

  it('drops a tampered body, garbage and oversized messages', () => {
    const bytes = new TextDecoder().decode(codec.encode(heard)).replace('31.3', '99.9');
    expect(codec.decode(new TextEncoder().encode(bytes))).toEqual({ drop: 'forged' });
    expect(codec.decode(new TextEncoder().encode('hello'))).toEqual({ drop: 'malformed' });
    expect(codec.decode(new Uint8Array(5000))).toEqual({ drop: 'oversized' });
  });
});

/** All arbiters share one in-memory bus; announcements arrive after `delayMs`. */
function memoryBus(delayMs = 1) {
  const listeners = new Map<string, (h: HeardUtterance) => void>();
  return (self: string): HeardChannel => ({
    announce(h) {
      for (const [id, l] of listeners) if (id !== self) setTimeout(() => l(h), delayMs);
    },
    subscribe(l) {
      listeners.set(self, l);
      return () => listeners.delete(self);
    },
  });
}

const micPeer = (name: string, self = false): PeerView =>
  peer(name, { self, caps: { mic: { devices: ['hw:0'] } } });

function arbiter(channel: HeardChannel, name: string, view: PeerView[]): Arbiter {
  const a = new Arbiter({ channel, selfId: `id-${name}`, selfName: name, view: () => view });
  a.start();
  return a;
}

const hearing = (snrDb: number, levelDbfs = -30) => ({
  startAt: now - 1500,
  endAt: now,
  snrDb,
  levelDbfs,
});

describe('Arbiter', () => {
  it('alone (no other alive node with a mic) decides at once, waiting for nobody', async () => {
    const bus = memoryBus();
    const view = [micPeer('a', true), peer('gpu'), { ...micPeer('b'), state: 'dead' as const }];
    const a = arbiter(bus('id-a'), 'a', view);
    const r = await a.arbitrate(hearing(10));
    expect(r).toMatchObject({ won: true, alone: true, decidedBy: 'alone' });
    a.stop();
  });

  it('three mics: the best acts, the others yield, and nobody waits the whole window', async () => {
    const bus = memoryBus(2);
    const view = ['a', 'b', 'c'].map((n) => micPeer(n));
    const arbiters = ['a', 'b', 'c'].map((n) =>
      arbiter(
        bus(`id-${n}`),
        n,
        view.map((p) => ({ ...p, self: p.name === n })),
      ),
    );
    const [ra, rb, rc] = await Promise.all([
      arbiters[0]!.arbitrate(hearing(12)),
      arbiters[1]!.arbitrate(hearing(25)),
      arbiters[2]!.arbitrate(hearing(18)),
    ]);
    expect([ra!.won, rb!.won, rc!.won]).toEqual([false, true, false]);
    for (const r of [ra!, rb!, rc!]) {
      expect(r.winner.name).toBe('b');
      // ended by the announcements, not by the window running out (no wall-clock bound here)
      expect(r.decidedBy).toBe('early');
    }
    expect(rb!.heard.map((h) => h.name)).toEqual(['b', 'c', 'a']);
    arbiters.forEach((x) => x.stop());
  });

  it('a peer with a mic that stays silent costs the window, no more', async () => {
    const bus = memoryBus();
    const view = [micPeer('a', true), micPeer('b')];
    const a = new Arbiter({
      channel: bus('id-a'),
      selfId: 'id-a',
      selfName: 'a',
      view: () => view,
      windowMs: 60,
    });
    a.start();
    const r = await a.arbitrate(hearing(10));
    expect(r.won).toBe(true);
    expect(r.decidedBy).toBe('window');
    expect(r.waitedMs).toBeGreaterThanOrEqual(55);
    a.stop();
  });

  it('a better hearing announced after the window makes the provisional winner yield (once); a worse one does not', async () => {
    const view = [micPeer('a', true), micPeer('b')];
    const fromB: Array<(h: HeardUtterance) => void> = [];
    const a = new Arbiter({
      channel: { announce: () => undefined, subscribe: (l) => (fromB.push(l), () => undefined) },
      selfId: 'id-a',
      selfName: 'a',
      view: () => view,
      windowMs: 30,
    });
    a.start();
    const r = await a.arbitrate(hearing(12));
    expect(r.won).toBe(true); // b was too busy to announce within the window
    const better: HeardUtterance[] = [];
    const stop = a.watchForBetter(r.winner, (h) => better.push(h));
    const late = { ...heard, node: 'id-b', name: 'b', startAt: now - 1480, endAt: now + 20 };
    fromB[0]!({ ...late, snrDb: 8 }); // worse: a keeps it
    expect(better).toEqual([]);
    fromB[0]!({ ...late, utteranceId: 'u2', snrDb: 20 });
    fromB[0]!({ ...late, utteranceId: 'u3', snrDb: 30 });
    expect(better.map((h) => h.snrDb)).toEqual([20]);
    stop();
    // already there when the watch starts: told at once
    const again: HeardUtterance[] = [];
    a.watchForBetter(r.winner, (h) => again.push(h))();
    expect(again).toHaveLength(1);
    a.stop();
  });

  it('a window is never longer than 150 ms', () => {
    const a = new Arbiter({
      channel: memoryBus()('x'),
      selfId: 'x',
      selfName: 'x',
      view: () => [],
      windowMs: 1000,
    });
    expect(a.windowMs).toBe(150);
  });
});
