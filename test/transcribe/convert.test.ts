import { describe, expect, it } from 'vitest';
import { fromWireTranscript, toWireTranscript } from '../../node/transcribe/index.js';
import type { Transcript } from '../../node/transcribe/index.js';

const base: Transcript = {
  text: 'dim the kitchen lights to 40 percent',
  segments: [],
  language: 'en',
  confidence: 0.9,
};

describe('transcript on the wire', () => {
  it('carries the recogniser interpretation across', () => {
    const interpretation = {
      agent: 'lights',
      intent: 'dim',
      args: { room: 'kitchen', level: 40, fade: true },
      confidence: 1 as const,
      phrase: 'dim [the] {room} lights to {level} percent',
    };
    expect(fromWireTranscript(toWireTranscript({ ...base, interpretation }))).toEqual({
      ...base,
      interpretation,
    });
  });

  it('leaves it out for engines that do not interpret', () => {
    const wire = toWireTranscript(base);
    expect(wire.interpretation).toBeUndefined();
    expect(fromWireTranscript(wire)).toEqual(base);
  });

  it("carries a refusal across: the question to say, why (for the trace) and the question's choices", () => {
    const on = { agent: 'lights', intent: 'on', args: { room: 'kitchen' }, confidence: 1 as const };
    const refused: Transcript = {
      ...base,
      text: '',
      confidence: 0,
      rejected: 'Did you want the kitchen lights on or off?',
      rejectedDetail:
        'the decodes disagree: "turn on the kitchen lights", "turn off the kitchen lights"',
      choices: [
        { ...on, phrase: 'turn on [the] {room} lights' },
        { ...on, intent: 'off', phrase: 'turn off [the] {room} lights' },
      ],
    };
    expect(fromWireTranscript(toWireTranscript(refused))).toEqual(refused);
  });

  it("holds a peer's refusal to a few choices and drops malformed ones", () => {
    const wire = toWireTranscript({ ...base, text: '', rejected: 'Which one?' });
    const choice = { agent: 'lights', intent: 'on', argsJson: '{}', phrase: 'x' };
    wire.choices = [{ ...choice, argsJson: '{room' }, ...Array.from({ length: 9 }, () => choice)];
    const got = fromWireTranscript(wire);
    expect(got.rejected).toBe('Which one?');
    expect(got.choices).toHaveLength(3);
  });

  it.each([
    ['args that are not JSON', '{room'],
    ['args that are a list', '["kitchen"]'],
    ['an argument that is an object', '{"room":{"name":"kitchen"}}'],
  ])('drops a malformed interpretation (%s), so the text is routed as usual', (_what, argsJson) => {
    const wire = toWireTranscript(base);
    wire.interpretation = { agent: 'lights', intent: 'dim', argsJson, phrase: 'x' };
    expect(fromWireTranscript(wire).interpretation).toBeNull();
  });
});
