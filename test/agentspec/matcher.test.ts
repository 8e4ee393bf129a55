import { describe, expect, it } from 'vitest';
import {
  ManifestSchema,
  compileFastMatcher,
  GrammarError,
  samplePhrases,
} from '../../node/agentspec/index.js';
import { MANIFESTS, SLOT_VALUES } from './fixtures.js';

const matcher = compileFastMatcher(MANIFESTS, SLOT_VALUES);

describe('fast matcher', () => {
  it.each([
    ['turn on the kitchen lights', 'lights', 'turn_on', { room: 'kitchen' }],
    ['Turn ON the Kitchen lights.', 'lights', 'turn_on', { room: 'kitchen' }],
    ['turn on kitchen lights', 'lights', 'turn_on', { room: 'kitchen' }],
    ['turn the living room lights on', 'lights', 'turn_on', { room: 'living room' }],
    ['Turn the living-room lights on!', 'lights', 'turn_on', { room: 'living room' }],
    ['please turn off the bedroom lights', 'lights', 'turn_off', { room: 'bedroom' }],
    ['could you turn off the bedroom lights please', 'lights', 'turn_off', { room: 'bedroom' }],
    ['switch on the kitchen light', 'lights', 'turn_on', { room: 'kitchen' }],
    ['switch off the living room lights', 'lights', 'turn_off', { room: 'living room' }],
    [
      'set the kitchen lights to fifty percent',
      'lights',
      'set_brightness',
      { room: 'kitchen', level: 50 },
    ],
    [
      'dim the living room lights to 20%',
      'lights',
      'set_brightness',
      { room: 'living room', level: 20 },
    ],
    [
      'set the kitchen lights to twenty-five',
      'lights',
      'set_brightness',
      { room: 'kitchen', level: 25 },
    ],
    [
      'set the bedroom lights to zero percent',
      'lights',
      'set_brightness',
      { room: 'bedroom', level: 0 },
    ],
    ['set a timer for five minutes', 'timer', 'start', { minutes: 5 }],
    ['Set a timer for 1 minute.', 'timer', 'start', { minutes: 1 }],
    ['set a timer for one hundred and twenty minutes', 'timer', 'start', { minutes: 120 }],
    ['set a timer for ninety nine minutes', 'timer', 'start', { minutes: 99 }],
    [
      'remind me in ten minutes to check the oven',
      'timer',
      'start',
      { minutes: 10, label: 'check the oven' },
    ],
    ['remind me in 10 minutes', 'timer', 'start', { minutes: 10 }],
    ['cancel the timer', 'timer', 'cancel', {}],
    ['stop timer', 'timer', 'cancel', {}],
    ['echo Hello, World!', 'echo', 'say', { text: 'Hello, World!' }],
    [
      'repeat after me turn on the kitchen lights',
      'echo',
      'say',
      { text: 'turn on the kitchen lights' },
    ],
    ['turn the fan on', 'fan', 'power', { on: true }],
    ['turn the fan off', 'fan', 'power', { on: false }],
    ['set fan speed to high', 'fan', 'power', { speed: 'high' }],
    ["What's the mesh status?", 'mesh', 'status', {}],
    ['how many nodes are online', 'mesh', 'status', {}],
    // a cold agent's free-text phrase: a Whisper transcript reaches it without the LLM
    ['look up the weather in Paris', 'research', 'ask', { topic: 'the weather in Paris' }],
    [
      'can you look up the weather in Paris please',
      'research',
      'ask',
      { topic: 'the weather in Paris' },
    ],
  ])('%s -> %s.%s', (text, agent, intent, args) => {
    const hit = matcher.match(text);
    expect(hit).not.toBeNull();
    expect(hit).toMatchObject({ agent, intent, confidence: 1 });
    expect(hit?.args).toEqual(args);
  });

  it.each([
    ['turn on the kitchen', 'no "lights"'],
    ['turn on the garage lights', 'unknown room'],
    ['turn on the kitchen lights now', 'trailing word'],
    ['turn kitchen on lights', 'words out of order'],
    ['turn on the the kitchen lights', 'doubled "the"'],
    ['set the kitchen lights to 150 percent', 'above max 100'],
    ['set the kitchen lights to minus five percent', 'below min 0'],
    ['set a timer for 2.5 minutes', 'not a whole number'],
    ['set a timer for zero minutes', 'below min 1'],
    ['set a timer for some minutes', 'no number'],
    ['set fan speed to turbo', 'not in enum'],
    ['echo', 'free-text slot needs a word'],
    [
      'echo this sentence is far too long for the echo agent because its text argument is limited to one hundred characters',
      'max_length',
    ],
    ['lights', 'fragment'],
    ['', 'empty'],
    ['   ...  ', 'punctuation only'],
    ['please', 'filler only'],
  ])('does not match %j (%s)', (text) => {
    expect(matcher.match(text)).toBeNull();
  });

  it("uses every agent's phrases, warm and cold", () => {
    const phrases = MANIFESTS.flatMap((m) => m.intents.flatMap((i) => i.phrases)).length;
    expect(matcher.phraseCount).toBe(phrases);
  });

  it('reports the phrase that matched', () => {
    expect(matcher.match('turn the kitchen lights off')?.phrase).toBe('turn the {room} lights off');
  });

  it('matches no enum_from phrase when the values are not configured', () => {
    const bare = compileFastMatcher(MANIFESTS, {});
    expect(bare.match('turn on the kitchen lights')).toBeNull();
    expect(bare.match('cancel the timer')).toMatchObject({ agent: 'timer', intent: 'cancel' });
  });

  it('prefers the longest room name', () => {
    const m = compileFastMatcher(MANIFESTS, { 'lights.rooms': ['living', 'living room'] });
    expect(m.match('turn on the living room lights')?.args).toEqual({ room: 'living room' });
    expect(m.match('turn on the living lights')?.args).toEqual({ room: 'living' });
  });

  it('maps every sentence its grammars generate back to the same intent and args', () => {
    const samples = [
      ...samplePhrases(MANIFESTS, SLOT_VALUES),
      ...samplePhrases(MANIFESTS, SLOT_VALUES, { numberWords: true }),
    ];
    expect(samples.length).toBeGreaterThan(40);
    for (const s of samples) {
      const hit = matcher.match(s.text);
      expect({ text: s.text, agent: hit?.agent, intent: hit?.intent, args: hit?.args }).toEqual({
        text: s.text,
        agent: s.agent,
        intent: s.intent,
        args: s.args,
      });
    }
  });

  it.each([
    ['turn on the {room', 'does not parse'],
    ['turn (on|off the lights', 'does not parse'],
    ['turn on the [] lights', 'does not parse'],
    ['turn on the {colour} lights', 'uses {colour}, which is not an argument'],
    ['move {room} to {room}', 'more than once'],
  ])('refuses the phrase %j with a GrammarError naming agent and fix', (phrase, problem) => {
    const manifest = ManifestSchema.parse({
      name: 'bad',
      tier: 'warm',
      intents: [{ name: 'x', phrases: [phrase], args: { room: { type: 'string' } } }],
    });
    expect(() => compileFastMatcher([manifest])).toThrow(GrammarError);
    expect(() => compileFastMatcher([manifest])).toThrow(problem);
    expect(() => compileFastMatcher([manifest])).toThrow('agents/bad/agent.toml');
  });

  it('refuses broken phrases of cold agents too (the fast path uses them)', () => {
    const cold = ManifestSchema.parse({
      name: 'c',
      tier: 'cold',
      intents: [{ name: 'x', phrases: ['(broken'] }],
    });
    expect(() => compileFastMatcher([cold])).toThrow(GrammarError);
  });
});

describe('fast matcher: a value the house does not have', () => {
  it.each([
    ['turn on the garage lights', 'turn_on', 'garage'],
    ['please switch off the guest room lights', 'turn_off', 'guest room'],
    ['set the attic lights to fifty percent', 'set_brightness', 'attic'],
  ])('"%s" fits %s except for room "%s"', (text, intent, value) => {
    expect(matcher.match(text)).toBeNull();
    expect(matcher.unknownValue?.(text)).toEqual({
      agent: 'lights',
      intent,
      arg: 'room',
      value,
      from: 'lights.rooms',
      allowed: ['kitchen', 'living room', 'bedroom'],
    });
  });

  it.each([
    'turn on the kitchen lights', // a known room: match() has it
    'turn on the lights in the whole big garage', // more than three words in the slot
    'what is the weather',
    'open the front door',
  ])('finds no unknown value in "%s"', (text) => {
    expect(matcher.unknownValue?.(text)).toBeNull();
  });
});
