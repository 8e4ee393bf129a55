/**
 * The intent stage runs what a command-only STT engine understood instead of parsing the
 * transcript again (plain-object dependencies: no gRPC, no speech).
 */
import { describe, expect, it } from 'vitest';
import type { FastMatcher, Intent, PhraseInterpretation } from '../../node/agentspec/index.js';
import type { RemoteRunEvent } from '../../node/agenthost/index.js';
import { Pipeline } from '../../node/pipeline/pipeline.js';
import type { SttEngine, Transcript } from '../../node/transcribe/index.js';

const KITCHEN_ON: PhraseInterpretation = {
  agent: 'lights',
  intent: 'turn_on',
  args: { room: 'kitchen' },
  confidence: 1,
  phrase: 'turn on [the] {room} lights',
};

function setup(heard: Transcript) {
  const parsed: string[] = [];
  const ran: Intent[] = [];
  const stt: SttEngine = {
    name: 'phrase',
    model: 'test',
    transcribe: async () => heard,
    close: async () => {},
  };
  const fastMatcher: FastMatcher = {
    phraseCount: 1,
    match(text) {
      parsed.push(text);
      return { ...KITCHEN_ON, args: { room: 'parsed again' } };
    },
  };
  const pipeline = new Pipeline({
    selfId: 'n1',
    view: () => [],
    stt,
    transcribeRemote: null,
    fastMatcher,
    routeRemote: null,
    localLlmRouter: null,
    routerModel: 'none',
    async *runIntent(intent): AsyncIterable<RemoteRunEvent> {
      ran.push(intent);
      yield { type: 'result', text: 'Done.', data: null, hostName: 'n1' };
    },
  });
  return { pipeline, parsed, ran };
}

const transcript = (interpretation?: PhraseInterpretation | null): Transcript => ({
  text: 'turn on the kitchen lights',
  segments: [],
  language: 'en',
  confidence: 0.9,
  ...(interpretation !== undefined ? { interpretation } : {}),
});

describe('the intent stage and the recogniser interpretation', () => {
  it('runs the interpretation without parsing the transcript again', async () => {
    const { pipeline, parsed, ran } = setup(transcript(KITCHEN_ON));
    const result = await pipeline.handleUtterance(new Int16Array(1600), { source: 'file' });
    expect(result.ok).toBe(true);
    expect(parsed).toEqual([]);
    expect(ran).toEqual([
      { agent: 'lights', intent: 'turn_on', args: { room: 'kitchen' }, confidence: 1 },
    ]);
    expect(result.intent).toMatchObject({ agent: 'lights', intent: 'turn_on', via: 'fast' });
    const hop = result.trace.hops.find((h) => h.stage === 'intent');
    expect(hop?.detail).toContain('phrase recogniser: lights.turn_on');
  });

  it.each([
    ['an engine that does not interpret (Whisper)', undefined],
    ['an engine that found no meaning', null],
  ])('parses the text with the fast matcher for %s', async (_what, interpretation) => {
    const { pipeline, parsed, ran } = setup(transcript(interpretation));
    const result = await pipeline.handleUtterance(new Int16Array(1600), { source: 'file' });
    expect(result.ok).toBe(true);
    expect(parsed).toEqual(['turn on the kitchen lights']);
    expect(ran[0]?.args).toEqual({ room: 'parsed again' });
  });
});
