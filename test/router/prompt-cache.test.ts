/**
 * The router's requests keep a byte-identical head across calls (system prompt and schema first,
 * then the request and its follow-up context), so Ollama reuses its prompt cache: the requests
 * as they reach an Ollama-wire stand-in are compared byte for byte.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LlmRouter, OllamaHttpClient } from '../../node/router/index.js';
import { startFakeOllama, type FakeOllama } from '../support/fake-ollama.js';
import { MANIFESTS, SLOT_VALUES } from '../agentspec/fixtures.js';

let fake: FakeOllama | null = null;
afterEach(async () => {
  await fake?.close();
  fake = null;
});

/** Length of the common prefix of two strings. */
function common(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** The prompt as Ollama's chat template lays it out: every message's content, in order. */
function prompt(body: Record<string, unknown>): string {
  const messages = body.messages as { role: string; content: string }[];
  return messages.map((m) => `<${m.role}>${m.content}`).join('');
}

describe('router prompt cache', () => {
  it('consecutive requests share the system prompt and schema byte for byte; what changes comes last', async () => {
    fake = await startFakeOllama({ models: [{ name: 'llama3:latest' }] });
    const router = new LlmRouter({
      api: new OllamaHttpClient({ url: fake.url }),
      model: 'llama3',
      manifests: MANIFESTS,
      slotValues: SLOT_VALUES,
    });
    const calls: Array<[string, string | undefined]> = [
      ['could you make it bright in the kitchen', undefined],
      [
        'switch those off again',
        'lights.turn_on {"room":"kitchen"} ("turn on the kitchen lights"), 3 s ago in the kitchen by a',
      ],
      [
        'and the bedroom as well please',
        'lights.turn_off {"room":"kitchen"} ("switch those off again"), 9 s ago in the kitchen by b',
      ],
    ];
    for (const [text, context] of calls) {
      fake.scriptChat({ content: '{"agent":"none","intent":"none","args":{},"confidence":0}' });
      await router.route(text, context ? { context } : {});
    }
    const raws = fake.requests.filter((r) => r.path === '/api/chat').map((r) => r.raw);
    const bodies = fake.chatBodies();
    expect(raws).toHaveLength(3);

    for (let i = 1; i < raws.length; i++) {
      const [before, now] = [bodies[i - 1]!, bodies[i]!];
      // the schema and the system message are the same bytes on every call
      expect(JSON.stringify(now.format)).toBe(JSON.stringify(before.format));
      const [sys0 = '', sys1] = [before, now].map(
        (b) => (b.messages as { content: string }[])[0]!.content,
      );
      expect(sys1).toBe(sys0);
      // the rendered prompt: identical up to the user message, which holds all that changed
      const p0 = prompt(before);
      const p1 = prompt(now);
      const head = `<system>${sys0}<user>`;
      expect(p1.startsWith(head) && p0.startsWith(head)).toBe(true);
      expect(common(p0, p1)).toBeGreaterThanOrEqual(head.length);
      // and on the wire: the request bytes agree through the whole system message
      const upTo = raws[i]!.indexOf('{"role":"user"');
      expect(upTo).toBeGreaterThan(sys0.length);
      expect(common(raws[i - 1]!, raws[i]!)).toBeGreaterThanOrEqual(upTo);
    }
    // nothing per call (the context, a time) is in the system prompt
    expect(router.systemPrompt).not.toMatch(/kitchen by|s ago|\d{4}-\d\d-\d\d/);
    // the context travels in the user message, before the request
    expect((bodies[1]!.messages as { content: string }[])[1]!.content).toBe(
      `Earlier in this room: ${calls[1]![1]}\nRequest: ${calls[1]![0]}`,
    );
    expect((bodies[0]!.messages as { content: string }[])[1]!.content).toBe(calls[0]![0]);
  });
});
