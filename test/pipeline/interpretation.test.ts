/**
 * The intent stage runs what a command-only STT engine understood instead of parsing the
 * transcript again (plain-object dependencies: no gRPC, no speech).
 */
import { describe, expect, it } from 'vitest';
import type { PhraseInterpretation } from '../../node/agentspec/index.js';
import type { Transcript } from '../../node/transcribe/index.js';
import { matcher, plainPipeline, runScript, sttEngine, transcript } from './support/plain.js';

const KITCHEN_ON: PhraseInterpretation = {
  agent: 'lights',
  intent: 'turn_on',
  args: { room: 'kitchen' },
  confidence: 1,
  phrase: 'turn on [the] {room} lights',
};

function setup(heard: Transcript) {
  const fastMatcher = matcher({
    'turn on the kitchen lights': { ...KITCHEN_ON, args: { room: 'parsed again' } },
  });
  const runIntent = runScript([{ type: 'result', text: 'Done.', data: null, hostName: 'n1' }]);
  const { pipeline } = plainPipeline({
    view: () => [],
    stt: sttEngine(heard, 'phrase'),
    fastMatcher,
    runIntent,
  });
  return { pipeline, parsed: fastMatcher.asked, ran: runIntent.ran };
}

const heard = (interpretation?: PhraseInterpretation | null): Transcript =>
  transcript('turn on the kitchen lights', interpretation !== undefined ? { interpretation } : {});

describe('the intent stage and the recogniser interpretation', () => {
  it('runs the interpretation without parsing the transcript again', async () => {
    const { pipeline, parsed, ran } = setup(heard(KITCHEN_ON));
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
    const { pipeline, parsed, ran } = setup(heard(interpretation));
    const result = await pipeline.handleUtterance(new Int16Array(1600), { source: 'file' });
    expect(result.ok).toBe(true);
    expect(parsed).toEqual(['turn on the kitchen lights']);
    expect(ran[0]?.args).toEqual({ room: 'parsed again' });
  });
});
