import { describe, expect, it } from 'vitest';
import {
  buildIntentSchema,
  NO_AGENT,
  resolveSlotValues,
  validateIntent,
  type JsonSchema,
} from '../../node/agentspec/index.js';
import { CONFIG_LIKE, MANIFESTS, SLOT_VALUES } from './fixtures.js';

const schema = buildIntentSchema(MANIFESTS, SLOT_VALUES);
const branches = schema.anyOf as JsonSchema[];
const props = (b: JsonSchema) => b.properties as Record<string, JsonSchema>;
const branchFor = (agent: string, intent: string) =>
  branches.find(
    (b) =>
      (props(b).agent?.enum as string[])[0] === agent &&
      (props(b).intent?.enum as string[])[0] === intent,
  ) as JsonSchema;

describe('intent JSON schema', () => {
  it('has one branch per agent intent, warm and cold, plus "none"', () => {
    const pairs = MANIFESTS.flatMap((m) => m.intents.map((i) => `${m.name}.${i.name}`));
    const got = branches.map(
      (b) => `${(props(b).agent?.enum as string[])[0]}.${(props(b).intent?.enum as string[])[0]}`,
    );
    expect(got).toEqual([...pairs, `${NO_AGENT}.${NO_AGENT}`]);
  });

  it('states enums of all agent and intent names at the top', () => {
    expect(props(schema).agent?.enum).toEqual([...MANIFESTS.map((m) => m.name), NO_AGENT]);
    expect(props(schema).intent?.enum).toEqual([
      ...new Set([...MANIFESTS.flatMap((m) => m.intents.map((i) => i.name)), NO_AGENT]),
    ]);
    expect(schema.required).toEqual(['agent', 'intent', 'args', 'confidence']);
  });

  it('requires every field of every branch and allows no others', () => {
    for (const b of branches) {
      expect(b.type).toBe('object');
      expect(b.required).toEqual(['agent', 'intent', 'args', 'confidence']);
      expect(b.additionalProperties).toBe(false);
      expect(props(b).confidence).toEqual({ type: 'number', minimum: 0, maximum: 1 });
      expect(props(b).args?.additionalProperties).toBe(false);
    }
  });

  it('gives each argument its type, enum, bounds and length', () => {
    const bright = props(branchFor('lights', 'set_brightness')).args as JsonSchema;
    expect(bright.properties).toEqual({
      room: { type: 'string', enum: ['kitchen', 'living room', 'bedroom'] },
      level: { type: 'integer', minimum: 0, maximum: 100 },
    });
    expect(bright.required).toEqual(['room', 'level']);
    const echo = props(branchFor('echo', 'say')).args as JsonSchema;
    expect(echo.properties).toEqual({ text: { type: 'string', minLength: 1, maxLength: 100 } });
    const fan = props(branchFor('fan', 'power')).args as JsonSchema;
    expect(fan.properties).toEqual({
      on: { type: 'boolean' },
      speed: { type: 'string', enum: ['low', 'medium', 'high'] },
    });
    expect(fan.required).toEqual([]);
  });

  it('is plain JSON (Ollama receives it as the request body)', () => {
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });
});

describe('resolveSlotValues', () => {
  it.each([
    ['table keys', CONFIG_LIKE, ['kitchen', 'living room', 'bedroom']],
    ['list of strings', { lights: { rooms: ['hall', 'attic'] } }, ['hall', 'attic']],
    ['missing section', {}, []],
    ['missing key', { lights: {} }, []],
    ['not a table', { lights: { rooms: 'kitchen' } }, []],
  ])('%s', (_name, config, rooms) => {
    expect(resolveSlotValues(MANIFESTS, config)).toEqual({ 'lights.rooms': rooms });
  });
});

describe('validateIntent', () => {
  const ok = (agent: string, intent: string, args: Record<string, unknown>, confidence = 0.9) => ({
    agent,
    intent,
    args,
    confidence,
  });

  it.each([
    ['a valid answer', ok('lights', 'turn_on', { room: 'kitchen' }), { room: 'kitchen' }],
    [
      'enum value in another case and spacing',
      ok('lights', 'turn_on', { room: 'Living-Room' }),
      { room: 'living room' },
    ],
    [
      'integer given as a numeric string',
      ok('lights', 'set_brightness', { room: 'kitchen', level: '40' }),
      { room: 'kitchen', level: 40 },
    ],
    ['optional argument left out', ok('timer', 'start', { minutes: 3 }), { minutes: 3 }],
    ['optional argument null', ok('timer', 'start', { minutes: 3, label: null }), { minutes: 3 }],
    [
      'args null for an intent without args',
      { agent: 'timer', intent: 'cancel', args: null, confidence: 1 },
      {},
    ],
    [
      'args missing for an intent without args',
      { agent: 'mesh', intent: 'status', confidence: 1 },
      {},
    ],
    ['boolean', ok('fan', 'power', { on: false }), { on: false }],
    ['free text trimmed', ok('echo', 'say', { text: '  hi there ' }), { text: 'hi there' }],
    ['a cold agent', ok('research', 'ask', { topic: 'tides' }), { topic: 'tides' }],
  ])('accepts %s', (_name, raw, args) => {
    const r = validateIntent(MANIFESTS, raw, SLOT_VALUES);
    expect(r).toEqual({ ok: true, intent: { ...(raw as object), args } });
  });

  it.each([
    ['not an object', 'turn on the lights', 'not a JSON object'],
    ['a list', [], 'not a JSON object'],
    ['unknown agent', ok('garage', 'open', {}), 'unknown agent "garage"'],
    ['no agent fits', ok(NO_AGENT, NO_AGENT, {}, 0), 'no installed agent'],
    ['unknown intent', ok('lights', 'explode', {}), 'agent lights has no intent "explode"'],
    [
      'unknown argument',
      ok('lights', 'turn_on', { room: 'kitchen', colour: 'red' }),
      'unknown argument "colour"',
    ],
    ['missing required argument', ok('lights', 'turn_on', {}), '"room" is required'],
    [
      'room not configured',
      ok('lights', 'turn_on', { room: 'garage' }),
      '"room" must be one of kitchen, living room, bedroom, not "garage"',
    ],
    [
      'integer out of range',
      ok('lights', 'set_brightness', { room: 'kitchen', level: 101 }),
      '"level" must be at most 100',
    ],
    ['integer below range', ok('timer', 'start', { minutes: 0 }), '"minutes" must be at least 1'],
    ['fraction for an integer', ok('timer', 'start', { minutes: 2.5 }), 'must be a whole number'],
    ['text for a number', ok('timer', 'start', { minutes: 'five' }), 'must be a number'],
    ['number for text', ok('echo', 'say', { text: 5 }), 'must be text'],
    ['empty text', ok('echo', 'say', { text: '  ' }), '"text" is required'],
    ['text too long', ok('echo', 'say', { text: 'x'.repeat(101) }), 'longer than 100'],
    ['text for a boolean', ok('fan', 'power', { on: 'yes please' }), 'must be true or false'],
    [
      'args not an object',
      ok('fan', 'power', ['on'] as unknown as Record<string, unknown>),
      'args must be an object',
    ],
    [
      'confidence above 1',
      ok('mesh', 'status', {}, 1.5),
      'confidence must be a number from 0 to 1',
    ],
    ['confidence missing', { agent: 'mesh', intent: 'status', args: {} }, 'confidence must be'],
    ['agent not text', { agent: 3, intent: 'x', args: {}, confidence: 1 }, 'agent must be text'],
  ])('refuses %s', (_name, raw, reason) => {
    const r = validateIntent(MANIFESTS, raw, SLOT_VALUES);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.reason).toContain(reason);
  });

  it('refuses every enum_from value when none is configured, saying where to add them', () => {
    const r = validateIntent(MANIFESTS, ok('lights', 'turn_on', { room: 'kitchen' }), {});
    expect(r.ok ? '' : r.reason).toContain('lights.rooms is empty');
  });
});
