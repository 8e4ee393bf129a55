/**
 * The on/off audio check (node/stt/verify.ts) and the recogniser's plain questions
 * (node/stt/questions.ts). The check runs on synthetic audio with the shapes it tells apart: a
 * vowel then a nasal murmur ("on"), a vowel then a voiceless fricative ("off"), a vowel then
 * silence (neither).
 */
import { describe, expect, it } from 'vitest';
import { checkOnOff } from '../../node/stt/verify.js';
import { clarify, onOrOff, SAY_AGAIN } from '../../node/stt/questions.js';

const RATE = 16_000;
let seed = 3;
const noise = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32 - 0.5;
};

/**
 * 120 ms of vowel (voiced, 150 Hz with formants), then `tail` of 120 ms, then 100 ms of silence;
 * 'gap-nasal' is 60 ms of silence and then 60 ms of nasal (an /f/ lost in the noise, and the next
 * word's "in").
 */
function word(tail: 'nasal' | 'fricative' | 'silence' | 'gap-nasal'): Int16Array {
  const out: number[] = [];
  for (let i = 0; i < 0.12 * RATE; i++) {
    const t = i / RATE;
    out.push(
      9000 * Math.sin(2 * Math.PI * 150 * t) +
        5000 * Math.sin(2 * Math.PI * 700 * t) +
        3000 * Math.sin(2 * Math.PI * 1100 * t),
    );
  }
  for (let i = 0; i < 0.12 * RATE; i++) {
    const t = i / RATE;
    if (tail === 'nasal' || (tail === 'gap-nasal' && t >= 0.06))
      out.push(2500 * Math.sin(2 * Math.PI * 150 * t) + 600 * Math.sin(2 * Math.PI * 300 * t));
    else if (tail === 'fricative') out.push(noise() * 1600);
    else out.push(0);
  }
  for (let i = 0; i < 0.1 * RATE; i++) out.push(0);
  return Int16Array.from(out, (x) => Math.round(x));
}

describe('the on/off audio check', () => {
  it.each([
    ['nasal', 'on', 'on'],
    ['fricative', 'off', 'off'],
    ['nasal', 'off', 'on'],
    ['fricative', 'on', 'off'],
  ] as const)('a vowel then a %s, decoded "%s", measures "%s"', (tail, heard, measured) => {
    const check = checkOnOff(word(tail), { word: heard, start: 0, end: 0.24 });
    expect(check).toMatchObject({ heard, measured });
  });

  it('is unsure when neither follows the vowel (then the decode stands)', () => {
    expect(checkOnOff(word('silence'), { word: 'on', start: 0, end: 0.24 }).measured).toBe(
      'unsure',
    );
  });

  it('does not count a nasal after a silence as the word\'s: "off in the kitchen" stays "off"', () => {
    const check = checkOnOff(word('gap-nasal'), { word: 'off', start: 0, end: 0.24 });
    expect(check.frames).toMatch(/^V*S{3,}N{3,}/);
    expect(check.measured).toBe('unsure');
  });

  it('counts room noise as silence, not as a fricative', () => {
    const pcm = word('silence').map((x) => x + Math.round(noise() * 200));
    expect(checkOnOff(pcm, { word: 'off', start: 0, end: 0.24 }).measured).not.toBe('off');
  });

  it('is unsure about a word it has no audio for', () => {
    expect(checkOnOff(new Int16Array(0), { word: 'on', start: 1, end: 1.2 }).measured).toBe(
      'unsure',
    );
  });
});

describe('the recogniser asks plain questions', () => {
  it.each([
    ['turn on the living room lights', 'Did you want the living room lights on or off?'],
    ['kitchen lights off', 'Did you want the kitchen lights on or off?'],
    [
      'could you switch the lights off in the office please',
      'Did you want the lights in the office on or off?',
    ],
    ['turn off', 'Did you want it on or off?'],
    ['put the kitchen lights on', 'Did you want the kitchen lights on or off?'],
    ['could you put on the office light thanks', 'Did you want the office light on or off?'],
    ['can you switch it off', 'Did you want it on or off?'],
    ['turn them on please', 'Did you want them on or off?'],
  ])('"%s" -> "%s"', (heard, question) => {
    expect(onOrOff(heard)).toBe(question);
  });

  it.each([
    [
      ['turn on the kitchen lights', 'turn off the kitchen lights'],
      'Did you want the kitchen lights on or off?',
    ],
    [
      ['set a timer for five minutes', 'set a timer for nine minutes'],
      'Sorry, was that five or nine minutes?',
    ],
    [
      [
        'set a timer for twenty five minutes',
        'set a timer for twenty nine minutes',
        'set a timer for twenty five minutes',
      ],
      'Sorry, was that twenty five or twenty nine minutes?',
    ],
    [
      ['dim the office lights to ninety percent', 'dim the office lights to twenty percent'],
      'Sorry, was that ninety or twenty percent?',
    ],
    [['turn on the kitchen lights', 'what is the weather like'], SAY_AGAIN],
    [['turn on the kitchen lights'], SAY_AGAIN],
  ])('decodes %j -> "%s"', (heard, question) => {
    expect(clarify(heard)).toBe(question);
  });

  it('never reads out diagnostics', () => {
    for (const q of [clarify(['a b', 'c d']), onOrOff('turn on the lights'), SAY_AGAIN])
      expect(q).not.toMatch(/uncertain|grammar|decode|fit|score|\(/);
  });
});
