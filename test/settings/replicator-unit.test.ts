/**
 * The replicator's protocol over an in-memory bus (a plain object that delivers every publish to
 * every matching subscriber at once): what is sent when, without servers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bus, BusMessage } from '../../node/bus/index.js';
import { silentLogger } from '../../node/log.js';
import {
  DELTA_SUBJECT,
  DIGEST_SUBJECT,
  SettingsCodec,
  SettingsService,
  stateSubject,
} from '../../node/settings/index.js';

const SECRET = new Uint8Array(32).fill(3);
const MESH = 'mesh-unit';

class MemoryBus implements Bus {
  readonly sent: { subject: string; data: Uint8Array }[] = [];
  readonly subs = new Set<{ subject: string; on: (m: BusMessage) => void }>();
  connected = true;
  publish(subject: string, data: Uint8Array): void {
    this.sent.push({ subject, data });
    if (!this.connected) return;
    for (const s of [...this.subs]) {
      if (s.subject === subject) s.on({ subject, data, respond: () => undefined });
    }
  }
  subscribe(subject: string, on: (m: BusMessage) => void) {
    const s = { subject, on };
    this.subs.add(s);
    return { unsubscribe: () => void this.subs.delete(s) };
  }
  request(): Promise<Uint8Array> {
    return Promise.reject(new Error('not used'));
  }
  flush = () => Promise.resolve();
  close = () => Promise.resolve();
  count(subject: string): number {
    return this.sent.filter((m) => m.subject === subject).length;
  }
}

let dirs: string[] = [];
const services: SettingsService[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  dirs = [];
});

async function node(bus: Bus, id: string): Promise<SettingsService> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'helix-settings-unit-'));
  dirs.push(stateDir);
  const s = new SettingsService({
    stateDir,
    selfId: id,
    meshId: MESH,
    secret: SECRET,
    bus,
    logger: silentLogger,
    digestIntervalMs: 60_000, // digests only when the test says
  });
  services.push(s);
  await s.start();
  return s;
}

describe('settings replicator (in-memory bus)', () => {
  it('publishes one delta per local write and none for a merged one', async () => {
    const bus = new MemoryBus();
    const a = await node(bus, 'a');
    const b = await node(bus, 'b');
    a.store.set('lights.backend', 'both');
    expect(bus.count(DELTA_SUBJECT)).toBe(1);
    expect(b.store.get('lights.backend')).toBe('both');
    expect(b.replicator.stats().deltasSent).toBe(0);
  });

  it('a node that was cut off catches up from the first digest it hears, both ways', async () => {
    const bus = new MemoryBus();
    const a = await node(bus, 'a');
    const b = await node(bus, 'b');
    bus.connected = false;
    a.store.set('rooms.kitchen', { lights: ['k'] });
    b.store.set('rooms.study', { lights: ['s'] });
    bus.connected = true;
    b.replicator.announceDigest(); // publishes b's digest: a answers with its state
    expect(bus.count(stateSubject('b'))).toBe(1);
    expect(b.store.get('rooms.kitchen')).toEqual({ lights: ['k'] });
    a.replicator.announceDigest(); // a's digest now differs from b's: b answers
    expect(a.store.get('rooms.study')).toEqual({ lights: ['s'] });
    const before = bus.sent.length;
    a.replicator.announceDigest(); // equal now: a digest, no answer
    expect(bus.sent.slice(before).map((m) => m.subject)).toEqual([DIGEST_SUBJECT]);
  });

  it('answers one asker at most once per gap, however many digests it sends', async () => {
    const bus = new MemoryBus();
    const a = await node(bus, 'a');
    a.store.set('lights.backend', 'both');
    const codec = new SettingsCodec({ meshId: MESH, secret: SECRET });
    const digest = codec.encode({
      v: 1,
      meshId: MESH,
      from: 'x',
      kind: 'digest',
      digest: '00',
      count: 0,
    });
    for (let i = 0; i < 5; i++) bus.publish(DIGEST_SUBJECT, digest);
    expect(bus.count(stateSubject('x'))).toBe(1);
  });

  it('counts a state meant for another node as wrong-subject and ignores it', async () => {
    const bus = new MemoryBus();
    const a = await node(bus, 'a');
    const codec = new SettingsCodec({ meshId: MESH, secret: SECRET });
    const hlc = { wall: Date.now() + 1e6, logical: 0, node: 'x' };
    bus.publish(
      stateSubject('a'),
      codec.encode({
        v: 1,
        meshId: MESH,
        from: 'x',
        kind: 'state',
        to: 'someone-else',
        part: 0,
        parts: 1,
        entries: [{ key: 'lights.backend', value: 'both', hlc }],
      }),
    );
    expect(a.replicator.drops()['wrong-subject']).toBe(1);
    expect(a.store.get('lights.backend')).toBeUndefined();
  });

  it('stops listening on stop and can start again', async () => {
    const bus = new MemoryBus();
    const a = await node(bus, 'a');
    await a.stop();
    expect(bus.subs.size).toBe(0);
    await a.start();
    expect(bus.subs.size).toBe(3);
  });
});
