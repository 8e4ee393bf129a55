/** The trace ring, and traces travelling on helix.v1.trace.<id> between two real nats-servers. */
import { afterAll, describe, expect, it } from 'vitest';
import {
  busTracePublisher,
  collectTraces,
  TraceRecorder,
  TraceStore,
  traceSubject,
  type Trace,
} from '../../node/pipeline/index.js';
import { BusHarness, newSecret } from '../bus/helpers.js';
import { waitFor } from '../support/wait.js';

function trace(id: string, ownerId = 'id-a'): Trace {
  const rec = new TraceRecorder(id, { id: ownerId, name: ownerId.slice(3) }, 'text');
  rec.record('intent', 'a', 0, true, 'fast matcher');
  return rec.finish({ transcript: 'turn on the kitchen lights', reply: 'Done.', ok: true });
}

describe('the trace ring', () => {
  it('keeps only the newest traces', () => {
    const store = new TraceStore(3);
    for (const id of ['t1', 't2', 't3', 't4', 't5']) store.add(trace(id));
    expect(store.list().map((t) => t.traceId)).toEqual(['t5', 't4', 't3']);
    expect(store.get('t1')).toBeUndefined();
    expect(store.size).toBe(3);
  });

  it.each([
    ['a1b2c3d4e5f60718', 'a1b2c3d4e5f60718', true],
    ['a1b2', 'a1b2c3d4e5f60718', true],
    ['a1b', 'a1b2c3d4e5f60718', false],
    ['a1b2c3d4', 'ambiguous', false],
    ['ffff', 'a1b2c3d4e5f60718', false],
  ])('looks up %s -> found %s: %s', (query, _what, found) => {
    const store = new TraceStore();
    store.add(trace('a1b2c3d4e5f60718'));
    if (_what === 'ambiguous') store.add(trace('a1b2c3d4ffff0000'));
    expect(store.get(query) !== undefined).toBe(found);
  });

  it('gives the newest trace, or the newest this node owned', () => {
    const store = new TraceStore();
    store.add(trace('mine1', 'id-a'));
    store.add(trace('theirs', 'id-b'));
    expect(store.last()?.traceId).toBe('theirs');
    expect(store.last('id-a')?.traceId).toBe('mine1');
    expect(new TraceStore().last()).toBeUndefined();
  });

  it('records hops relative to the trace start, with the VAD time before it', () => {
    const rec = new TraceRecorder('x1', { id: 'id-a', name: 'a' }, 'mic', 1500);
    expect(rec.now()).toBeGreaterThanOrEqual(1500);
    const hop = rec.record('stt', 'b', rec.now(), true);
    expect(hop.startMs).toBeGreaterThanOrEqual(1500);
    const t = rec.finish({ reply: 'x', ok: false, failedStage: 'stt' });
    expect(t.totalMs).toBeGreaterThanOrEqual(1500);
    expect(Date.parse(t.startedAt)).toBeLessThanOrEqual(Date.now() - 1500);
  });
});

describe('traces on the bus', () => {
  const harness = new BusHarness();
  afterAll(() => harness.cleanup());

  it("a trace published by one node lands in another node's ring; malformed ones do not", async () => {
    const secret = newSecret();
    const a = await harness.started('127.0.6.11', secret);
    const b = await harness.started('127.0.6.12', secret, [a.cluster]);
    const busA = await harness.bus(a, 'a');
    const busB = await harness.bus(b, 'b');
    const storeB = new TraceStore();
    const sub = collectTraces(busB, storeB, { selfId: 'id-b' });
    try {
      const publish = busTracePublisher(busA);
      const t = trace('0123456789abcdef', 'id-a');
      // routes take a moment to form: publish until it arrives
      await waitFor(
        () => {
          publish(t);
          return storeB.get(t.traceId) !== undefined;
        },
        { timeoutMs: 15_000, intervalMs: 200, what: 'trace to cross the route' },
      );
      expect(storeB.get(t.traceId)).toEqual(t);

      busA.publish(traceSubject('bad0bad0bad0bad0'), new TextEncoder().encode('{"not":"a trace"}'));
      busA.publish(
        traceSubject('cafecafecafecafe'),
        new TextEncoder().encode(JSON.stringify(trace('0000111122223333'))),
      );
      const own = trace('b0b0b0b0b0b0b0b0', 'id-b');
      busA.publish(traceSubject(own.traceId), new TextEncoder().encode(JSON.stringify(own)));
      const marker = trace('ffffeeeeddddcccc', 'id-a');
      publish(marker);
      await waitFor(() => storeB.get(marker.traceId) !== undefined, {
        timeoutMs: 15_000,
        what: 'marker trace',
      });
      expect(storeB.get('bad0bad0bad0bad0')).toBeUndefined();
      // a trace must travel on its own subject
      expect(storeB.get('0000111122223333')).toBeUndefined();
      // the node's own traces are added by its pipeline, not from the bus
      expect(storeB.get(own.traceId)).toBeUndefined();
    } finally {
      sub.unsubscribe();
    }
  });
});
