import { describe, expect, it } from 'vitest';
import { grammarDictionary } from '../../node/stt/index.js';
import { grammar } from '../agentspec/jsgf-fixtures.js';

describe('grammarDictionary', () => {
  const dictionary = new Map([
    ['turn', ['turn T ER N']],
    ['on', ['on AA N', 'on(2) AO N']],
    ['off', ['off AO F']],
    ['the', ['the DH AH', 'the(2) DH AH0']],
    ['kitchen', ['kitchen K IH CH AH N']],
    ['living', ['living L IH V IH NG']],
    ['room', ['room R UW M']],
    ['lights', ['lights L AY T S']],
    ['grammar', ['grammar G R AE M ER']],
    ['public', ['public P AH B L IH K']],
    ['unused', ['unused AH N Y UW Z D']],
  ]);

  it('holds the lines (alternates too) of exactly the words the grammar uses', () => {
    const jsgf = [
      '#JSGF V1.0;',
      'grammar helix;',
      'public <command> = <p0> | <p1>;',
      '<p0> = turn (on | off) [the] <room> lights; // lights.on: turn on [the] {room} lights',
      '<p1> = /2/ turn <room> lights on;',
      '<room> = kitchen | living room;',
    ].join('\n');
    expect(grammarDictionary(jsgf, dictionary).trim().split('\n')).toEqual([
      'kitchen K IH CH AH N',
      'lights L AY T S',
      'living L IH V IH NG',
      'off AO F',
      'on AA N',
      'on(2) AO N',
      'room R UW M',
      'the DH AH',
      'the(2) DH AH0',
      'turn T ER N',
    ]);
  });

  it('leaves out no word of any phrase the grammar accepts', () => {
    const words = new Set(grammar.samples(3).flatMap((s) => s.text.split(' ')));
    const lines = grammarDictionary(grammar.jsgf, new Map([...words].map((w) => [w, [`${w} X`]])))
      .trim()
      .split('\n');
    expect(lines.sort()).toEqual([...words].map((w) => `${w} X`).sort());
  });
});
