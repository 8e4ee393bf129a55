/**
 * One phrase tree, four compilations: the fast matcher, the recogniser's JSGF grammar, the LLM's
 * JSON schema and the sample phrases must agree on what every sentence means.
 */
import { describe, expect, it } from 'vitest';
import {
  buildIntentSchema,
  buildPhraseGrammar,
  compileFastMatcher,
  samplePhrases,
  validateIntent,
  type JsonSchema,
} from '../../node/agentspec/index.js';
import { MANIFESTS, SLOT_VALUES } from './fixtures.js';

const MAX_NUMBER = 120;
const matcher = compileFastMatcher(MANIFESTS, SLOT_VALUES);
const grammar = buildPhraseGrammar(MANIFESTS, {
  slotValues: SLOT_VALUES,
  maxNumber: MAX_NUMBER,
  decoySentences: [],
  decoyValues: [],
});
const schema = buildIntentSchema(MANIFESTS, SLOT_VALUES);
const said = (s: { agent: string; intent: string; args: object }) =>
  `${s.agent}.${s.intent} ${JSON.stringify(s.args)}`;

describe('the command language compiled four ways', () => {
  it.each([
    ['digits', { numberWords: false }],
    ['number words', { numberWords: true }],
    ['every written word', { numberWords: true, asWritten: true }],
  ])('the fast matcher reads every sample (%s) as the intent it was made from', (_w, opts) => {
    const samples = samplePhrases(MANIFESTS, SLOT_VALUES, opts);
    expect(samples.length).toBeGreaterThan(50);
    const wrong = samples
      .map((s) => ({ s, hit: matcher.match(s.text) }))
      .filter(({ s, hit }) => !hit || said(hit) !== said(s))
      .map(({ s, hit }) => `${s.text} -> ${hit ? said(hit) : 'no match'} (want ${said(s)})`);
    expect(wrong).toEqual([]);
  });

  it('the JSGF grammar accepts every sample it can hear, with the same meaning', () => {
    const heard = new Set(
      MANIFESTS.flatMap((m) => m.intents.flatMap((i) => i.phrases)).filter(
        (p) => !grammar.skipped.some((s) => s.phrase === p),
      ),
    );
    // free text and booleans cannot be heard by a closed grammar (cold agents are not compiled)
    expect(grammar.skipped.map((s) => s.phrase).sort()).toEqual(
      [
        '(echo|repeat after me) {text}',
        'remind me in {minutes} minutes [to {label}]',
        'turn the fan {on}',
      ].sort(),
    );
    const samples = samplePhrases(MANIFESTS, SLOT_VALUES, { numberWords: true, asWritten: true })
      .filter((s) => heard.has(s.phrase))
      .filter((s) => Object.values(s.args).every((v) => typeof v !== 'number' || v <= MAX_NUMBER));
    expect(samples.length).toBeGreaterThan(20);
    const wrong = samples
      .map((s) => ({ s, hit: grammar.interpret(s.text) }))
      .filter(({ s, hit }) => !hit || said(hit) !== said(s) || hit.phrase !== s.phrase)
      .map(({ s, hit }) => `${s.text} -> ${hit ? said(hit) : 'rejected'} (want ${said(s)})`);
    expect(wrong).toEqual([]);
  });

  it('the fast matcher reads every sentence the JSGF grammar produces as the recogniser does', () => {
    const sentences = grammar.samples(6);
    expect(sentences.length).toBeGreaterThan(20);
    const wrong = sentences
      .map((s) => ({ s, hit: matcher.match(s.text) }))
      .filter(({ s, hit }) => !hit || said(hit) !== said(s))
      .map(({ s, hit }) => `${s.text} -> ${hit ? said(hit) : 'no match'} (want ${said(s)})`);
    expect(wrong).toEqual([]);
  });

  it('the LLM schema has a branch for, and validates, every sample', () => {
    const branches = new Set(
      (schema.anyOf as JsonSchema[]).map((b) => {
        const p = b.properties as { agent: { enum: string[] }; intent: { enum: string[] } };
        return `${p.agent.enum[0]}.${p.intent.enum[0]}`;
      }),
    );
    for (const s of samplePhrases(MANIFESTS, SLOT_VALUES)) {
      expect(branches).toContain(`${s.agent}.${s.intent}`);
      const checked = validateIntent(MANIFESTS, { ...s, confidence: 1 }, SLOT_VALUES);
      expect(checked.ok ? said(checked.intent) : checked.reason).toBe(said(s));
    }
  });
});
