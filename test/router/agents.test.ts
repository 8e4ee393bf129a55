/**
 * The shipped agents' grammars (agents/<name>/agent.toml), when the folder is there.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgents } from '../../node/agents/index.js';
import {
  buildIntentSchema,
  compileFastMatcher,
  resolveSlotValues,
  samplePhrases,
  validateIntent,
} from '../../node/agentspec/index.js';

const AGENTS_DIR = path.resolve('agents');
const present = existsSync(AGENTS_DIR);
const config = {
  lights: { rooms: { kitchen: ['k1'], 'living room': ['lr1', 'lr2'], bedroom: ['b1'] } },
};

describe.skipIf(!present)('the shipped agents', async () => {
  const manifests = present ? (await loadAgents([AGENTS_DIR])).map((a) => a.manifest) : [];
  const slotValues = resolveSlotValues(manifests, config);
  const matcher = compileFastMatcher(manifests, slotValues);

  it("compile into a fast matcher with every phrase, cold agents' too", () => {
    const all = manifests.flatMap((m) => m.intents.flatMap((i) => i.phrases));
    expect(
      manifests.some((m) => m.tier === 'cold' && m.intents.some((i) => i.phrases.length)),
    ).toBe(true);
    expect(matcher.phraseCount).toBe(all.length);
  });

  it('map every sentence their grammars generate back to the intent and args it came from', () => {
    const samples = [
      ...samplePhrases(manifests, slotValues),
      ...samplePhrases(manifests, slotValues, { numberWords: true, freeText: 'green tea' }),
    ];
    const wrong = samples
      .map((s) => ({ s, hit: matcher.match(s.text) }))
      .filter(
        ({ s, hit }) =>
          hit?.agent !== s.agent ||
          hit.intent !== s.intent ||
          JSON.stringify(hit.args) !== JSON.stringify(s.args),
      )
      .map(
        ({ s, hit }) =>
          `${s.text} -> ${hit ? `${hit.agent}.${hit.intent} ${JSON.stringify(hit.args)}` : 'no match'} (want ${s.agent}.${s.intent} ${JSON.stringify(s.args)})`,
      );
    expect(wrong).toEqual([]);
  });

  it('build an LLM schema covering cold agents too, and validate their answers', () => {
    const schema = buildIntentSchema(manifests, slotValues);
    const pairs = (schema.anyOf as { properties: { agent: { enum: string[] } } }[]).map(
      (b) => b.properties.agent.enum[0],
    );
    for (const m of manifests) expect(pairs).toContain(m.name);
    const cold = manifests.find((m) => m.tier === 'cold');
    if (cold) {
      const intent = cold.intents[0];
      const args = Object.fromEntries(
        Object.entries(intent?.args ?? {})
          .filter(([, spec]) => spec.required)
          .map(([name]) => [name, 'what is the tide today']),
      );
      expect(
        validateIntent(
          manifests,
          { agent: cold.name, intent: intent?.name, args, confidence: 0.9 },
          slotValues,
        ).ok,
      ).toBe(true);
    }
  });
});
