/**
 * The pipeline end to end in one process, every hop a real gRPC call with mesh auth on 127.0.6.x:
 * pi-kitchen (owner, no STT) -> desk (Transcriber, Router over a stand-in Ollama) -> laptop
 * (AgentHost). Speech is made with espeak-ng.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { findOnPath } from '../../node/capabilities/index.js';
import type { Trace } from '../../node/pipeline/index.js';
import { startFakeOllama, type FakeOllama } from '../support/fake-ollama.js';
import { HOST, meshSecret } from './support/net.js';
import { speech, startMesh, type TestMesh } from './support/mesh.js';
import { freePort } from '../support/ports.js';

const espeak = await findOnPath('espeak-ng');

const hosts = { kitchen: HOST, desk: '127.0.6.2', laptop: '127.0.6.3' };

function stages(trace: Trace): string[] {
  return trace.hops.map((h) => `${h.stage}@${h.node}${h.ok ? '' : '!'}`);
}

describe.skipIf(!espeak)('the voice pipeline over real gRPC hops (needs espeak-ng)', () => {
  let fake: FakeOllama;
  let mesh: TestMesh;
  const kitchenOn: { pcm: Int16Array } = { pcm: new Int16Array(0) };
  const mumble: { pcm: Int16Array } = { pcm: new Int16Array(0) };

  beforeAll(async () => {
    fake = await startFakeOllama({ models: [{ name: 'llama3:latest', loaded: true }] });
    mesh = await startMesh({
      secret: meshSecret(),
      hosts,
      ports: { kitchen: await freePort(), desk: await freePort(), laptop: await freePort() },
      ollamaUrl: fake.url,
    });
    kitchenOn.pcm = await speech('turn on the kitchen lights');
    mesh.engine.learn(kitchenOn.pcm, 'turn on the kitchen lights');
    mumble.pcm = await speech('mm hmm');
  });
  afterAll(async () => {
    await mesh?.stop();
    await fake?.close();
  });
  beforeEach(() => {
    mesh.executor.runs.length = 0;
    mesh.published.length = 0;
    mesh.spoken.length = 0;
    fake.requests.length = 0;
  });

  it('fast path: speech on the kitchen Pi is transcribed on desk, matched locally and run on laptop, with no LLM call', async () => {
    const pipeline = mesh.pipeline();
    const result = await pipeline.handleUtterance(kitchenOn.pcm, {
      source: 'mic',
      capture: { speechStartAt: Date.now() - 2500, speechEndAt: Date.now() - 50 },
    });

    expect(result).toMatchObject({
      ok: true,
      transcript: 'turn on the kitchen lights',
      intent: { agent: 'lights', intent: 'on', args: { room: 'kitchen' }, via: 'fast' },
    });
    expect(result.reply).toBe('lights.on {"room":"kitchen"}');
    expect(mesh.executor.runs).toHaveLength(1);
    expect(mesh.executor.runs[0]).toMatchObject({
      agent: 'lights',
      intent: 'on',
      args: { room: 'kitchen' },
      traceId: result.traceId,
    });
    expect(fake.requests.filter((r) => r.path === '/api/chat')).toEqual([]);
    expect(mesh.spoken).toEqual([result.reply]);

    const trace = result.trace;
    expect(stages(trace)).toEqual([
      'vad@pi-kitchen',
      'stt@desk',
      'intent@pi-kitchen',
      'run@laptop',
      'reply@pi-kitchen',
    ]);
    expect(trace.hops[1]?.detail).toMatch(/streamed in 64 ms chunks/);
    expect(trace.hops[2]?.detail).toMatch(/^fast matcher: lights\.on/);
    // hops follow one another in time and none ends after the trace
    for (let i = 1; i < trace.hops.length; i++) {
      const prev = trace.hops[i - 1]!;
      expect(trace.hops[i]!.startMs).toBeGreaterThanOrEqual(prev.startMs);
    }
    for (const h of trace.hops)
      expect(h.startMs + h.durationMs).toBeLessThanOrEqual(trace.totalMs + 0.2);
    expect(trace.hops[0]!.durationMs).toBeGreaterThanOrEqual(2400);
    expect(mesh.published).toEqual([trace]);
    expect(mesh.traces.get(result.traceId)).toEqual(trace);
  });

  it('LLM path: text the fast matcher does not know goes to Router.Route on desk', async () => {
    fake.scriptChat({
      content: JSON.stringify({
        agent: 'lights',
        intent: 'on',
        args: { room: 'kitchen' },
        confidence: 0.92,
      }),
    });
    const result = await mesh.pipeline().handleText('could you make it bright in the kitchen');
    expect(result).toMatchObject({
      ok: true,
      intent: { agent: 'lights', intent: 'on', args: { room: 'kitchen' }, via: 'llm' },
    });
    expect(fake.chatBodies()).toHaveLength(1);
    expect(JSON.stringify(fake.chatBodies()[0]?.messages)).toContain(
      'could you make it bright in the kitchen',
    );
    expect(stages(result.trace)).toEqual([
      'intent@pi-kitchen!',
      'intent@desk',
      'run@laptop',
      'reply@pi-kitchen',
    ]);
    expect(result.trace.hops[1]?.detail).toMatch(/router LLM llama3: lights\.on/);
    expect(mesh.executor.runs).toHaveLength(1);
    // typed text is printed, not spoken
    expect(mesh.spoken).toEqual([]);
  });

  it('not understood: a low-confidence answer runs nothing and the reply quotes the transcript', async () => {
    fake.scriptChat({
      content: JSON.stringify({
        agent: 'lights',
        intent: 'off',
        args: { room: 'kitchen' },
        confidence: 0.2,
      }),
    });
    const result = await mesh.pipeline().handleText('blorp the frobnicator');
    expect(result.ok).toBe(false);
    expect(result.failedStage).toBe('intent');
    expect(result.reply).toMatch(/^I didn't catch that: 'blorp the frobnicator'/);
    expect(mesh.executor.runs).toEqual([]);
    expect(stages(result.trace)).toEqual([
      'intent@pi-kitchen!',
      'intent@desk!',
      'reply@pi-kitchen',
    ]);
    expect(result.trace.failedStage).toBe('intent');
    expect(mesh.published).toEqual([result.trace]);
  });

  it('speech nobody can make out is not acted on', async () => {
    const result = await mesh.pipeline().handleUtterance(mumble.pcm, { source: 'mic' });
    expect(result).toMatchObject({
      ok: false,
      failedStage: 'stt',
      reply: "I didn't hear any words.",
    });
    expect(mesh.executor.runs).toEqual([]);
    expect(mesh.spoken).toEqual(["I didn't hear any words."]);
  });

  it('transcriber unreachable: the reply names the node and the stage', async () => {
    const deadPort = await freePort();
    const view = mesh.view.map((p) =>
      p.name === 'desk' ? { ...p, ports: { ...p.ports, rpc: deadPort } } : p,
    );
    const result = await mesh
      .pipeline({ view: () => view })
      .handleUtterance(kitchenOn.pcm, { source: 'file' });
    expect(result.ok).toBe(false);
    expect(result.failedStage).toBe('stt');
    expect(result.reply).toMatch(/^I couldn't reach the transcriber on desk: /);
    expect(stages(result.trace)).toEqual(['stt@desk!', 'reply@pi-kitchen']);
    expect(result.trace.hops[0]?.detail).toContain(`127.0.6.2:${deadPort}`);
    expect(mesh.executor.runs).toEqual([]);
  });

  it('with no router LLM in the mesh, commands the fast matcher knows still run and others say what to install', async () => {
    const view = mesh.view.map((p) => ({
      ...p,
      capabilities: { ...p.capabilities, ollama: null },
    }));
    const pipeline = mesh.pipeline({ view: () => view });
    const fastOne = await pipeline.handleText('turn off the bedroom lights');
    expect(fastOne).toMatchObject({
      ok: true,
      intent: { agent: 'lights', intent: 'off', args: { room: 'bedroom' } },
    });

    const free = await pipeline.handleText('make it cosy in here');
    expect(free.ok).toBe(false);
    expect(free.failedStage).toBe('intent');
    expect(free.reply).toMatch(/^No router LLM in the mesh: install Ollama .*ollama pull llama3/);
    expect(fake.requests.filter((r) => r.path === '/api/chat')).toEqual([]);
  });

  it('a failed run reaches the person naming the agent and the node', async () => {
    mesh.executor.answer = () => [
      {
        type: 'error',
        code: 'agent_error',
        message: 'the MQTT broker refused the connection',
        retryable: false,
      },
    ];
    try {
      const result = await mesh.pipeline().handleText('turn on the kitchen lights');
      expect(result).toMatchObject({ ok: false, failedStage: 'run' });
      expect(result.reply).toBe('Lights failed on laptop: the MQTT broker refused the connection.');
      expect(stages(result.trace)).toEqual([
        'intent@pi-kitchen',
        'run@laptop!',
        'reply@pi-kitchen',
      ]);
    } finally {
      mesh.executor.answer = (req) => [
        {
          type: 'result',
          text: `${req.agent}.${req.intent} ${JSON.stringify(req.args)}`,
          data: null,
        },
      ];
    }
  });

  it('transcribes a file on the node named with --on and traces that hop', async () => {
    const result = await mesh.pipeline().transcribe(kitchenOn.pcm, { on: 'desk' });
    expect(result).toMatchObject({
      ok: true,
      node: 'desk',
      transcript: { text: 'turn on the kitchen lights' },
    });
    expect(stages(result.trace)).toEqual(['stt@desk']);
    expect(mesh.executor.runs).toEqual([]);

    const nowhere = await mesh.pipeline().transcribe(kitchenOn.pcm, { on: 'attic' });
    expect(nowhere.ok).toBe(false);
    expect(nowhere.error).toMatch(/^No node named attic in the mesh/);
  });

  it('streams progress events while a command runs', async () => {
    const events: string[] = [];
    await mesh.pipeline().handleUtterance(kitchenOn.pcm, {
      source: 'file',
      onEvent: (e) => events.push(e.type === 'hop' ? `hop:${e.hop.stage}` : e.type),
    });
    expect(events).toEqual([
      'hop:stt',
      'transcript',
      'hop:intent',
      'intent',
      'hop:run',
      'hop:reply',
    ]);
  });
});
