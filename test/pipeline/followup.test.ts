/**
 * Follow-ups without the LLM (node/pipeline/followup.ts): the phrases are matched by the real
 * fast matcher and the real phrase grammar beside the shipped agents' phrases, and each resolves
 * deterministically from a room's context into the intent a shipped agent serves.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildPhraseGrammar,
  compileFastMatcher,
  validateIntent,
  type AgentManifest,
  type FastMatcher,
} from '../../node/agentspec/index.js';
import { loadAgents } from '../../node/agents/index.js';
import {
  BRIGHTNESS_STEP,
  FOLLOWUP_AGENT,
  FOLLOWUP_MANIFEST,
  describeContext,
  resolveFollowUp,
  type ConversationContext,
} from '../../node/pipeline/index.js';
import { SHIPPED_DIR } from '../agents/helpers.js';

const ROOMS = { 'lights.rooms': ['kitchen', 'living room', 'bedroom'], 'home.lights': [] };

function context(over: Partial<ConversationContext> = {}): ConversationContext {
  return {
    room: 'living room',
    node: 'id-a',
    name: 'a',
    traceId: 't1',
    transcript: 'turn on the kitchen lights',
    agent: 'lights',
    intent: 'on',
    args: { room: 'kitchen' },
    at: 1000,
    expiresAt: 61_000,
    ...over,
  };
}

const TIMER = context({
  transcript: 'set a timer for ten minutes',
  agent: 'timer',
  intent: 'set',
  args: { minutes: 10 },
  result: { id: 4, label: '', seconds: 600 },
});

let shipped: AgentManifest[] = [];
let fast: FastMatcher;
beforeAll(async () => {
  shipped = (await loadAgents([SHIPPED_DIR])).map((a) => a.manifest);
  fast = compileFastMatcher([...shipped, FOLLOWUP_MANIFEST], ROOMS);
});

/** The sentence through the fast matcher, then resolved against `ctx`. */
function follow(text: string, ctx: ConversationContext | null) {
  const hit = fast.match(text);
  expect(hit?.agent, `"${text}" should match a follow-up phrase`).toBe(FOLLOWUP_AGENT);
  return resolveFollowUp(hit!, ctx);
}

describe('follow-up phrases', () => {
  it.each([
    ['turn them off', 'off'],
    ['turn it off', 'off'],
    ['switch them back on', 'on'],
    ['and the bedroom too', 'also'],
    ['the kitchen too', 'also'],
    ['make it brighter', 'brighter'],
    ['make them dimmer', 'dimmer'],
    ['cancel it', 'cancel'],
    ['stop that', 'cancel'],
    ['add five minutes', 'add'],
    ['add 5 more minutes', 'add'],
    ['five more minutes', 'add'],
  ])('"%s" is a follow-up (%s)', (text, kind) => {
    expect(fast.match(text)).toMatchObject({ agent: FOLLOWUP_AGENT, intent: kind });
  });

  it('leave full commands to their agents', () => {
    expect(fast.match('turn off the kitchen lights')).toMatchObject({ agent: 'lights' });
    expect(fast.match('turn off the lights')).toMatchObject({ agent: 'lights', intent: 'off' });
    expect(fast.match('cancel the timer')).toMatchObject({ agent: 'timer', intent: 'cancel' });
  });

  it('are in the phrase recogniser grammar, interpreted as follow-ups', () => {
    const grammar = buildPhraseGrammar([...shipped, FOLLOWUP_MANIFEST], { slotValues: ROOMS });
    expect(grammar.skipped.filter((s) => s.agent === FOLLOWUP_AGENT)).toEqual([]);
    expect(grammar.interpret('turn them off')).toMatchObject({
      agent: FOLLOWUP_AGENT,
      intent: 'off',
    });
    expect(grammar.interpret('and the bedroom too')).toMatchObject({
      agent: FOLLOWUP_AGENT,
      intent: 'also',
      args: { room: 'bedroom' },
    });
  });
});

describe('resolveFollowUp', () => {
  /** What resolves must be an intent the shipped agent accepts, as the host would check it. */
  function expectValid(r: ReturnType<typeof resolveFollowUp>) {
    expect(r.kind).toBe('intent');
    if (r.kind !== 'intent') return;
    const checked = validateIntent(shipped, r.intent, ROOMS);
    expect(checked.ok, JSON.stringify(checked)).toBe(true);
  }

  it('"turn them off" switches off the lights of the last command', () => {
    const r = follow('turn them off', context());
    expect(r).toMatchObject({
      kind: 'intent',
      intent: { agent: 'lights', intent: 'off', args: { room: 'kitchen' } },
    });
    expectValid(r);
    // one light rather than a room
    expect(
      follow('turn it on', context({ intent: 'off', args: { device: 'desk lamp' } })),
    ).toMatchObject({ intent: { agent: 'lights', intent: 'on', args: { device: 'desk lamp' } } });
  });

  it('"and the bedroom too" repeats the last command for another room', () => {
    const r = follow(
      'and the bedroom too',
      context({ intent: 'dim', args: { room: 'kitchen', level: 30 } }),
    );
    expect(r).toMatchObject({
      kind: 'intent',
      intent: { agent: 'lights', intent: 'dim', args: { room: 'bedroom', level: 30 } },
    });
    expectValid(r);
  });

  it('"make it brighter" and "dimmer" step the level from the last one', () => {
    const dimmed = context({ intent: 'dim', args: { room: 'kitchen', level: 40 } });
    const brighter = follow('make it brighter', dimmed);
    expect(brighter).toMatchObject({
      intent: {
        agent: 'lights',
        intent: 'dim',
        args: { room: 'kitchen', level: 40 + BRIGHTNESS_STEP },
      },
    });
    expectValid(brighter);
    expect(follow('make it dimmer', dimmed)).toMatchObject({
      intent: { args: { level: 40 - BRIGHTNESS_STEP } },
    });
    // after "on" the lights are full: brighter stays at 100, dimmer steps down from it
    expect(follow('make it brighter', context())).toMatchObject({
      intent: { args: { level: 100 } },
    });
    expect(follow('make them dimmer', context())).toMatchObject({
      intent: { args: { level: 75 } },
    });
    // never below the dimmest step, never off
    expect(
      follow('make it dimmer', context({ intent: 'dim', args: { room: 'kitchen', level: 10 } })),
    ).toMatchObject({ intent: { args: { level: 5 } } });
  });

  it('"cancel it" and "add five minutes" act on the timer the last command set, by its id', () => {
    const cancel = follow('cancel it', TIMER);
    expect(cancel).toMatchObject({ intent: { agent: 'timer', intent: 'cancel', args: { id: 4 } } });
    expectValid(cancel);
    const add = follow('add five minutes', TIMER);
    expect(add).toMatchObject({
      intent: { agent: 'timer', intent: 'add', args: { id: 4, minutes: 5 } },
    });
    expectValid(add);
    // a labelled timer without an id in the result: by its label
    expect(
      follow(
        'cancel it',
        context({ ...TIMER, result: undefined, args: { minutes: 3, label: 'tea' } }),
      ),
    ).toMatchObject({ intent: { args: { label: 'tea' } } });
  });

  it('refuses in plain words without a context, or with a context of another kind', () => {
    const none = follow('turn them off', null);
    expect(none).toMatchObject({ kind: 'refused' });
    if (none.kind === 'refused') {
      expect(none.reply).toMatch(/^I don't know which lights you mean\. Say the room/);
      expect(none.explain).toMatch(/voice\.context_ttl_s/);
    }
    expect(follow('add five minutes', context())).toMatchObject({
      kind: 'refused',
      reply: expect.stringMatching(/not a timer/),
      explain: 'a timer follow-up, but the context is lights.on',
    });
    expect(follow('make it brighter', TIMER)).toMatchObject({ kind: 'refused' });
  });

  describe('answers to a question asked instead of acting', () => {
    const asked = (
      text: string,
      choices: { agent: string; intent: string; args: ConversationContext['args'] }[],
    ) => context({ transcript: '', ...choices[0]!, question: { text, choices } });
    const ON_OFF = asked('Did you want the kitchen lights on or off?', [
      { agent: 'lights', intent: 'on', args: { room: 'kitchen' } },
      { agent: 'lights', intent: 'off', args: { room: 'kitchen' } },
    ]);
    const MINUTES = asked('Sorry, was that thirteen or thirty minutes?', [
      { agent: 'timer', intent: 'set', args: { minutes: 13 } },
      { agent: 'timer', intent: 'set', args: { minutes: 30 } },
    ]);

    it.each([
      ['off', 'off'],
      ['on', 'on'],
      ['turn them off', 'off'],
      ['switch it on', 'on'],
    ])('"%s" picks the lights %s', (said, intent) => {
      const r = follow(said, ON_OFF);
      expect(r).toMatchObject({
        kind: 'intent',
        intent: { agent: 'lights', intent, args: { room: 'kitchen' } },
      });
      expectValid(r);
    });

    it.each([
      ['thirteen', 13],
      ['30 minutes', 30],
      ['thirty minutes', 30],
    ])('"%s" picks the timer of %i minutes', (said, minutes) => {
      const r = follow(said, MINUTES);
      expect(r).toMatchObject({ intent: { agent: 'timer', intent: 'set', args: { minutes } } });
      expectValid(r);
    });

    it('asks again for an answer that fits no choice, and for another follow-up', () => {
      for (const [said, ctx] of [
        ['forty', MINUTES],
        ['off', MINUTES],
        ['twelve', ON_OFF],
        ['make it brighter', ON_OFF],
        ['cancel it', MINUTES],
      ] as const) {
        expect(follow(said, ctx), said).toMatchObject({
          kind: 'refused',
          reply: ctx.question!.text,
        });
      }
    });

    it('refuses an answer when no question waits, and never takes it as a command', () => {
      for (const ctx of [null, context(), TIMER]) {
        const r = follow('off', ctx);
        expect(r).toMatchObject({ kind: 'refused', reply: expect.stringMatching(/^Sorry/) });
        if (r.kind === 'refused') expect(r.explain).toMatch(/no question is waiting/);
      }
    });

    it('describes the question for the trace and the LLM', () => {
      expect(describeContext({ context: ON_OFF, from: 'room', ageMs: 2000 })).toBe(
        'asked "Did you want the kitchen lights on or off?" instead of acting (choices: lights.on {"room":"kitchen"} or lights.off {"room":"kitchen"}), 2 s ago in the living room by a',
      );
    });
  });

  it('describes a context in one line (trace and LLM)', () => {
    expect(describeContext({ context: context(), from: 'room', ageMs: 4200 })).toBe(
      'lights.on {"room":"kitchen"} ("turn on the kitchen lights"), 4 s ago in the living room by a',
    );
    expect(describeContext({ context: context(), from: 'mesh', ageMs: 0 })).toMatch(
      /in the living room \(another room: the newest in the mesh\) by a$/,
    );
  });
});
