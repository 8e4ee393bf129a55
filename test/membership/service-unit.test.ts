/**
 * MembershipService behaviour that does not need a server: what it publishes, how it survives
 * bad inputs and failing callers. The bus is an in-process stand-in; the real one is in service.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../node/log.js';
import {
  MembershipService,
  decodeAdvert,
  decodeBye,
  encodeAdvert,
  heartbeatSubject,
  type AdvertContent,
  type MembershipTiming,
} from '../../node/membership/index.js';
import { MESH_ID, SECRET, advert, advertContent } from './support/advert.js';
import { MemoryBus } from './support/memoryBus.js';
import { happensWithin, waitFor } from '../support/wait.js';

const TIMING: MembershipTiming = {
  heartbeat_ms: 20,
  suspect_after_ms: 300,
  dead_after_ms: 1000,
  forget_after_ms: 60_000,
};

const running: MembershipService[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

function make(
  bus: MemoryBus,
  content: () => AdvertContent,
  extra: { selfId?: string; maxPingsInFlight?: number } = {},
) {
  const svc = new MembershipService({
    bus,
    meshId: MESH_ID,
    secret: SECRET,
    selfId: extra.selfId ?? 'self',
    config: TIMING,
    advert: content,
    logger: silentLogger,
    pingIntervalMs: 20,
    pingTimeoutMs: 200,
    tickMs: 10,
    maxPingsInFlight: extra.maxPingsInFlight ?? 8,
  });
  running.push(svc);
  return svc;
}

const opts = { meshId: MESH_ID, secret: SECRET };

describe('MembershipService (in-process bus)', () => {
  it('publishes signed adverts with rising seq on its heartbeat subject', async () => {
    const bus = new MemoryBus();
    const svc = make(bus, () => advertContent({ id: 'self', name: 'desk' }));
    await svc.start();
    await waitFor(() => bus.published.length >= 3, { what: 'three beats' });
    const beats = bus.published.filter((m) => m.subject === heartbeatSubject('self'));
    const decoded = beats.map((m) => decodeAdvert(m.data, opts));
    const seqs = decoded.map((d) => ('ok' in d ? d.ok.seq : -1));
    expect(seqs.slice(0, 3)).toEqual([0, 1, 2]);
    expect(decoded[0]).toMatchObject({ ok: { id: 'self', name: 'desk', meshId: MESH_ID } });
    expect(svc.view()[0]).toMatchObject({ id: 'self', self: true, state: 'alive' });
  });

  it('announceSoon beats out of turn, once for calls that come together, and not after stop', async () => {
    const bus = new MemoryBus();
    const svc = new MembershipService({
      bus,
      meshId: MESH_ID,
      secret: SECRET,
      selfId: 'self',
      // no beat of its own during the test but the first
      config: {
        ...TIMING,
        heartbeat_ms: 60_000,
        suspect_after_ms: 120_000,
        dead_after_ms: 240_000,
      },
      advert: () => advertContent({ id: 'self' }),
      logger: silentLogger,
    });
    running.push(svc);
    const beats = () => bus.published.filter((m) => m.subject === heartbeatSubject('self')).length;
    svc.announceSoon(); // before start: nothing
    await svc.start();
    expect(beats()).toBe(1);
    // three routes connect at once
    svc.announceSoon();
    svc.announceSoon();
    svc.announceSoon();
    expect(beats()).toBe(1);
    await waitFor(() => beats() === 2, { what: 'the announcement' });
    await new Promise((r) => setTimeout(r, 400));
    expect(beats()).toBe(2);
    // a later route gets its own
    svc.announceSoon();
    await waitFor(() => beats() === 3, { what: 'the second announcement' });
    svc.announceSoon();
    await svc.stop();
    await new Promise((r) => setTimeout(r, 400));
    expect(beats()).toBe(3);
  });

  it('does nothing before start and says bye, then unsubscribes, on stop', async () => {
    const bus = new MemoryBus();
    const svc = make(bus, () => advertContent({ id: 'self' }));
    expect(bus.subscriptions()).toEqual([]);
    expect(bus.published).toEqual([]);
    await svc.start();
    expect(bus.subscriptions().sort()).toEqual([
      'helix.v1.node.*.bye',
      'helix.v1.node.*.hb',
      'helix.v1.node.self.ping',
    ]);
    await svc.stop();
    const last = bus.published.at(-1);
    expect(last?.subject).toBe('helix.v1.node.self.bye');
    expect(decodeBye(last!.data, opts)).toMatchObject({ ok: { id: 'self', meshId: MESH_ID } });
    expect(bus.subscriptions()).toEqual([]);
    const count = bus.published.length;
    await happensWithin(60, () => bus.published.length !== count);
    expect(bus.published.length).toBe(count);
  });

  it('uses the given id even if the advert content names another', async () => {
    const bus = new MemoryBus();
    const svc = make(bus, () => advertContent({ id: 'someone-else' }));
    await svc.start();
    expect(decodeAdvert(bus.published[0]!.data, opts)).toMatchObject({ ok: { id: 'self' } });
  });

  it('skips a beat whose advert cannot be built or fails the schema, and keeps beating', async () => {
    const bus = new MemoryBus();
    let call = 0;
    const svc = make(bus, () => {
      call += 1;
      if (call === 1) throw new Error('probe exploded');
      if (call === 2) return { ...advertContent({ id: 'self' }), name: 'x'.repeat(1000) };
      return advertContent({ id: 'self' });
    });
    await svc.start();
    await waitFor(() => bus.published.length >= 1, { what: 'a beat after the failures' });
    expect(call).toBeGreaterThanOrEqual(3);
    for (const m of bus.published) expect(decodeAdvert(m.data, opts)).toHaveProperty('ok');
  });

  it('keeps notifying other listeners when one throws', async () => {
    const bus = new MemoryBus();
    const svc = make(bus, () => advertContent({ id: 'self' }));
    const heard: string[] = [];
    svc.onChange(() => {
      throw new Error('listener bug');
    });
    svc.onChange((t) => heard.push(`${t.id}:${t.to}`));
    await svc.start();
    bus.publish(heartbeatSubject('peer'), encodeAdvert(advert({ id: 'peer' }), SECRET));
    expect(heard).toEqual(['peer:alive']);
    expect(svc.running).toBe(true);
  });

  it('measures RTT to peers that answer pings and none to peers that do not', async () => {
    const bus = new MemoryBus();
    const a = make(bus, () => advertContent({ id: 'alpha' }), { selfId: 'alpha' });
    const b = make(bus, () => advertContent({ id: 'bravo' }), { selfId: 'bravo' });
    await a.start();
    await b.start();
    // a peer that beats but never answers pings
    bus.publish(heartbeatSubject('mute'), encodeAdvert(advert({ id: 'mute' }), SECRET));
    await waitFor(() => a.view().find((p) => p.id === 'bravo')?.rttMs != null, {
      what: 'alpha to measure bravo',
    });
    expect(a.view().find((p) => p.id === 'mute')?.rttMs).toBeNull();
  });

  it('pings every peer in turn when there are more peers than pings allowed at once', async () => {
    const bus = new MemoryBus();
    const ids = Array.from({ length: 7 }, (_, i) => `peer${i}`);
    const answered = new Map<string, number>();
    for (const id of ids) {
      bus.subscribe(`helix.v1.node.${id}.ping`, (msg) => {
        answered.set(id, (answered.get(id) ?? 0) + 1);
        msg.respond(new Uint8Array());
      });
    }
    const svc = make(bus, () => advertContent({ id: 'self' }), { maxPingsInFlight: 2 });
    await svc.start();
    const beat = (seq: number) => {
      for (const id of ids)
        bus.publish(heartbeatSubject(id), encodeAdvert(advert({ id, seq }), SECRET));
    };
    let seq = 0;
    beat(seq++);
    await waitFor(
      () => {
        beat(seq++); // keep them alive
        return svc.view().filter((p) => !p.self && p.rttMs !== null).length === ids.length;
      },
      { what: 'an RTT for every peer' },
    );
    expect([...answered.keys()].sort()).toEqual(ids);
  });

  it('stops cleanly even when the bus is already closed', async () => {
    const bus = new MemoryBus();
    const svc = make(bus, () => advertContent({ id: 'self' }));
    await svc.start();
    await bus.close();
    await new Promise((r) => setTimeout(r, 50));
    await expect(svc.stop()).resolves.toBeUndefined();
    expect(svc.running).toBe(false);
  });

  it('refuses an id that cannot be a subject token', () => {
    expect(() =>
      make(new MemoryBus(), () => advertContent({ id: 'a.b' }), { selfId: 'a.b' }),
    ).toThrow(/cannot be used in bus subjects/);
  });
});
