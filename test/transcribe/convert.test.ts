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
