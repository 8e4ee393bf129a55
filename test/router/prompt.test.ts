import { describe, expect, it } from 'vitest';
import { buildSystemPrompt } from '../../node/router/index.js';
import { MANIFESTS, SLOT_VALUES } from '../agentspec/fixtures.js';

describe('system prompt', () => {
  it('lists agents, intents and allowed values in the system prompt', () => {
    const prompt = buildSystemPrompt(MANIFESTS, SLOT_VALUES);
    for (const m of MANIFESTS) {
      expect(prompt).toContain(`- ${m.name}`);
      for (const i of m.intents) expect(prompt).toContain(`intent ${i.name}`);
    }
    expect(prompt).toContain('one of: kitchen, living room, bedroom');
    expect(prompt).toContain('min 0; max 100');
  });
});
