/**
 * The phone-loop yardstick (PhraseRecogniser minMargin): speech the grammar does not hold is
 * forced onto some phrase by the grammar decode and fits much worse than the free phones it is
 * made of. Real espeak-ng speech through the real decoders; the sentences are everyday talk that
 * the grammar alone heard as commands in the bench's seen sets (bench/stt/phrases.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_MIN_MARGIN,
  DEFAULT_MIN_MARGIN_ROOMLESS,
  PhraseRecogniser,
  type PhraseTranscript,
} from '../../node/stt/index.js';
import { loadTestManifests, TEST_ROOMS } from './manifests.js';
import { hasProgram, speakAll } from './speech.js';

const skip = !hasProgram('espeak-ng') || !hasProgram('pocketsphinx_batch', []);

const COMMANDS = ['turn off the kitchen lights', 'set a timer for five minutes', 'list my timers'];
const TALK = [
  'see you later',
  'where are my keys',
  'I like this song',
  'the lights are too bright',
];

describe.skipIf(skip)('the phone-loop yardstick refuses out-of-grammar speech', () => {
  let recogniser: PhraseRecogniser;
  let commands: PhraseTranscript[];
  let talk: PhraseTranscript[];

  beforeAll(async () => {
    recogniser = await PhraseRecogniser.create({
      manifests: loadTestManifests(),
      slotValues: { 'lights.rooms': TEST_ROOMS },
    });
    const said = await speakAll(
      [...COMMANDS, ...TALK].map((text) => ({ text })),
      ['en-us+m3', 'en-us+f2'],
      [175],
    );
    // one utterance at a time, as the pipeline hands them over, from the same running decoders
    const heard: PhraseTranscript[] = [];
    for (const s of said) heard.push(await recogniser.transcribe(s.pcm));
    const isCommand = (i: number) => COMMANDS.includes(said[i]!.text);
    commands = heard.filter((_, i) => isCommand(i));
    talk = heard.filter((_, i) => !isCommand(i));
  }, 300_000);

  afterAll(async () => {
    await recogniser?.close();
  });

  it('is on by default, and commands clear it', () => {
    expect(DEFAULT_MIN_MARGIN).toBeGreaterThan(-Infinity);
    for (const h of commands) {
      expect(h.margin).not.toBeNull();
      expect(h.margin!).toBeGreaterThanOrEqual(DEFAULT_MIN_MARGIN);
    }
    expect(commands.filter((h) => h.interpretation).length).toBeGreaterThanOrEqual(
      commands.length - 1,
    );
  });

  it('none of the talk acts, and what the grammar forced onto a phrase fits worse than commands', () => {
    expect(talk.filter((h) => h.interpretation)).toEqual([]);
    const forced = talk.filter((h) => h.margin !== null);
    const worstCommand = Math.min(...commands.map((h) => h.margin!));
    expect(forced.some((h) => h.margin! < worstCommand)).toBe(true);
    for (const h of talk.filter((t) => /free phones/.test(t.rejectedDetail ?? '')))
      expect(h.rejected).not.toMatch(/phones|margin/);
  });
});

describe.skipIf(skip)('a command that names no room must fit better (minMarginRoomless)', () => {
  const said = ['turn on the lights', 'turn off the kitchen lights'];
  const hear = async (minMarginRoomless: number) => {
    const recogniser = await PhraseRecogniser.create({
      manifests: loadTestManifests(),
      slotValues: { 'lights.rooms': TEST_ROOMS },
      optionalEnumSlots: true,
      minMarginRoomless,
    });
    try {
      const spoken = await speakAll(
        said.map((text) => ({ text })),
        ['en-us'],
        [160],
      );
      return await recogniser.recogniseMany(spoken.map((s) => s.pcm));
    } finally {
      await recogniser.close();
    }
  };

  it('hears "turn on the lights" without a room, and refuses it when its margin is under the bar', async () => {
    expect(DEFAULT_MIN_MARGIN_ROOMLESS).toBeGreaterThan(DEFAULT_MIN_MARGIN);
    const [open, named] = await hear(-Infinity);
    expect(open!.interpretation).toMatchObject({ agent: 'lights', intent: 'on', args: {} });
    expect(named!.interpretation).toMatchObject({ args: { room: 'kitchen' } });
    // a bar no decode clears: the room-less command is asked again, the one with a room is not
    const [strict, namedStrict] = await hear(0);
    expect(strict!.interpretation).toBeNull();
    expect(strict!.rejectedDetail).toMatch(/names no room .*room-less margin < 0/);
    expect(namedStrict!.interpretation).toMatchObject({ args: { room: 'kitchen' } });
  }, 120_000);
});
