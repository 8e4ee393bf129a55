import { describe, expect, it } from 'vitest';
import { noRouterLlmMessage } from '../../node/placement/router.js';
import { routeTranscript, type RouteOutcome } from '../../node/router/index.js';
import { compileFastMatcher } from '../../node/agentspec/index.js';
import { MANIFESTS, SLOT_VALUES } from '../agentspec/fixtures.js';

const fast = compileFastMatcher(MANIFESTS, SLOT_VALUES);

describe('routeTranscript', () => {
  it('takes the fast path without asking the LLM', async () => {
    const asked: string[] = [];
    const outcome = await routeTranscript('turn on the kitchen lights', {
      fast,
      llm: async (text) => {
        asked.push(text);
        return { kind: 'not-understood', reason: 'x', transcript: text };
      },
      noLlmMessage: noRouterLlmMessage('llama3'),
    });
    expect(outcome).toEqual({
      kind: 'intent',
      via: 'fast',
      intent: { agent: 'lights', intent: 'turn_on', args: { room: 'kitchen' }, confidence: 1 },
    });
    expect(asked).toEqual([]);
  });

  it('hands the rest to the LLM router with the trace id', async () => {
    const llmOutcome: RouteOutcome = {
      kind: 'not-understood',
      reason: 'low confidence',
      transcript: 'make it cosy',
    };
    let seen: unknown;
    const outcome = await routeTranscript('make it cosy', {
      fast,
      llm: async (text, opts) => {
        seen = { text, traceId: opts.traceId };
        return llmOutcome;
      },
      noLlmMessage: '',
      traceId: 'tr-1',
    });
    expect(outcome).toBe(llmOutcome);
    expect(seen).toEqual({ text: 'make it cosy', traceId: 'tr-1' });
  });

  it('says what to install when the mesh has no router LLM, while the fast path still works', async () => {
    const opts = { fast, llm: null, noLlmMessage: noRouterLlmMessage('llama3') };
    expect(await routeTranscript('make it cosy', opts)).toEqual({
      kind: 'unavailable',
      reason: noRouterLlmMessage('llama3'),
    });
    expect((await routeTranscript('cancel the timer', opts)).kind).toBe('intent');
  });
});
