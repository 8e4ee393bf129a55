/**
 * The pocketsphinx wrapper on Debian's real decoder and model: decoding options the recogniser
 * relies on (a grammar-only dictionary, live CMN through an edited feat.params) and the parsers
 * of the decoder's output files.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEBIAN_MODEL_DIR,
  decodeWithGrammar,
  grammarDictionary,
  loadDictionary,
  parseHypseg,
  parseNbest,
  withLiveCmn,
  WarmDecoder,
  type DecodeGrammar,
} from '../../node/stt/index.js';
import { hasProgram, speakAll } from './speech.js';

const skip = !hasProgram('espeak-ng') || !hasProgram('pocketsphinx_batch', []);
const FEAT_PARAMS = join(DEBIAN_MODEL_DIR, 'en-us', 'feat.params');

describe('withLiveCmn', () => {
  it("replaces the model's -cmn and keeps every other parameter", () => {
    const text = '-lowerf 130\n-cmn batch\n-varnorm no\n-cmninit 41.00,-5.29\n';
    expect(withLiveCmn(text)).toBe('-lowerf 130\n-varnorm no\n-cmninit 41.00,-5.29\n-cmn live\n');
  });

  it('adds -cmn live to parameters that name none, or to none at all', () => {
    expect(withLiveCmn('-nfilt 25')).toBe('-nfilt 25\n-cmn live\n');
    expect(withLiveCmn('')).toBe('-cmn live\n');
  });

  it.skipIf(skip)("edits Debian's en-us feat.params (batch CMN) into live CMN", () => {
    const params = readFileSync(FEAT_PARAMS, 'utf8');
    expect(params).toMatch(/^-cmn batch$/m);
    const live = withLiveCmn(params);
    expect(live).toMatch(/^-cmn live$/m);
    expect(live).not.toMatch(/^-cmn batch$/m);
    expect(live.split('\n').filter((l) => !l.startsWith('-cmn '))).toEqual(
      params
        .trimEnd()
        .split('\n')
        .filter((l) => !l.startsWith('-cmn '))
        .concat(''),
    );
  });
});

/** The grammar both decoder suites below decode with. */
const jsgf = [
  '#JSGF V1.0;',
  'grammar t;',
  'public <c> = turn (on | off) the (kitchen | garage) lights | what time is it;',
].join('\n');

describe.skipIf(skip)('decodeWithGrammar on the Debian en-us model', () => {
  let search: DecodeGrammar;
  let clips: Int16Array[];

  beforeAll(async () => {
    const dictionary = await loadDictionary(join(DEBIAN_MODEL_DIR, 'cmudict-en-us.dict'));
    search = { jsgf, dict: grammarDictionary(jsgf, dictionary) };
    const spoken = await speakAll(
      [{ text: 'turn on the kitchen lights' }, { text: 'what time is it' }],
      ['en-us'],
      [160],
    );
    clips = spoken.map((s) => s.pcm);
  }, 60_000);

  it('hears each utterance with batch CMN and with live CMN, words timed in order', async () => {
    for (const config of [{}, { cmn: 'live' as const }]) {
      const [a, b] = await decodeWithGrammar(search, clips, config);
      expect(a!.text).toBe('turn on the kitchen lights');
      expect(b!.text).toBe('what time is it');
      for (const r of [a!, b!]) {
        expect(r.score).toBeLessThan(0);
        const starts = r.words.map((w) => w.start);
        expect(starts).toEqual([...starts].sort((x, y) => x - y));
        for (const w of r.words) expect(w.end).toBeGreaterThan(w.start);
      }
    }
  });

  it('the two CMN modes give different acoustic scores: live CMN really is applied', async () => {
    const [batch] = await decodeWithGrammar(search, clips.slice(0, 1));
    const [live] = await decodeWithGrammar(search, clips.slice(0, 1), { cmn: 'live' });
    expect(live!.acoustic).not.toBe(batch!.acoustic);
  });

  it('a dictionary without the grammar’s words fails with the decoder’s own error', async () => {
    await expect(
      decodeWithGrammar({ jsgf, dict: 'zebra Z IY B R AH\n' }, clips.slice(0, 1)),
    ).rejects.toThrow(/pocketsphinx_batch failed/);
  });
});

describe.skipIf(skip)('WarmDecoder: one running decoder for many utterances', () => {
  let search: DecodeGrammar;
  let clips: Int16Array[];

  beforeAll(async () => {
    const dictionary = await loadDictionary(join(DEBIAN_MODEL_DIR, 'cmudict-en-us.dict'));
    search = { jsgf, dict: grammarDictionary(jsgf, dictionary) };
    const spoken = await speakAll(
      [
        { text: 'turn off the garage lights' },
        { text: 'what time is it' },
        { text: 'turn on the kitchen lights' },
      ],
      ['en-us'],
      [160],
    );
    clips = spoken.map((s) => s.pcm);
  }, 60_000);

  it('answers utterances sent one at a time, and together, from the same process', async () => {
    const decoder = new WarmDecoder(search);
    try {
      const one = [];
      for (const pcm of clips) one.push(...(await decoder.decode([pcm])));
      expect(one.map((r) => r.text)).toEqual([
        'turn off the garage lights',
        'what time is it',
        'turn on the kitchen lights',
      ]);
      // queued side by side: each answer goes to its own utterance
      const together = await Promise.all([
        decoder.decode([clips[2]!]),
        decoder.decode([clips[0]!, clips[1]!]),
      ]);
      expect(together.flat().map((r) => r.text)).toEqual([
        'turn on the kitchen lights',
        'turn off the garage lights',
        'what time is it',
      ]);
      // the same audio scores the same however it was queued (the dither is per utterance)
      expect(together[1]![0]!.acoustic).toBe(one[0]!.acoustic);
      const cold = await decodeWithGrammar(search, clips.slice(0, 1));
      expect(one[0]!.text).toBe(cold[0]!.text);
    } finally {
      await decoder.close();
    }
  });

  it('a free phone loop scores any speech at least as well as the grammar path does', async () => {
    const grammar = new WarmDecoder(search);
    const phones = new WarmDecoder({ jsgf: 'phone-loop', dict: search.dict });
    try {
      const [g, p] = await Promise.all([grammar.decode(clips), phones.decode(clips)]);
      for (const [i, r] of p.entries()) {
        expect(r.words.length).toBeGreaterThan(3);
        expect(r.acoustic).toBeGreaterThan(g[i]!.acoustic);
      }
    } finally {
      await Promise.all([grammar.close(), phones.close()]);
    }
  });

  it('a decoder that cannot start fails its utterance with the decoder’s own error', async () => {
    const decoder = new WarmDecoder({ jsgf, dict: 'zebra Z IY B R AH\n' });
    await expect(decoder.decode(clips.slice(0, 1))).rejects.toThrow(/pocketsphinx_batch exited/);
    await decoder.close();
  });

  it('says what to install when pocketsphinx is missing', async () => {
    const decoder = new WarmDecoder(search, { bin: 'pocketsphinx_batch_not_here' });
    await expect(decoder.decode(clips.slice(0, 1))).rejects.toThrow(/apt-get install pocketsphinx/);
    await decoder.close();
  });
});

describe('decoder output parsers', () => {
  it('parseHypseg reads the best path, its scores and word times (fillers dropped)', () => {
    // pocketsphinx_batch -hypseg lines, as written for a decode and for a search with no path
    const text = [
      's_en-gb S 0 T -6351 A -6014 L -337 0 -1754 0 timer 36 -328 0 for 56 -2117 0 twenty 96 -1577 0 minutes 143 -238 -337 <sil> 176',
      'o_en-gb S 0 T 0 A 0 L 0 0',
    ].join('\n');
    const r = parseHypseg(text);
    expect(r.get('s_en-gb')).toEqual({
      text: 'timer for twenty minutes',
      score: -6351,
      acoustic: -6014,
      words: [
        { word: 'timer', start: 0, end: expect.closeTo(0.36), acoustic: -1754 },
        { word: 'for', start: expect.closeTo(0.36), end: expect.closeTo(0.56), acoustic: -328 },
        { word: 'twenty', start: expect.closeTo(0.56), end: expect.closeTo(0.96), acoustic: -2117 },
        {
          word: 'minutes',
          start: expect.closeTo(0.96),
          end: expect.closeTo(1.43),
          acoustic: -1577,
        },
      ],
    });
    expect(r.get('o_en-gb')).toEqual({
      text: '',
      score: -Infinity,
      acoustic: -Infinity,
      words: [],
    });
  });

  it('parseNbest keeps each word sequence once, best first, without fillers', () => {
    // an -nbestdir file as written (the same words on several paths), then fillers and a second
    // sequence
    const text = 'timer for twenty -6042\ntimer for twenty -6075\n<s> timer for nine <sil> -6110\n';
    expect(parseNbest(text)).toEqual([
      { text: 'timer for twenty', score: -6042 },
      { text: 'timer for nine', score: -6110 },
    ]);
  });
});
