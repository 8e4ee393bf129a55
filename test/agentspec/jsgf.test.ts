import { describe, expect, it } from 'vitest';
import {
  buildPhraseGrammar,
  ManifestSchema,
  numberToWords,
  readNumbers,
} from '../../node/agentspec/index.js';
import { grammar, lights, research, SLOT_VALUES, timer } from './jsgf-fixtures.js';

describe('buildPhraseGrammar', () => {
  it.each([
    {
      text: 'turn on the kitchen lights',
      meaning: { agent: 'lights', intent: 'on', args: { room: 'kitchen' } },
    },
    {
      text: 'turn on living room lights',
      meaning: { agent: 'lights', intent: 'on', args: { room: 'living room' } },
    },
    {
      text: 'lights on in the kitchen',
      meaning: { agent: 'lights', intent: 'on', args: { room: 'kitchen' } },
    },
    {
      text: 'turn off the living room lights',
      meaning: { agent: 'lights', intent: 'off', args: { room: 'living room' } },
    },
    {
      text: 'dim the kitchen lights to twenty five percent',
      meaning: { agent: 'lights', intent: 'dim', args: { room: 'kitchen', level: 25 } },
    },
    {
      text: 'dim kitchen lights to one hundred percent',
      meaning: { agent: 'lights', intent: 'dim', args: { room: 'kitchen', level: 100 } },
    },
    {
      text: 'set a timer for ninety minutes',
      meaning: { agent: 'timer', intent: 'set', args: { minutes: 90 } },
    },
    { text: 'show timers', meaning: { agent: 'timer', intent: 'list', args: {} } },
    { text: 'list my timers', meaning: { agent: 'timer', intent: 'list', args: {} } },
    {
      text: 'could you please turn on the kitchen lights for me thanks',
      meaning: { agent: 'lights', intent: 'on', args: { room: 'kitchen' } },
    },
    { text: 'can you show timers please', meaning: { agent: 'timer', intent: 'list', args: {} } },
  ])('reads "$text" back as its intent and slots', ({ text, meaning }) => {
    expect(grammar.interpret(text)).toMatchObject(meaning);
  });

  it.each([
    'turn on the garage lights',
    'turn on the kitchen',
    'dim the kitchen lights to one hundred one percent',
    'set a timer for zero minutes',
    'set a timer for two hundred minutes',
    'research cats',
    'please',
    'could you please',
  ])('refuses "%s", which the grammar does not accept', (text) => {
    expect(grammar.interpret(text)).toBeNull();
  });

  it('writes one JSGF rule per phrase and one per distinct slot', () => {
    // politeness is the language's: one opening in front of the phrases that start with a verb
    // (and the decoys), one inside a phrase that may start without one, in front of its verb; a
    // closing after every phrase
    expect(grammar.jsgf).toContain(
      'public <command> = ([<open>] (<p0> | <p2> | <p3> | <p4> | <p5> | <decoy>) | <p1>) [<close>];\n<open> = please [(can you',
    );
    // "please" with one question on either side, never two questions ("could you would you")
    expect(grammar.jsgf).toContain(
      '<open> = please [(can you | could you | would you | will you)] | (can you | could you | would you | will you) [please];',
    );
    expect(grammar.jsgf).toContain('= [[<open>] (turn)] lights on in [the] <slot0>;');
    expect(grammar.jsgf).toMatch(/\n<close> = \(please \| thanks \| thank you \| for me\)/);
    expect(grammar.jsgf).toContain('<p0> = turn on [the] <slot0> lights;');
    expect(grammar.jsgf).toContain('<slot0> = kitchen | living room | garage | bathroom');
    expect(grammar.jsgf).toMatch(/<decoy> = what is the weather like \| /);
    // numbers stop at 120 by default: bigger ranges swell the search
    expect(grammar.jsgf).toContain('| one hundred twenty;');
    expect(grammar.jsgf).not.toContain('one hundred twenty one');
    expect(grammar.jsgf).toContain('<p5> = (list | show) [my] timers;');
    expect(grammar.phraseCount).toBe(6);
  });

  it('puts an opening only in front of a verb a phrase starts with, writing each phrase once', () => {
    const g = buildPhraseGrammar(
      [
        ManifestSchema.parse({
          name: 'kit',
          tier: 'warm',
          intents: [
            {
              name: 'on',
              phrases: ['(turn|switch) on [the] {room} lights', '[the] {room} lights on'],
              args: { room: { type: 'string', enum_from: 'lights.rooms' } },
            },
            {
              name: 'set',
              phrases: ['[[set|start] a] {minutes} minute timer', 'what timers are set'],
              args: { minutes: { type: 'integer', min: 1, max: 5 } },
            },
          ],
        }),
      ],
      { slotValues: { 'lights.rooms': ['kitchen'] } },
    );
    expect(g.jsgf).toContain(
      'public <command> = ([<open>] (<p0> | <decoy>) | <p1> | <p2> | <p3>) [<close>];',
    );
    expect(g.jsgf).toContain('<p0> = (turn | switch) on [the] <slot0> lights;');
    // a phrase that cannot start with a verb stays as it is written, with no opening
    expect(g.jsgf).toContain('<p1> = [the] <slot0> lights on;');
    expect(g.jsgf).toContain('<p3> = what timers are set;');
    // an optional verb takes its opening with it, and the phrase is written once
    expect(g.jsgf).toContain('<p2> = [[[<open>] (set | start)] a] <slot1> minute timer;');
    // the samples follow the same rule: "could you the kitchen lights on" is never one of them
    const samples = g.samples(20);
    const opened = samples.filter((x) =>
      /^(please|can you|could you|would you|will you) /.test(x.text),
    );
    expect(opened.length).toBeGreaterThan(0);
    for (const x of opened)
      expect(x.text).toMatch(
        /^(please|can you|could you|would you|will you) (turn|switch|set|start) /,
      );
  });

  it('gives a bare number (an answer: "thirty minutes") no polite closing, in the grammar and the samples', () => {
    const g = buildPhraseGrammar([
      ManifestSchema.parse({
        name: 'kit',
        tier: 'warm',
        intents: [
          {
            name: 'answer',
            phrases: ['{number} [minutes|percent]'],
            args: { number: { type: 'integer', min: 0, max: 40 } },
          },
          {
            name: 'set',
            phrases: ['{minutes} minutes timer'],
            args: { minutes: { type: 'integer', min: 1, max: 5 } },
          },
        ],
      }),
    ]);
    // "two please" cannot be heard; "two minutes timer please" can
    expect(g.jsgf).toContain('public <command> = ([<open>] (<decoy>) | <p1>) [<close>] | <p0>;');
    const samples = g.samples(40);
    const bare = samples.filter((s) => s.intent === 'answer');
    expect(bare.length).toBeGreaterThan(5);
    for (const s of bare) expect(s.text).not.toMatch(/please|thank|thanks|for me/);
  });

  it('gives a phrase that ends in a number without its unit no closing ("seventy thanks" is "seventy percent" misheard)', () => {
    const g = buildPhraseGrammar([
      ManifestSchema.parse({
        name: 'kit',
        tier: 'warm',
        intents: [
          {
            name: 'dim',
            phrases: ['dim the lights to {level} [percent]', 'brightness {level}'],
            args: { level: { type: 'integer', min: 0, max: 100 } },
          },
        ],
      }),
    ]);
    // the unit said: closings allowed; the number last: none (p2, the number alone, is bare)
    expect(g.jsgf).toContain(
      'public <command> = ([<open>] (<p0> | <decoy>)) [<close>] | [<open>] (<p1>) | <p2>;',
    );
    expect(g.jsgf).toContain('<p0> = dim the lights to <slot0> (percent);');
    expect(g.jsgf).toContain('<p1> = dim the lights to <slot0>;');
    expect(g.jsgf).toContain('<p2> = brightness <slot0>;');
    // the samples are the grammar's: a closing only after "percent"
    const samples = g.samples(60).filter((s) => s.phrase.startsWith('dim'));
    expect(samples.filter((s) => / percent\b/.test(s.text)).length).toBeGreaterThan(3);
    expect(samples.filter((s) => !/ percent\b/.test(s.text)).length).toBeGreaterThan(0);
    for (const s of samples)
      expect(s.text).not.toMatch(/(?<!percent) (please|thank you|thanks|for me)$/);
    // and the words still mean the same, with or without a closing (the fast matcher's politeness)
    expect(g.interpret('dim the lights to seventy thanks')?.args).toEqual({ level: 70 });
  });

  it('holds appliances that are not lights as decoys, in one rule', () => {
    expect(grammar.jsgf).toContain(
      '(turn | switch) (on | off) the (fan | oven | heating | heater | radio | television |',
    );
    expect(grammar.interpret('switch off the fan')).toBeNull();
    const fanLight = ManifestSchema.parse({
      name: 'lamps',
      tier: 'warm',
      intents: [{ name: 'on', phrases: ['turn on the fan'] }],
    });
    // an appliance the home has as a command is no decoy
    const g = buildPhraseGrammar([fanLight], { decoyAppliances: ['fan', 'oven'] });
    expect(g.jsgf).toContain(
      '(turn | switch) (on | off) the (oven) | (turn | switch) the (oven) (on | off)',
    );
    expect(buildPhraseGrammar([fanLight], { decoyAppliances: [] }).jsgf).not.toContain('oven');
  });

  it('leaves out phrases it cannot hear, saying why', () => {
    expect(grammar.skipped).toEqual([
      expect.objectContaining({
        agent: 'timer',
        phrase: 'set a {label} timer for {minutes} minutes',
        reason: expect.stringMatching(/free text/),
      }),
      // cold agents' phrases are compiled too; this one names no argument
      expect.objectContaining({
        agent: 'research',
        phrase: 'research {q}',
        reason: expect.stringMatching(/slot \{q\} has no argument/),
      }),
    ]);
    const noRooms = buildPhraseGrammar([lights]);
    expect(noRooms.phraseCount).toBe(0);
    expect(noRooms.skipped[0]!.reason).toMatch(/no values for lights\.rooms/);
    const unknownWord = buildPhraseGrammar([lights], {
      slotValues: { 'lights.rooms': ['kitchen'] },
      knownWord: (w) => w !== 'dim',
    });
    expect(unknownWord.skipped).toEqual([
      expect.objectContaining({ intent: 'dim', reason: expect.stringMatching(/dictionary: dim/) }),
    ]);
  });

  it('samples sentences that it reads back as the meaning they were made from', () => {
    const samples = grammar.samples(3);
    expect(samples.length).toBeGreaterThanOrEqual(12);
    for (const s of samples)
      expect(grammar.interpret(s.text)).toMatchObject({
        agent: s.agent,
        intent: s.intent,
        args: s.args,
      });
  });

  it("draws each phrase's samples on their own: a phrase added leaves the others' as they were", () => {
    const lamp = ManifestSchema.parse({
      name: 'lamp',
      tier: 'warm',
      intents: [{ name: 'on', phrases: ['switch on the lamp', 'lamp on'] }],
    });
    // first, so that every other phrase comes after it
    const withOneMore = buildPhraseGrammar([lamp, lights, timer, research], {
      slotValues: SLOT_VALUES,
    });
    const before = grammar.samples(4);
    const after = withOneMore.samples(4);
    expect(after.filter((s) => s.agent === 'lamp')).not.toEqual([]);
    expect(after.filter((s) => s.agent !== 'lamp')).toEqual(before);
    // and another seed draws other sentences
    expect(grammar.samples(4, 2).map((s) => s.text)).not.toEqual(before.map((s) => s.text));
  });
});

describe('spoken numbers', () => {
  it.each([
    [0, 'zero'],
    [7, 'seven'],
    [25, 'twenty five'],
    [100, 'one hundred'],
    [105, 'one hundred five'],
    [1440, 'one thousand four hundred forty'],
  ])('says %i as "%s" and reads it back', (n, words) => {
    expect(numberToWords(n)).toBe(words);
    expect(readNumbers(words.split(' '), 0)[0]).toEqual({
      value: n,
      length: words.split(' ').length,
    });
  });

  it('reads "one hundred and five"', () => {
    expect(readNumbers('one hundred and five'.split(' '), 0)[0]).toEqual({
      value: 105,
      length: 4,
    });
  });
});
