import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LlmRouter,
  OllamaBadRequestError,
  OllamaBusyError,
  OllamaHttpClient,
  OllamaModelMissingError,
  OllamaProtocolError,
  OllamaTimeoutError,
  OllamaUnreachableError,
  OllamaError,
  type LlmRouterOptions,
  type RouteOutcome,
} from '../../node/router/index.js';
import {
  startFakeOllama,
  type FakeOllama,
  type FakeOllamaOptions,
} from '../support/fake-ollama.js';
import { MANIFESTS, SLOT_VALUES } from '../agentspec/fixtures.js';
import { freePort } from '../support/ports.js';

const MODEL = 'llama3';
const answer = (o: Record<string, unknown>) => JSON.stringify(o);
const KITCHEN_ON = {
  agent: 'lights',
  intent: 'turn_on',
  args: { room: 'kitchen' },
  confidence: 0.92,
};

let fake: FakeOllama | null = null;
afterEach(async () => {
  await fake?.close();
  fake = null;
});

async function setup(
  serverOpts: FakeOllamaOptions = { models: [{ name: 'llama3:latest' }] },
  routerOpts: Partial<LlmRouterOptions> = {},
) {
  fake = await startFakeOllama(serverOpts);
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void logs.push(JSON.parse(line)) },
  );
  const router = new LlmRouter({
    api: new OllamaHttpClient({ url: fake.url }),
    model: MODEL,
    manifests: MANIFESTS,
    slotValues: SLOT_VALUES,
    keepAlive: '30m',
    minConfidence: 0.6,
    timeoutMs: 5000,
    logger,
    ...routerOpts,
  });
  return { fake, router, logs };
}

function expectNotUnderstood(outcome: RouteOutcome, transcript: string, reason: string) {
  expect(outcome.kind).toBe('not-understood');
  if (outcome.kind !== 'not-understood') return;
  expect(outcome.transcript).toBe(transcript);
  expect(outcome.reason).toContain(reason);
}

function expectUnavailable(
  outcome: RouteOutcome,
  errorClass: abstract new (...args: never[]) => OllamaError,
  reason: string,
) {
  expect(outcome.kind).toBe('unavailable');
  if (outcome.kind !== 'unavailable') return;
  expect(outcome.error).toBeInstanceOf(errorClass);
  expect(outcome.reason).toContain(reason);
}

describe('LLM router over Ollama', () => {
  it('turns a valid answer into an intent and sends format, keep_alive and the prompt', async () => {
    const { fake, router } = await setup();
    fake.scriptChat({ content: answer(KITCHEN_ON) });
    const outcome = await router.route('could you make it bright in the kitchen', {
      traceId: 't1',
    });
    expect(outcome).toEqual({
      kind: 'intent',
      via: 'llm',
      intent: { agent: 'lights', intent: 'turn_on', args: { room: 'kitchen' }, confidence: 0.92 },
    });
    const [body] = fake.chatBodies();
    expect(body?.model).toBe(MODEL);
    expect(body?.format).toEqual(router.schema);
    expect(body?.keep_alive).toBe('30m');
    expect(body?.stream).toBe(false);
    expect(body?.messages).toEqual([
      { role: 'system', content: router.systemPrompt },
      { role: 'user', content: 'could you make it bright in the kitchen' },
    ]);
    expect(body).not.toHaveProperty('think');
  });

  it('reads a streamed (NDJSON) answer the same way', async () => {
    const { fake, router } = await setup(undefined, { stream: true });
    fake.scriptChat({ content: answer(KITCHEN_ON) });
    const outcome = await router.route('kitchen lights please');
    expect(outcome).toMatchObject({
      kind: 'intent',
      intent: { agent: 'lights', args: { room: 'kitchen' } },
    });
    expect(fake.chatBodies()[0]?.stream).toBe(true);
  });

  it('sends keep_alive given in seconds as a number', async () => {
    const { fake, router } = await setup(undefined, { keepAlive: '-1' });
    fake.scriptChat({ content: answer(KITCHEN_ON) });
    await router.route('kitchen lights on');
    expect(fake.chatBodies()[0]?.keep_alive).toBe(-1);
  });

  it('says "not understood" for invalid JSON, with the transcript, and logs the raw answer at debug', async () => {
    const { fake, router, logs } = await setup();
    fake.scriptChat({ content: 'Sure! I will turn on the kitchen lights.' });
    const outcome = await router.route('kitchen lights', { traceId: 'trace-7' });
    expectNotUnderstood(outcome, 'kitchen lights', 'not answer with valid JSON');
    const logged = logs.find((l) => l.msg === 'router LLM answer is not JSON');
    expect(logged).toMatchObject({
      level: 20,
      traceId: 'trace-7',
      raw: 'Sure! I will turn on the kitchen lights.',
    });
  });

  it('says "not understood" for an empty answer', async () => {
    const { fake, router } = await setup();
    fake.scriptChat({ content: '' });
    expectNotUnderstood(await router.route('hmm'), 'hmm', 'gave no answer');
  });

  it('reads message.thinking apart from the answer (new servers) and sends think only to a thinking model', async () => {
    const { fake, router } = await setup(
      { models: [{ name: 'qwen3:8b', capabilities: ['completion', 'tools', 'thinking'] }] },
      { model: 'qwen3:8b', think: true },
    );
    fake.scriptChat({
      thinking: 'The person wants light in the kitchen. {"agent": "wrong"}',
      content: answer(KITCHEN_ON),
    });
    const outcome = await router.route('kitchen lights on');
    expect(outcome).toMatchObject({
      kind: 'intent',
      intent: { agent: 'lights', intent: 'turn_on' },
    });
    expect(fake.chatBodies()[0]?.think).toBe(true);
  });

  it('turns thinking off by default on thinking models, and copes when the model thinks anyway', async () => {
    const { fake, router } = await setup(
      { models: [{ name: 'gpt-oss:20b', capabilities: ['completion', 'thinking'] }] },
      { model: 'gpt-oss:20b', stream: true },
    );
    fake.scriptChat({
      thinking: 'Reasoning that cannot be switched off.',
      forceThinking: true,
      content: answer(KITCHEN_ON),
    });
    expect((await router.route('kitchen lights on')).kind).toBe('intent');
    expect(fake.chatBodies()[0]?.think).toBe(false);
  });

  it('strips an inline <think> block (old servers) and never sends think to them', async () => {
    const { fake, router } = await setup(
      {
        legacy: true,
        models: [{ name: 'deepseek-r1:7b', capabilities: ['completion', 'thinking'] }],
      },
      { model: 'deepseek-r1:7b', think: true },
    );
    fake.scriptChat({
      thinking: 'Maybe {"agent": "echo"}? No: lights.',
      content: answer(KITCHEN_ON),
    });
    const outcome = await router.route('kitchen lights on');
    expect(outcome).toMatchObject({
      kind: 'intent',
      intent: { agent: 'lights', args: { room: 'kitchen' } },
    });
    expect(fake.chatBodies()[0]).not.toHaveProperty('think');
    expect(await router.modelCapabilities()).toBeNull();
  });

  it('never sends think to a model whose capabilities lack it, even when asked to think', async () => {
    const { fake, router } = await setup(
      { models: [{ name: 'llama3:latest', capabilities: ['completion', 'tools'] }] },
      { think: true },
    );
    fake.scriptChat({ content: answer(KITCHEN_ON) });
    expect((await router.route('kitchen lights on')).kind).toBe('intent');
    expect(fake.chatBodies()[0]).not.toHaveProperty('think');
  });

  it('retries once without think when the server refuses it after all', async () => {
    const { fake, router } = await setup(
      { models: [{ name: 'llama3:latest', capabilities: ['completion', 'thinking'] }] },
      { think: true },
    );
    fake.scriptChat(
      { status: 400, error: '"llama3" does not support thinking' },
      { content: answer(KITCHEN_ON) },
    );
    expect((await router.route('kitchen lights on')).kind).toBe('intent');
    const bodies = fake.chatBodies();
    expect(bodies.map((b) => b.think)).toEqual([true, undefined]);
  });

  it('asks /api/show once per router', async () => {
    const { fake, router } = await setup();
    fake.scriptChat({ content: answer(KITCHEN_ON) }, { content: answer(KITCHEN_ON) });
    await router.route('kitchen lights on');
    await router.route('kitchen lights on');
    expect(fake.requests.filter((r) => r.path === '/api/show')).toHaveLength(1);
  });

  it('says "not understood" below router.min_confidence, and nothing runs', async () => {
    const { fake, router } = await setup();
    fake.scriptChat({ content: answer({ ...KITCHEN_ON, confidence: 0.35 }) });
    expectNotUnderstood(
      await router.route('kitchen maybe'),
      'kitchen maybe',
      'below router.min_confidence 0.6',
    );
  });

  it.each([
    [
      'a room that is not configured',
      { ...KITCHEN_ON, args: { room: 'garage' } },
      '"room" must be one of',
    ],
    [
      'an unknown argument',
      { ...KITCHEN_ON, args: { room: 'kitchen', colour: 'red' } },
      'unknown argument "colour"',
    ],
    [
      'a value out of range',
      {
        agent: 'lights',
        intent: 'set_brightness',
        args: { room: 'kitchen', level: 400 },
        confidence: 1,
      },
      'at most 100',
    ],
    [
      'an unknown agent',
      { agent: 'garage', intent: 'open', args: {}, confidence: 1 },
      'unknown agent',
    ],
    ['"none"', { agent: 'none', intent: 'none', args: {}, confidence: 0 }, 'no installed agent'],
  ])('never returns an intent for %s', async (_name, reply, reason) => {
    const { fake, router } = await setup();
    fake.scriptChat({ content: answer(reply) });
    expectNotUnderstood(await router.route('do the thing'), 'do the thing', reason);
  });

  it('reports HTTP 400 as unavailable with the server message', async () => {
    const { fake, router } = await setup();
    fake.scriptChat({ status: 400, error: 'invalid format: schema too complex' });
    expectUnavailable(
      await router.route('x'),
      OllamaBadRequestError,
      'HTTP 400: invalid format: schema too complex',
    );
  });

  it('reports a missing model with the pull command', async () => {
    const { router } = await setup({ models: [{ name: 'mistral:latest' }] });
    expectUnavailable(await router.route('x'), OllamaModelMissingError, '`ollama pull llama3`');
  });

  it('reports a model removed after /api/show (chat 404) with the pull command', async () => {
    const { fake, router } = await setup();
    fake.scriptChat({ status: 404, error: 'model "llama3" not found, try pulling it first' });
    expectUnavailable(await router.route('x'), OllamaModelMissingError, 'ollama pull llama3');
  });

  it('reports HTTP 503 as busy', async () => {
    const { fake, router } = await setup();
    fake.scriptChat({
      status: 503,
      error: 'server busy, please try again.  maximum pending requests exceeded',
    });
    expectUnavailable(await router.route('x'), OllamaBusyError, 'is busy (HTTP 503: server busy');
  });

  it('gives up after router.timeout_ms', async () => {
    const { fake, router } = await setup(undefined, { timeoutMs: 300 });
    await router.modelCapabilities();
    fake.scriptChat({ delayMs: 3000, content: answer(KITCHEN_ON) });
    expectUnavailable(await router.route('x'), OllamaTimeoutError, 'did not answer within 300 ms');
  });

  it('reports a refused connection with how to start Ollama', async () => {
    const port = await freePort();
    const router = new LlmRouter({
      api: new OllamaHttpClient({ url: `http://127.0.0.1:${port}` }),
      model: MODEL,
      manifests: MANIFESTS,
      slotValues: SLOT_VALUES,
    });
    expectUnavailable(await router.route('x'), OllamaUnreachableError, 'ECONNREFUSED');
  });

  it('sends again once on a fresh connection when the server drops one without a reply', async () => {
    const { fake, router } = await setup();
    fake.scriptChat({ dropConnection: true }, { content: answer(KITCHEN_ON) });
    expect((await router.route('kitchen lights on')).kind).toBe('intent');
    expect(fake.chatBodies()).toHaveLength(2);
  });

  it('reports a server that keeps dropping the connection as unreachable', async () => {
    const { fake, router } = await setup();
    fake.scriptChat({ dropConnection: true }, { dropConnection: true });
    expectUnavailable(await router.route('x'), OllamaUnreachableError, 'UND_ERR_SOCKET');
  });

  it('reports an error line in the middle of a stream', async () => {
    const { fake, router } = await setup(undefined, { stream: true });
    fake.scriptChat({
      content: answer(KITCHEN_ON),
      streamError: 'llama runner process has terminated: signal: killed',
    });
    expectUnavailable(await router.route('x'), OllamaError, 'llama runner process has terminated');
  });

  it('reports a reply that is not Ollama’s format', async () => {
    const { fake, router } = await setup();
    fake.scriptChat({ rawBody: '<html>proxy login</html>' });
    expectUnavailable(await router.route('x'), OllamaProtocolError, 'cannot read');
  });

  it('passes the caller’s abort through instead of calling it unavailable', async () => {
    const { fake, router } = await setup();
    await router.modelCapabilities();
    fake.scriptChat({ delayMs: 3000, content: answer(KITCHEN_ON) });
    const ac = new AbortController();
    const pending = router.route('x', { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('person walked away')), 50);
    await expect(pending).rejects.toThrow('person walked away');
  });

  it('lets concurrent routes share /api/show without one caller’s abort failing the others', async () => {
    const { fake, router } = await setup();
    fake.scriptChat({ content: answer(KITCHEN_ON) });
    const ac = new AbortController();
    const first = router.route('x', { signal: ac.signal });
    const second = router.route('kitchen lights on');
    ac.abort(new Error('first caller gone'));
    await expect(first).rejects.toThrow('first caller gone');
    expect((await second).kind).toBe('intent');
    expect(fake.requests.filter((r) => r.path === '/api/show')).toHaveLength(1);
  });

  it('does not call Ollama for an empty transcript', async () => {
    const { fake, router } = await setup();
    expectNotUnderstood(await router.route('   '), '', 'nothing was said');
    expect(fake.requests).toHaveLength(0);
  });

  it('builds from config.router', async () => {
    fake = await startFakeOllama({ models: [{ name: 'llama3:latest' }] });
    const router = LlmRouter.fromConfig(
      {
        ollama_url: fake.url,
        model: 'llama3',
        keep_alive: '10m',
        min_confidence: 0.95,
        timeout_ms: 2000,
      },
      MANIFESTS,
      SLOT_VALUES,
    );
    fake.scriptChat({ content: answer(KITCHEN_ON) });
    expectNotUnderstood(
      await router.route('kitchen'),
      'kitchen',
      'below router.min_confidence 0.95',
    );
    expect(fake.chatBodies()[0]?.keep_alive).toBe('10m');
  });
});
