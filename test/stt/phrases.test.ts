import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compileFastMatcher,
  fnv1a,
  type ArgValue,
  type FastMatcher,
} from '../../node/agentspec/index.js';
import { PhraseRecogniser, type PhraseTranscript } from '../../node/stt/index.js';
import { TUNING_NOT_COMMANDS } from '../../bench/stt/phrase-sets.js';
import { loadTestManifests, TEST_ROOMS } from './manifests.js';
import { hasProgram, speakAll, TEST_VOICES, type SpokenUtterance } from './speech.js';

const missing = [
  !hasProgram('espeak-ng') && 'espeak-ng (apt-get install espeak-ng)',
  !hasProgram('pocketsphinx_batch', []) &&
    'pocketsphinx_batch (apt-get install pocketsphinx pocketsphinx-en-us)',
].filter(Boolean);
const skip = missing.length > 0;
const why = skip ? ` (skipped: ${missing.join(', ')} not installed)` : '';

interface Expected {
  text: string;
  /** null: not a command the grammar holds; it must be rejected */
  meaning: { agent: string; intent: string; args: Record<string, ArgValue> } | null;
}

type Outcome = 'right' | 'rejected' | 'wrong';

function outcome(expected: Expected, heard: PhraseTranscript): Outcome {
  if (!heard.interpretation) return 'rejected';
  const m = heard.interpretation;
  const e = expected.meaning;
  const same =
    e &&
    m.agent === e.agent &&
    m.intent === e.intent &&
    JSON.stringify(m.args) === JSON.stringify(e.args);
  return same ? 'right' : 'wrong';
}

describe.skipIf(skip)(`phrase recogniser on espeak-ng speech${why}`, () => {
  let recogniser: PhraseRecogniser;
  let spoken: SpokenUtterance<Expected>[];
  let heard: PhraseTranscript[];
  let matcher: FastMatcher;

  beforeAll(async () => {
    const manifests = loadTestManifests();
    matcher = compileFastMatcher(manifests, { 'lights.rooms': TEST_ROOMS });
    // as the daemon runs it (stt.roomless): commands without a room are heard too
    recogniser = await PhraseRecogniser.create({
      manifests,
      slotValues: { 'lights.rooms': TEST_ROOMS },
      optionalEnumSlots: true,
    });
    const commands: Expected[] = recogniser.grammar
      .samples(1)
      .map((s) => ({ text: s.text, meaning: s }));
    // not commands (the bench's tuning set): free text (echo), rooms that are not configured,
    // other requests; none of these words are among the grammar's decoys
    const others: Expected[] = TUNING_NOT_COMMANDS;
    // Each sentence in two of the four voices (the pairs alternate), at both speeds: every voice
    // and speed is heard, at half the decoding time of all four voices on every sentence (CI's
    // 20 minutes); bench/stt/phrases.ts runs the full sets.
    // Which pair says a sentence follows from its text, not its place in the list, so a phrase
    // added changes no other sentence's voices (nor, with samples() drawing per phrase, its words).
    const items = [...commands, ...others];
    const pairs = [TEST_VOICES.slice(0, 2), TEST_VOICES.slice(2, 4)];
    const pairOf = (text: string) => fnv1a(text) % 2;
    spoken = [
      ...(await speakAll(
        items.filter((x) => pairOf(x.text) === 0),
        pairs[0],
      )),
      ...(await speakAll(
        items.filter((x) => pairOf(x.text) === 1),
        pairs[1],
      )),
    ];
    heard = await recogniser.recogniseMany(spoken.map((s) => s.pcm));
  }, 600_000);

  afterAll(async () => {
    await recogniser?.close();
  });

  it('covers every warm command intent, with at least 4 voices x 2 speeds heard', () => {
    expect(new Set(spoken.map((s) => s.voice)).size).toBeGreaterThanOrEqual(4);
    expect(new Set(spoken.map((s) => s.speed)).size).toBeGreaterThanOrEqual(2);
    const intents = new Set(
      spoken.flatMap((s) =>
        s.item.meaning ? [`${s.item.meaning.agent}.${s.item.meaning.intent}`] : [],
      ),
    );
    for (const expected of [
      'lights.on',
      'lights.off',
      'lights.dim',
      'timer.set',
      'timer.list',
      'mesh.online',
    ]) {
      if (recogniser.grammar.samples(1).some((s) => `${s.agent}.${s.intent}` === expected))
        expect(intents).toContain(expected);
    }
  });

  it('takes a wrong action on at most 5 % of utterances, and gets most commands right', () => {
    const counts: Record<Outcome, number> = { right: 0, rejected: 0, wrong: 0 };
    const wrong: string[] = [];
    let commands = 0;
    let commandsRight = 0;
    spoken.forEach((s, i) => {
      const o = outcome(s.item, heard[i]!);
      counts[o]++;
      if (s.item.meaning) commands++;
      if (s.item.meaning && o === 'right') commandsRight++;
      if (o === 'wrong') wrong.push(`${s.voice}@${s.speed} "${s.text}" -> "${heard[i]!.text}"`);
    });
    const n = spoken.length;
    const pct = (x: number, of: number) => `${((100 * x) / of).toFixed(1)} %`;
    console.info(
      `phrase recogniser, ${n} utterances (${commands} commands): right ${pct(counts.right, n)}, rejected ${pct(counts.rejected, n)}, wrong ${pct(counts.wrong, n)}; commands right ${pct(commandsRight, commands)}` +
        (wrong.length ? `\n  wrong: ${wrong.join('\n  wrong: ')}` : ''),
    );
    expect(counts.wrong / n).toBeLessThanOrEqual(0.05);
    // a recogniser that rejects everything would pass the line above. Each phrase's sample and
    // its voices are drawn apart from the others' (above), so a phrase added moves this figure by
    // its own outcomes only; before, one draw for all shifted every later phrase (three phrasings
    // added on 2026-12-04 took it from 81.1 % to 77.6 % with no outcome changed)
    expect(commandsRight / commands).toBeGreaterThanOrEqual(0.75);
  });

  it('hands the fast matcher transcripts that mean to it what the recogniser understood', () => {
    const accepted = heard.filter((h) => h.interpretation);
    expect(accepted.length).toBeGreaterThan(0);
    for (const h of accepted) {
      const m = matcher.match(h.text);
      expect({ text: h.text, agent: m?.agent, intent: m?.intent, args: m?.args }).toEqual({
        text: h.text,
        agent: h.interpretation!.agent,
        intent: h.interpretation!.intent,
        args: h.interpretation!.args,
      });
    }
  });

  it('rejects speech that is not a command rather than guessing', () => {
    const offGrammar = spoken
      .map((s, i) => ({ s, h: heard[i]! }))
      .filter(({ s }) => s.item.meaning === null);
    expect(offGrammar.length).toBeGreaterThan(0);
    const accepted = offGrammar.filter(({ h }) => h.interpretation !== null);
    expect(accepted.length / offGrammar.length).toBeLessThanOrEqual(0.25);
    for (const { h } of offGrammar.filter(({ h }) => h.interpretation === null)) {
      expect(h).toMatchObject({ text: '', confidence: 0, rejected: expect.any(String) });
    }
  });

  it('returns well-formed transcripts for accepted commands', () => {
    const accepted = heard.filter((h) => h.interpretation);
    expect(accepted.length).toBeGreaterThan(0);
    for (const h of accepted) {
      expect(h.text.length).toBeGreaterThan(0);
      expect(h.language).toBe('en');
      expect(h.confidence).toBeGreaterThan(0.5);
      expect(h.confidence).toBeLessThanOrEqual(1);
      expect(h.segments[0]!.end).toBeGreaterThan(h.segments[0]!.start);
    }
  });
});
