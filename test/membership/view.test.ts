import { describe, expect, it } from 'vitest';
import {
  MembershipView,
  type MembershipTiming,
  type Transition,
} from '../../node/membership/index.js';
import { PROTOCOL_VERSION, type PeerState } from '../../node/types.js';
import { MESH_ID, advert } from './support/advert.js';

const DEFAULT_TIMING: MembershipTiming = {
  heartbeat_ms: 1000,
  suspect_after_ms: 3000,
  dead_after_ms: 10_000,
  forget_after_ms: 60_000,
};

type Step =
  | { at: number; advert: string; seq?: number; startedAt?: number; name?: string }
  | { at: number; bye: string; byeAt?: number }
  | { at: number; tick: true }
  /** this node stood still for `ms` before `at` */
  | { at: number; excuse: number };

interface Case {
  name: string;
  timing?: Partial<MembershipTiming>;
  steps: Step[];
  /** final state per peer id; undefined = not in the view */
  states: Record<string, PeerState | undefined>;
  /** every transition, as "id:from->to(reason)" */
  transitions: string[];
}

const cases: Case[] = [
  {
    name: 'a first advert makes a node alive',
    steps: [{ at: 0, advert: 'a' }],
    states: { a: 'alive' },
    transitions: ['a:new->alive(advert)'],
  },
  {
    name: 'a peer that keeps beating stays alive',
    steps: [
      { at: 0, advert: 'a', seq: 0 },
      { at: 1000, advert: 'a', seq: 1 },
      { at: 2000, advert: 'a', seq: 2 },
      { at: 3000, advert: 'a', seq: 3 },
      { at: 5500, tick: true },
    ],
    states: { a: 'alive' },
    transitions: ['a:new->alive(advert)'],
  },
  {
    name: 'a peer silent just under 3 s is still alive',
    steps: [
      { at: 0, advert: 'a' },
      { at: 2999, tick: true },
    ],
    states: { a: 'alive' },
    transitions: ['a:new->alive(advert)'],
  },
  {
    name: 'marks a peer silent for 3 s suspect',
    steps: [
      { at: 0, advert: 'a' },
      { at: 3000, tick: true },
    ],
    states: { a: 'suspect' },
    transitions: ['a:new->alive(advert)', 'a:alive->suspect(silence)'],
  },
  {
    name: 'marks a peer silent for 10 s dead after suspect',
    steps: [
      { at: 0, advert: 'a' },
      { at: 3000, tick: true },
      { at: 9999, tick: true },
      { at: 10_000, tick: true },
    ],
    states: { a: 'dead' },
    transitions: ['a:new->alive(advert)', 'a:alive->suspect(silence)', 'a:suspect->dead(silence)'],
  },
  {
    name: 'a tick long after the last advert goes straight from alive to dead',
    steps: [
      { at: 0, advert: 'a' },
      { at: 12_000, tick: true },
    ],
    states: { a: 'dead' },
    transitions: ['a:new->alive(advert)', 'a:alive->dead(silence)'],
  },
  {
    name: 'uses configured timings (suspect 300 ms, dead 1 s)',
    timing: { suspect_after_ms: 300, dead_after_ms: 1000 },
    steps: [
      { at: 0, advert: 'a' },
      { at: 299, tick: true },
      { at: 300, tick: true },
      { at: 1000, tick: true },
    ],
    states: { a: 'dead' },
    transitions: ['a:new->alive(advert)', 'a:alive->suspect(silence)', 'a:suspect->dead(silence)'],
  },
  {
    name: 'forgets a dead peer forget_after_ms after it died',
    timing: { forget_after_ms: 5000 },
    steps: [
      { at: 0, advert: 'a' },
      { at: 10_000, tick: true },
      { at: 14_999, tick: true },
      { at: 15_000, tick: true },
    ],
    states: { a: undefined },
    transitions: ['a:new->alive(advert)', 'a:alive->dead(silence)', 'a:dead->forgotten(silence)'],
  },
  {
    name: 'a bye makes a peer left at once',
    steps: [
      { at: 0, advert: 'a' },
      { at: 500, bye: 'a', byeAt: 1500 },
    ],
    states: { a: 'left' },
    transitions: ['a:new->alive(advert)', 'a:alive->left(bye)'],
  },
  {
    name: 'a left peer stays left through silence until forgotten',
    timing: { forget_after_ms: 20_000 },
    steps: [
      { at: 0, advert: 'a' },
      { at: 500, bye: 'a', byeAt: 1500 },
      { at: 15_000, tick: true },
      { at: 20_499, tick: true },
      { at: 20_500, tick: true },
    ],
    states: { a: undefined },
    transitions: ['a:new->alive(advert)', 'a:alive->left(bye)', 'a:left->forgotten(silence)'],
  },
  {
    name: 'a bye from a suspect peer makes it left',
    steps: [
      { at: 0, advert: 'a' },
      { at: 3000, tick: true },
      { at: 3100, bye: 'a', byeAt: 4000 },
    ],
    states: { a: 'left' },
    transitions: ['a:new->alive(advert)', 'a:alive->suspect(silence)', 'a:suspect->left(bye)'],
  },
  {
    name: 'a bye from an unknown node changes nothing',
    steps: [{ at: 0, bye: 'ghost', byeAt: 5000 }],
    states: { ghost: undefined },
    transitions: [],
  },
  {
    name: 'a second bye is not a second transition',
    steps: [
      { at: 0, advert: 'a' },
      { at: 100, bye: 'a', byeAt: 1500 },
      { at: 200, bye: 'a', byeAt: 1600 },
    ],
    states: { a: 'left' },
    transitions: ['a:new->alive(advert)', 'a:alive->left(bye)'],
  },
  {
    name: 'a bye sent before the current incarnation started is ignored',
    steps: [
      { at: 0, advert: 'a', startedAt: 2000 },
      { at: 100, bye: 'a', byeAt: 1999 },
    ],
    states: { a: 'alive' },
    transitions: ['a:new->alive(advert)'],
  },
  {
    name: 'revives a suspect peer on its next advert',
    steps: [
      { at: 0, advert: 'a', seq: 0 },
      { at: 3000, tick: true },
      { at: 3500, advert: 'a', seq: 1 },
    ],
    states: { a: 'alive' },
    transitions: ['a:new->alive(advert)', 'a:alive->suspect(silence)', 'a:suspect->alive(advert)'],
  },
  {
    name: 'revives a dead peer on its next advert',
    steps: [
      { at: 0, advert: 'a', seq: 0 },
      { at: 10_000, tick: true },
      { at: 11_000, advert: 'a', seq: 11 },
    ],
    states: { a: 'alive' },
    transitions: ['a:new->alive(advert)', 'a:alive->dead(silence)', 'a:dead->alive(advert)'],
  },
  {
    name: 'revives a left peer that beats again',
    steps: [
      { at: 0, advert: 'a', seq: 0 },
      { at: 100, bye: 'a', byeAt: 1100 },
      { at: 200, advert: 'a', seq: 1 },
    ],
    states: { a: 'alive' },
    transitions: ['a:new->alive(advert)', 'a:alive->left(bye)', 'a:left->alive(advert)'],
  },
  {
    name: 'a restarted node (same id, later startedAt) is alive again',
    steps: [
      { at: 0, advert: 'a', seq: 40, startedAt: 1000 },
      { at: 100, bye: 'a', byeAt: 1100 },
      { at: 200, advert: 'a', seq: 0, startedAt: 2000 },
    ],
    states: { a: 'alive' },
    transitions: ['a:new->alive(advert)', 'a:alive->left(bye)', 'a:left->alive(restart)'],
  },
  {
    name: 'a node restarted while alive is reported as a restart',
    steps: [
      { at: 0, advert: 'a', seq: 40, startedAt: 1000 },
      { at: 100, advert: 'a', seq: 0, startedAt: 2000 },
    ],
    states: { a: 'alive' },
    transitions: ['a:new->alive(advert)', 'a:alive->alive(restart)'],
  },
  {
    name: 'a dead node back with an earlier startedAt (clock corrected) is a restart',
    steps: [
      { at: 0, advert: 'a', seq: 5, startedAt: 9000 },
      { at: 10_000, tick: true },
      { at: 10_100, advert: 'a', seq: 0, startedAt: 3000 },
    ],
    states: { a: 'alive' },
    transitions: ['a:new->alive(advert)', 'a:alive->dead(silence)', 'a:dead->alive(restart)'],
  },
  {
    name: 'an advert from an earlier incarnation of a live node is ignored',
    steps: [
      { at: 0, advert: 'a', seq: 0, startedAt: 2000 },
      { at: 2500, advert: 'a', seq: 99, startedAt: 1000 },
      { at: 3000, tick: true },
    ],
    states: { a: 'suspect' },
    transitions: ['a:new->alive(advert)', 'a:alive->suspect(silence)'],
  },
  {
    name: 'a repeated or older seq does not count as a sign of life',
    steps: [
      { at: 0, advert: 'a', seq: 5 },
      { at: 2000, advert: 'a', seq: 5 },
      { at: 2500, advert: 'a', seq: 3 },
      { at: 3000, tick: true },
    ],
    states: { a: 'suspect' },
    transitions: ['a:new->alive(advert)', 'a:alive->suspect(silence)'],
  },
  {
    name: 'a stale advert does not revive a suspect peer',
    steps: [
      { at: 0, advert: 'a', seq: 5 },
      { at: 3000, tick: true },
      { at: 3100, advert: 'a', seq: 4 },
    ],
    states: { a: 'suspect' },
    transitions: ['a:new->alive(advert)', 'a:alive->suspect(silence)'],
  },
  {
    name: 'peers are tracked independently',
    steps: [
      { at: 0, advert: 'a' },
      { at: 2000, advert: 'b' },
      { at: 2000, bye: 'c', byeAt: 9 },
      { at: 3000, tick: true },
    ],
    states: { a: 'suspect', b: 'alive', c: undefined },
    transitions: ['a:new->alive(advert)', 'b:new->alive(advert)', 'a:alive->suspect(silence)'],
  },
  {
    name: 'this node never goes suspect and ignores byes naming it',
    steps: [
      { at: 0, advert: 'self' },
      { at: 100, bye: 'self', byeAt: 5000 },
      { at: 50_000, tick: true },
    ],
    states: { self: 'alive' },
    transitions: [],
  },
  {
    name: 'a node that stood still 12 s blames no peer for it (no alive -> dead -> alive on resume)',
    steps: [
      { at: 0, advert: 'a', seq: 0 },
      { at: 500, advert: 'b', seq: 0 },
      // stopped from 750 to 12 750; the first tick after it comes late
      { at: 12_750, excuse: 11_750 },
      { at: 12_750, tick: true },
      { at: 12_760, advert: 'a', seq: 12 },
      { at: 12_770, advert: 'b', seq: 12 },
      { at: 13_000, tick: true },
    ],
    states: { a: 'alive', b: 'alive' },
    transitions: ['a:new->alive(advert)', 'b:new->alive(advert)'],
  },
  {
    name: 'a peer that stays silent after this node resumes goes suspect and dead on its own time',
    steps: [
      { at: 0, advert: 'a', seq: 0 },
      { at: 12_000, excuse: 11_750 },
      { at: 12_000, tick: true },
      { at: 14_000, tick: true },
      { at: 15_000, tick: true },
      { at: 22_000, tick: true },
    ],
    states: { a: 'dead' },
    transitions: ['a:new->alive(advert)', 'a:alive->suspect(silence)', 'a:suspect->dead(silence)'],
  },
  {
    name: 'excused time does not revive a dead peer',
    steps: [
      { at: 0, advert: 'a', seq: 0 },
      { at: 10_000, tick: true },
      { at: 30_000, excuse: 19_750 },
      { at: 30_000, tick: true },
    ],
    states: { a: 'dead' },
    transitions: ['a:new->alive(advert)', 'a:alive->dead(silence)'],
  },
];

function run(c: Case): { view: MembershipView; transitions: Transition[] } {
  const view = new MembershipView({ selfId: 'self', timing: { ...DEFAULT_TIMING, ...c.timing } });
  const transitions: Transition[] = [];
  view.onTransition((t) => transitions.push(t));
  for (const step of c.steps) {
    if ('advert' in step) {
      view.observeAdvert(
        advert({
          id: step.advert,
          name: step.name ?? step.advert,
          seq: step.seq ?? 0,
          startedAt: step.startedAt ?? 1000,
        }),
        step.at,
      );
    } else if ('bye' in step) {
      view.observeBye(
        { v: PROTOCOL_VERSION, meshId: MESH_ID, id: step.bye, at: step.byeAt ?? step.at },
        step.at,
      );
    } else if ('excuse' in step) {
      view.excuseSilence(step.excuse);
    } else {
      view.tick(step.at);
    }
  }
  return { view, transitions };
}

describe('MembershipView state machine', () => {
  it.each(cases)('$name', (c) => {
    const { view, transitions } = run(c);
    for (const [id, state] of Object.entries(c.states)) {
      expect(view.stateOf(id), `state of ${id}`).toBe(state);
      expect(view.snapshot().find((p) => p.id === id)?.state).toBe(state);
    }
    expect(transitions.map((t) => `${t.id}:${t.from}->${t.to}(${t.reason})`)).toEqual(
      c.transitions,
    );
  });
});

describe('MembershipView data', () => {
  const timing = DEFAULT_TIMING;

  it('tick returns the transitions it made, the same ones listeners get', () => {
    const view = new MembershipView({ selfId: 'self', timing });
    const heard: Transition[] = [];
    view.onTransition((t) => heard.push(t));
    view.observeAdvert(advert({ id: 'a' }), 0);
    view.observeAdvert(advert({ id: 'b' }), 0);
    heard.length = 0;
    const returned = view.tick(3000);
    expect(returned.map((t) => t.id).sort()).toEqual(['a', 'b']);
    expect(heard).toEqual(returned);
    expect(view.tick(3001)).toEqual([]);
  });

  it('lists this node first, then peers by name, then id', () => {
    const view = new MembershipView({ selfId: 'self', timing });
    view.observeAdvert(advert({ id: 'p3', name: 'pi-kitchen' }), 0);
    view.observeAdvert(advert({ id: 'p2', name: 'desk' }), 0);
    view.observeAdvert(advert({ id: 'self', name: 'zz-me' }), 0);
    view.observeAdvert(advert({ id: 'p1', name: 'laptop' }), 0);
    view.observeAdvert(advert({ id: 'p0', name: 'desk' }), 0);
    const snapshot = view.snapshot();
    expect(snapshot.map((p) => p.id)).toEqual(['self', 'p0', 'p2', 'p1', 'p3']);
    expect(snapshot.map((p) => p.self)).toEqual([true, false, false, false, false]);
  });

  it('shows the latest advert data of a peer', () => {
    const view = new MembershipView({ selfId: 'self', timing });
    view.observeAdvert(advert({ id: 'a', seq: 1, addresses: ['100.64.0.9'] }), 10);
    const newer = advert({ id: 'a', seq: 2, addresses: ['100.64.0.10'], version: '0.2.0' });
    newer.load.runningAgents = 3;
    view.observeAdvert(newer, 20);
    const [peer] = view.snapshot();
    expect(peer).toMatchObject({
      id: 'a',
      addresses: ['100.64.0.10'],
      version: '0.2.0',
      lastSeenMs: 20,
      load: { runningAgents: 3 },
    });
  });

  it('keeps data from a stale advert out of the view', () => {
    const view = new MembershipView({ selfId: 'self', timing });
    expect(view.observeAdvert(advert({ id: 'a', seq: 2, version: '2' }), 10)).toBe('joined');
    expect(view.observeAdvert(advert({ id: 'a', seq: 1, version: '1' }), 20)).toBe('stale');
    expect(view.snapshot()[0]).toMatchObject({ version: '2', lastSeenMs: 10 });
  });

  it('smooths RTT samples and starts from the first one', () => {
    const view = new MembershipView({ selfId: 'self', timing });
    view.observeAdvert(advert({ id: 'a' }), 0);
    expect(view.snapshot()[0]?.rttMs).toBeNull();
    view.recordRtt('a', 8);
    expect(view.snapshot()[0]?.rttMs).toBe(8);
    view.recordRtt('a', 16);
    expect(view.snapshot()[0]?.rttMs).toBe(10);
  });

  it.each([
    { name: 'unknown peer', id: 'nobody', ms: 5 },
    { name: 'negative sample', id: 'a', ms: -1 },
    { name: 'NaN sample', id: 'a', ms: Number.NaN },
    { name: 'infinite sample', id: 'a', ms: Number.POSITIVE_INFINITY },
  ])('ignores an RTT sample for $name', ({ id, ms }) => {
    const view = new MembershipView({ selfId: 'self', timing });
    view.observeAdvert(advert({ id: 'a' }), 0);
    view.recordRtt(id, ms);
    expect(view.snapshot().map((p) => p.rttMs)).toEqual([null]);
  });

  it('a restarted node starts with fresh data and no RTT', () => {
    const view = new MembershipView({ selfId: 'self', timing });
    view.observeAdvert(advert({ id: 'a', startedAt: 1000, seq: 9, version: 'old' }), 0);
    view.recordRtt('a', 4);
    expect(
      view.observeAdvert(advert({ id: 'a', startedAt: 5000, seq: 0, version: 'new' }), 100),
    ).toBe('restarted');
    expect(view.snapshot()[0]).toMatchObject({ version: 'new', rttMs: null, state: 'alive' });
    // the new incarnation's seq 1 is accepted although below the old seq 9
    expect(view.observeAdvert(advert({ id: 'a', startedAt: 5000, seq: 1 }), 200)).toBe('updated');
  });

  it('drops the RTT of a dead or left peer and refuses new samples for it', () => {
    const view = new MembershipView({ selfId: 'self', timing });
    view.observeAdvert(advert({ id: 'a' }), 0);
    view.observeAdvert(advert({ id: 'b' }), 0);
    view.recordRtt('a', 4);
    view.recordRtt('b', 4);
    view.tick(10_000);
    view.observeBye({ v: PROTOCOL_VERSION, meshId: MESH_ID, id: 'b', at: 5000 }, 10_000);
    view.recordRtt('a', 4);
    view.recordRtt('b', 4);
    expect(view.snapshot().map((p) => [p.state, p.rttMs])).toEqual([
      ['dead', null],
      ['left', null],
    ]);
  });

  it('this node reports itself alive with RTT 0', () => {
    const view = new MembershipView({ selfId: 'self', timing });
    expect(view.snapshot()).toEqual([]);
    expect(view.observeAdvert(advert({ id: 'self', seq: 0 }), 0)).toBe('self');
    expect(view.snapshot()[0]).toMatchObject({ id: 'self', self: true, state: 'alive', rttMs: 0 });
  });

  it('an unsubscribed listener hears nothing more', () => {
    const view = new MembershipView({ selfId: 'self', timing });
    const heard: string[] = [];
    const off = view.onTransition((t) => heard.push(t.id));
    view.observeAdvert(advert({ id: 'a' }), 0);
    off();
    view.observeAdvert(advert({ id: 'b' }), 0);
    expect(heard).toEqual(['a']);
  });

  it('a snapshot is a copy the caller may change', () => {
    const view = new MembershipView({ selfId: 'self', timing });
    view.observeAdvert(advert({ id: 'a', addresses: ['100.64.0.1'] }), 0);
    const [peer] = view.snapshot();
    peer?.addresses.push('10.0.0.1');
    if (peer) peer.load.runningAgents = 7;
    expect(view.snapshot()[0]).toMatchObject({
      addresses: ['100.64.0.1'],
      load: { runningAgents: 0 },
    });
  });
});
