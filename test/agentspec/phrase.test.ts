import { describe, expect, it } from 'vitest';
import {
  numberToWords,
  parsePhrase,
  PhraseSyntaxError,
  readNumbers,
  requiredWords,
  slotNames,
  tokenize,
  normaliseWords,
} from '../../node/agentspec/index.js';

describe('normaliseWords', () => {
  it.each([
    ['Turn ON the Kitchen lights.', 'turn on the kitchen lights'],
    ["What's the time?", 'whats the time'],
    ['living-room', 'living room'],
    ['dim to 50%', 'dim to 50 percent'],
    ['set it to 2.5, please', 'set it to 2.5 please'],
    ['  …  ', ''],
    ['Café crème', 'café crème'],
  ])('%j -> %j', (text, words) => {
    expect(normaliseWords(text).join(' ')).toBe(words);
  });

  it('keeps each token’s place in the original text', () => {
    const text = 'Echo: Hello, World!';
    expect(tokenize(text).map((t) => text.slice(t.start, t.end))).toEqual([
      'Echo',
      'Hello',
      'World',
    ]);
  });

  it('keeps places right when lower-casing changes the length ("İ")', () => {
    const text = 'İstanbul, Ankara';
    expect(tokenize(text).map((t) => text.slice(t.start, t.end))).toEqual(['İstanbul', 'Ankara']);
  });
});

describe('readNumbers', () => {
  it.each([
    ['5 minutes', 5],
    ['2.5 minutes', 2.5],
    ['fifty', 50],
    ['twenty five minutes', 25],
    ['one hundred and twenty', 120],
    ['three hundred', 300],
    ['two thousand and five', 2005],
    ['nineteen', 19],
    ['zero', 0],
    ['minus three', -3],
    ['two point five', 2.5],
  ])('reads %j as %d first', (text, value) => {
    expect(readNumbers(normaliseWords(text), 0)[0]?.value).toBe(value);
  });

  it('offers shorter readings too, longest first', () => {
    expect(readNumbers(['twenty', 'five'], 0)).toEqual([
      { value: 25, length: 2 },
      { value: 20, length: 1 },
    ]);
  });

  it.each([['five five'], ['fifteen five'], ['twenty twenty']])(
    'does not run %j together',
    (text) => {
      expect(readNumbers(normaliseWords(text), 0)[0]?.length).toBe(1);
    },
  );

  it.each([['lights'], ['and five'], ['']])('finds no number in %j', (text) => {
    expect(readNumbers(normaliseWords(text), 0)).toEqual([]);
  });

  it.each([0, 7, 13, 20, 42, 100, 115, 999, 1000, 2024, -8])(
    'round-trips %d through numberToWords',
    (n) => {
      expect(readNumbers(normaliseWords(numberToWords(n)), 0)[0]).toEqual({
        value: n,
        length: normaliseWords(numberToWords(n)).length,
      });
    },
  );
});

describe('parsePhrase', () => {
  // A word as the tree holds it: normalised for the matcher, as written for the recogniser.
  const w = (word: string, said = word) => ({ kind: 'word', word, said });

  it('parses words, alternatives, optional groups and slots', () => {
    expect(parsePhrase('turn (on|off) [the] {room} lights')).toEqual([
      w('turn'),
      {
        kind: 'choice',
        optional: false,
        options: [[w('on')], [w('off')]],
      },
      {
        kind: 'choice',
        optional: true,
        options: [[{ kind: 'choice', optional: true, implicit: true, options: [[w('the')]] }]],
      },
      { kind: 'slot', name: 'room' },
      w('lights'),
    ]);
  });

  it('makes a written "the" optional', () => {
    expect(parsePhrase('cancel the timer')[1]).toEqual({
      kind: 'choice',
      optional: true,
      implicit: true,
      options: [[w('the')]],
    });
  });

  it('keeps the written spelling beside the normalised word', () => {
    expect(parsePhrase("what's running where")[0]).toEqual(w('whats', "what's"));
  });

  it('nests groups and accepts top-level alternatives', () => {
    const nodes = parsePhrase('stop|cancel [the (kitchen|oven)] timer');
    expect(nodes).toHaveLength(1);
    expect(slotNames(parsePhrase('remind me in {minutes} minutes [to {label}]'))).toEqual([
      'minutes',
      'label',
    ]);
  });

  it.each([
    ['turn on the {room} lights', ['turn', 'on', 'lights']],
    ['turn (on|off) [the] {room} lights', ['turn', 'lights']],
    ['(switch|turn) on (the lights|lights)', ['on', 'lights']],
  ])('required words of %j', (phrase, words) => {
    expect(requiredWords(parsePhrase(phrase))).toEqual(words);
  });

  it.each([
    ['turn (on|off the lights', 'missing ")"'],
    ['turn on) the lights', 'unexpected ")"'],
    ['turn [on the lights', 'missing "]"'],
    ['turn {room lights', 'missing "}"'],
    ['turn {Room} lights', 'bad slot name'],
    ['turn (on||off)', 'empty alternative'],
    ['[]', 'empty alternative'],
    ['   ', 'is empty'],
    ['turn } on', 'unexpected "}"'],
  ])('refuses %j: %s', (phrase, problem) => {
    expect(() => parsePhrase(phrase)).toThrow(PhraseSyntaxError);
    expect(() => parsePhrase(phrase)).toThrow(problem);
  });
});
