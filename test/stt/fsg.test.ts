/**
 * The phrase grammar as a minimal word automaton (node/stt/fsg.ts): the same sentences as the
 * JSGF, far fewer states, and Debian's pocketsphinx decoding with it.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildPhraseGrammar } from '../../node/agentspec/index.js';
import {
  DEBIAN_MODEL_DIR,
  decodeWithGrammar,
  fsgStates,
  grammarDictionary,
  jsgfToFsg,
  loadDictionary,
  WarmDecoder,
} from '../../node/stt/index.js';
import { FOLLOWUP_MANIFEST } from '../../node/pipeline/index.js';
import { loadTestManifests, TEST_ROOMS } from './manifests.js';
import { hasProgram, speakAll } from './speech.js';

/** The FSG text read back: start, final, and the arcs out of each state (word null: empty). */
function readFsg(fsg: string) {
  const arcs = new Map<number, [string | null, number][]>();
  let start = -1;
  let final = -1;
  for (const line of fsg.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'START_STATE') start = Number(f[1]);
    if (f[0] === 'FINAL_STATE') final = Number(f[1]);
    if (f[0] === 'TRANSITION') {
      expect(Number(f[3])).toBe(1);
      const list = arcs.get(Number(f[1])) ?? [];
      list.push([f[4] ?? null, Number(f[2])]);
      arcs.set(Number(f[1]), list);
    }
  }
  return { start, final, arcs };
}

const parsed = new Map<string, ReturnType<typeof readFsg>>();
/** readFsg, once per text */
function read(fsg: string): ReturnType<typeof readFsg> {
  let r = parsed.get(fsg);
  if (!r) parsed.set(fsg, (r = readFsg(fsg)));
  return r;
}

/** Every sentence the FSG accepts (it must be finite: the walk stops at `limit`). */
function sentences(fsg: string, limit = 100_000): Set<string> {
  const { start, final, arcs } = read(fsg);
  const out = new Set<string>();
  const walk = (s: number, words: string[], depth: number) => {
    expect(depth).toBeLessThan(60);
    if (s === final) out.add(words.join(' '));
    if (out.size > limit) throw new Error('too many sentences');
    for (const [w, to] of arcs.get(s) ?? []) walk(to, w ? [...words, w] : words, depth + 1);
  };
  walk(start, [], 0);
  return out;
}

/** Whether the FSG accepts `text`. */
function accepts(fsg: string, text: string): boolean {
  const { start, final, arcs } = read(fsg);
  const words = text.split(' ').filter(Boolean);
  const close = (set: Set<number>) => {
    const todo = [...set];
    while (todo.length)
      for (const [w, to] of arcs.get(todo.pop()!) ?? [])
        if (w === null && !set.has(to)) {
          set.add(to);
          todo.push(to);
        }
    return set;
  };
  let at = close(new Set([start]));
  for (const word of words) {
    const next = new Set<number>();
    for (const s of at) for (const [w, to] of arcs.get(s) ?? []) if (w === word) next.add(to);
    at = close(next);
  }
  return at.has(final);
}

/** A random sentence of the FSG, walking from the start with `rand` until the final state. */
function randomSentence(fsg: string, rand: () => number): string {
  const { start, final, arcs } = read(fsg);
  const words: string[] = [];
  let s = start;
  while (s !== final) {
    const out = arcs.get(s)!;
    const [w, to] = out[Math.floor(rand() * out.length)]!;
    if (w) words.push(w);
    s = to;
  }
  return words.join(' ');
}

describe('jsgfToFsg', () => {
  const small = [
    '#JSGF V1.0;',
    'grammar t;',
    'public <c> = [please] (turn | switch) (on | off) [the] <room> (light | lights); // a comment',
    '<room> = kitchen | living room | <NULL>;',
  ].join('\n');

  it('accepts exactly the sentences of the JSGF', () => {
    const expected = new Set<string>();
    for (const p of ['please ', ''])
      for (const v of ['turn', 'switch'])
        for (const o of ['on', 'off'])
          for (const t of ['the ', ''])
            for (const r of ['kitchen ', 'living room ', ''])
              for (const l of ['light', 'lights']) expected.add(`${p}${v} ${o} ${t}${r}${l}`);
    expect(sentences(jsgfToFsg(small))).toEqual(expected);
  });

  it('is minimal: on and off share everything after them', () => {
    // states: start, after please, after verb, after on|off, after the, after living, after
    // room, end of sentence, and the one final state the format allows
    expect(fsgStates(jsgfToFsg(small))).toBe(9);
  });

  it('refuses what agentspec never writes, with the reason', () => {
    const g = (body: string, extra = '') =>
      `#JSGF V1.0;\ngrammar t;\npublic <c> = ${body};\n${extra}`;
    expect(() => jsgfToFsg(g('turn <x> on'))).toThrow(/no rule <x>/);
    expect(() => jsgfToFsg(g('turn <x>', '<x> = on <x> | off;'))).toThrow(/recursive/);
    expect(() => jsgfToFsg(g('/2/ on | /1/ off'))).toThrow(/not supported/);
    expect(() => jsgfToFsg(g('on+'))).toThrow(/not supported/);
    expect(() => jsgfToFsg(g('(on | off'))).toThrow(/not closed/);
    expect(() => jsgfToFsg('#JSGF V1.0;\ngrammar t;\n<c> = on;\n')).toThrow(/no public rule/);
  });

  it("holds the daemon's phrase grammar in a few hundred states, with the same sentences", async () => {
    const dict = await loadDictionary(join(DEBIAN_MODEL_DIR, 'cmudict-en-us.dict')).catch(
      () => null,
    );
    const build = (decoys: boolean) =>
      buildPhraseGrammar([...loadTestManifests(), FOLLOWUP_MANIFEST], {
        slotValues: { 'lights.rooms': TEST_ROOMS },
        knownWord: dict ? (w) => dict.has(w) : undefined,
        optionalEnumSlots: true,
        ...(decoys ? {} : { decoyValues: [], decoySentences: [], decoyAppliances: [] }),
      });
    const grammar = build(true);
    const fsg = jsgfToFsg(grammar.jsgf);
    // pocketsphinx's own expansion of this grammar has ~2,600 states
    expect(fsgStates(fsg)).toBeGreaterThan(50);
    expect(fsgStates(fsg)).toBeLessThan(400);
    // every sample of the grammar is a sentence of the automaton ...
    const samples = grammar.samples(3);
    expect(samples.length).toBeGreaterThan(100);
    for (const s of samples) expect(accepts(fsg, s.text), s.text).toBe(true);
    // ... and, decoys left out (they are sentences the grammar does not interpret), every
    // sentence of the automaton is one the grammar reads
    const plain = build(false);
    const plainFsg = jsgfToFsg(plain.jsgf);
    let seed = 5;
    const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    for (let i = 0; i < 2000; i++) {
      const text = randomSentence(plainFsg, rand);
      expect(plain.interpret(text), text).not.toBeNull();
    }
    // and nothing that is not a sentence of it
    for (const text of ['turn on', 'turn on the kitchen', 'lights lights', 'please please', ''])
      expect(accepts(fsg, text), text).toBe(false);
  });
});

const skip = !hasProgram('espeak-ng') || !hasProgram('pocketsphinx_batch', []);

describe.skipIf(skip)('pocketsphinx decoding with the minimal automaton', () => {
  it('hears what was said, as with the JSGF', async () => {
    const dict = await loadDictionary(join(DEBIAN_MODEL_DIR, 'cmudict-en-us.dict'));
    const grammar = buildPhraseGrammar([...loadTestManifests(), FOLLOWUP_MANIFEST], {
      slotValues: { 'lights.rooms': TEST_ROOMS },
      knownWord: (w) => dict.has(w),
      optionalEnumSlots: true,
    });
    const said = [
      'turn off the kitchen lights',
      'set a timer for five minutes',
      'dim the bedroom lights to forty percent',
      'living room lights on',
    ];
    const spoken = await speakAll(
      said.map((text) => ({ text })),
      ['en-us'],
      [160],
    );
    const clips = spoken.map((s) => s.pcm);
    const words = grammarDictionary(grammar.jsgf, dict);
    const fsg = jsgfToFsg(grammar.jsgf);
    const warm = new WarmDecoder({ jsgf: grammar.jsgf, dict: words, fsg });
    const [viaJsgf, viaFsg, viaWarm] = await Promise.all([
      decodeWithGrammar({ jsgf: grammar.jsgf, dict: words }, clips),
      decodeWithGrammar({ jsgf: grammar.jsgf, dict: words, fsg }, clips),
      warm.decode(clips).finally(() => warm.close()),
    ]);
    // the running decoder (the recogniser's) searches the automaton as the batch one does
    expect(viaWarm.map((r) => r.text)).toEqual(viaFsg.map((r) => r.text));
    // "light" and "lights" mean the same; the meanings must be what was said, both ways
    const meanings = (texts: string[]) => texts.map((t) => grammar.interpret(t));
    expect(meanings(viaFsg.map((r) => r.text))).toEqual(meanings(said));
    expect(meanings(viaJsgf.map((r) => r.text))).toEqual(meanings(said));
  }, 60_000);
});
