/**
 * The Pipeline as a unit: every dependency a plain object (support/plain.ts), so these cases
 * need no espeak-ng, gRPC, NATS or Docker. They assert what a person and `helix-node trace`
 * see: the result, the reply, the trace's hops and the events streamed to `say` / `listen`.
 */
import { describe, expect, it } from 'vitest';
import type { FastMatch, RunErrorCode } from '../../node/agentspec/index.js';
import type { RemoteRunEvent } from '../../node/agenthost/index.js';
import { noRouterLlmMessage } from '../../node/placement/index.js';
import {
  TraceSchema,
  TraceStore,
  type PipelineResult,
  type RouteRemote,
  type Speak,
} from '../../node/pipeline/index.js';
import { GrpcStatus, RpcCallError } from '../../node/rpc/index.js';
import type { RouteOutcome } from '../../node/router/index.js';
import type { TranscribeRemote, Transcript } from '../../node/transcribe/index.js';
import {
  events,
  matcher,
  peer,
  plainPipeline,
  ranOn,
  ROUTER_MODEL,
  runScript,
  SELF,
  SELF_ID,
  sttEngine,
  transcript,
} from './support/plain.js';

const LIGHTS_ON: FastMatch = {
  agent: 'lights',
  intent: 'turn_on',
  args: { room: 'kitchen' },
  confidence: 1,
  phrase: 'turn on [the] {room} lights',
};
const SAID = 'turn on the kitchen lights';
const FREE = 'make it cosy in here';
const DIM = { agent: 'lights', intent: 'dim', args: { room: 'living room', level: 30 } };

/** 1 s of 16 kHz audio */
const PCM = new Int16Array(16_000);

const fast = () => matcher({ [SAID]: LIGHTS_ON });

function speaker(engine: string | null = 'piper'): Speak & { said: string[] } {
  const said: string[] = [];
  const speak: Speak = async (text) => {
    said.push(text);
    return engine ? { engine } : null;
  };
  return Object.assign(speak, { said });
}

function routeRemote(
  answer: RouteOutcome | Error,
): RouteRemote & { asked: Array<{ peer: string; text: string }> } {
  const asked: Array<{ peer: string; text: string }> = [];
  const route: RouteRemote = async (p, text) => {
    asked.push({ peer: p.name, text });
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return Object.assign(route, { asked });
}

const routed = (confidence = 0.9): RouteOutcome => ({
  kind: 'intent',
  intent: { ...DIM, confidence },
  via: 'llm',
});

/** pi-kitchen (self, mic only), desk (STT + router LLM), laptop (Docker) */
const mesh = () => [
  peer(SELF, { self: true }),
  peer('desk', { stt: true, router: true }),
  peer('laptop', { caps: { docker: { version: '27.0.0', platform: 'linux/amd64' } } }),
];

const stages = (r: PipelineResult) => r.trace.hops.map((h) => `${h.stage}@${h.node}:${h.ok}`);
const hopEvents = (seen: ReturnType<typeof events>['seen']) =>
  seen.flatMap((e) => (e.type === 'hop' ? [e.hop] : []));

/** What holds for every trace: schema-valid, hops in pipeline order, times present and sane. */
function expectWellFormed(r: PipelineResult): void {
  expect(TraceSchema.parse(r.trace)).toEqual(r.trace);
  expect(r.trace.traceId).toBe(r.traceId);
  expect(r.trace.ok).toBe(r.ok);
  expect(r.trace.reply).toBe(r.reply);
  expect(r.trace.failedStage).toBe(r.failedStage);
  const order = ['vad', 'stt', 'intent', 'run', 'reply'];
  let last = -1;
  for (const hop of r.trace.hops) {
    expect(typeof hop.durationMs).toBe('number');
    expect(hop.durationMs).toBeGreaterThanOrEqual(0);
    expect(hop.startMs).toBeGreaterThanOrEqual(0);
    expect(hop.startMs + hop.durationMs).toBeLessThanOrEqual(r.trace.totalMs + 0.1);
    const at = order.indexOf(hop.stage);
    expect(at).toBeGreaterThanOrEqual(last);
    last = at;
  }
}

describe('Pipeline success paths and their traces', () => {
  it('handleText: fast matcher -> run on the placed host -> printed reply', async () => {
    const runIntent = runScript(ranOn('The kitchen lights are on.'));
    const speak = speaker();
    const traces = new TraceStore();
    const { pipeline, published } = plainPipeline({
      view: mesh,
      fastMatcher: fast(),
      runIntent,
      speak,
      traces,
    });
    const r = await pipeline.handleText(`  ${SAID}  `, { traceId: 'abc123' });

    expect(r).toMatchObject({
      traceId: 'abc123',
      ok: true,
      transcript: SAID,
      reply: 'The kitchen lights are on.',
      intent: { agent: 'lights', intent: 'turn_on', args: { room: 'kitchen' }, via: 'fast' },
    });
    expect(r.failedStage).toBeUndefined();
    expect(runIntent.ran).toEqual([
      { agent: 'lights', intent: 'turn_on', args: { room: 'kitchen' }, confidence: 1 },
    ]);
    expect(stages(r)).toEqual([`intent@${SELF}:true`, 'run@laptop:true', `reply@${SELF}:true`]);
    expect(r.trace).toMatchObject({ source: 'text', owner: SELF, ownerId: SELF_ID });
    expect(r.trace.hops[0]?.detail).toBe(
      'fast matcher: lights.turn_on ("turn on [the] {room} lights")',
    );
    expect(r.trace.hops[1]?.detail).toBe('lights.turn_on warm (warm there)');
    expect(r.trace.hops[2]?.detail).toBe('printed');
    expect(speak.said).toEqual([]); // text is not spoken unless asked
    expect(published).toEqual([r.trace]);
    expect(traces.get('abc123')).toEqual(r.trace);
    expectWellFormed(r);
  });

  it('handleUtterance from the mic: vad -> local stt -> intent -> run -> spoken reply', async () => {
    const stt = sttEngine(transcript(SAID));
    const speak = speaker();
    const { pipeline } = plainPipeline({ view: mesh, stt, fastMatcher: fast(), speak });
    const now = Date.now();
    const r = await pipeline.handleUtterance(PCM, {
      source: 'mic',
      capture: { speechStartAt: now - 1500, speechEndAt: now - 300 },
    });

    expect(r).toMatchObject({ ok: true, transcript: SAID, reply: 'Done.' });
    expect(stt.heard).toEqual([16_000]);
    expect(stages(r)).toEqual([
      `vad@${SELF}:true`,
      `stt@${SELF}:true`,
      `intent@${SELF}:true`,
      'run@laptop:true',
      `reply@${SELF}:true`,
    ]);
    const [vad, sttHop, , , reply] = r.trace.hops;
    expect(vad).toMatchObject({ startMs: 0, durationMs: 1200, detail: 'utterance of 1000 ms' });
    // the trace starts at speech start, so it covers end of speech -> action
    expect(r.trace.totalMs).toBeGreaterThanOrEqual(1500);
    expect(sttHop?.startMs).toBeGreaterThanOrEqual(1500);
    expect(sttHop?.detail).toContain(
      'whisper base.en here (1.0 s of audio; it never left this node)',
    );
    expect(reply?.detail).toBe('printed and spoken with piper');
    expect(speak.said).toEqual(['Done.']);
    expect(r.trace.source).toBe('mic');
    expectWellFormed(r);
  });

  it('handleUtterance from a file: the nearest STT peer transcribes, partials stream', async () => {
    const calls: Array<{ peer: string; samples: number; traceId: string; language?: string }> = [];
    const transcribeRemote: TranscribeRemote = async (p, pcm, opts) => {
      calls.push({
        peer: p.name,
        samples: pcm.length,
        traceId: opts.traceId ?? '',
        language: opts.language,
      });
      opts.onPartial?.(transcript('turn on the'));
      return transcript(SAID);
    };
    const speak = speaker();
    const { pipeline } = plainPipeline({
      view: mesh,
      transcribeRemote,
      fastMatcher: fast(),
      speak,
      language: 'en',
    });
    const ev = events();
    const r = await pipeline.handleUtterance(PCM, { source: 'file', onEvent: ev.onEvent });

    expect(r.ok).toBe(true);
    expect(calls).toEqual([{ peer: 'desk', samples: 16_000, traceId: r.traceId, language: 'en' }]);
    expect(stages(r)).toEqual([
      'stt@desk:true',
      `intent@${SELF}:true`,
      'run@laptop:true',
      `reply@${SELF}:true`,
    ]);
    expect(r.trace.hops[0]?.detail).toMatch(/^1\.0 s of audio streamed in 64 ms chunks \(/);
    expect(ev.seen[0]).toEqual({ type: 'partial', text: 'turn on the' });
    expect(ev.seen).toContainEqual({ type: 'transcript', text: SAID, node: 'desk' });
    expect(speak.said).toEqual([]); // a file's reply is printed only, unless asked
    expect(r.trace.source).toBe('file');
    expectWellFormed(r);
  });

  it('--on NODE picks the transcriber by name, and this node by its own name', async () => {
    const remote: string[] = [];
    const transcribeRemote: TranscribeRemote = async (p) => {
      remote.push(p.name);
      return transcript(SAID);
    };
    const view = () => [...mesh(), peer('attic', { stt: true, rttMs: 40 })];
    const local = sttEngine(transcript(SAID));
    const { pipeline } = plainPipeline({ view, stt: local, transcribeRemote, fastMatcher: fast() });

    const there = await pipeline.handleUtterance(PCM, { source: 'file', transcribeOn: 'attic' });
    expect(there.trace.hops[0]).toMatchObject({ stage: 'stt', node: 'attic', ok: true });
    expect(there.trace.hops[0]?.detail).toContain('(--on attic)');
    const here = await pipeline.handleUtterance(PCM, { source: 'file', transcribeOn: SELF });
    expect(here.trace.hops[0]).toMatchObject({ stage: 'stt', node: SELF, ok: true });
    expect(remote).toEqual(['attic']);
    expect(local.heard).toEqual([16_000]);
  });

  it('a run that answers nothing says "Done."', async () => {
    const { pipeline } = plainPipeline({
      view: mesh,
      fastMatcher: fast(),
      runIntent: runScript(ranOn('  ')),
    });
    const r = await pipeline.handleText(SAID);
    expect(r).toMatchObject({ ok: true, reply: 'Done.' });
  });

  it('a cold start and a host that names itself on accept show in the run hop', async () => {
    const runIntent = runScript([
      {
        type: 'placed',
        node: 'laptop',
        nodeId: 'id-laptop',
        warm: false,
        reason: 'image there',
        attempt: 1,
      },
      { type: 'accepted', hostNode: 'id-laptop', hostName: 'laptop.lan', warm: false },
      { type: 'result', text: 'On.', data: null, hostName: '' },
    ]);
    const { pipeline } = plainPipeline({ view: mesh, fastMatcher: fast(), runIntent });
    const r = await pipeline.handleText(SAID);
    expect(r.trace.hops[1]).toMatchObject({
      stage: 'run',
      node: 'laptop.lan',
      ok: true,
      detail: 'lights.turn_on cold (image there)',
    });
  });

  it('where the host got its image (built for its platform elsewhere, fetched) is in the run hop', async () => {
    const runIntent = runScript([
      {
        type: 'placed',
        node: 'pi',
        nodeId: 'id-pi',
        warm: false,
        reason: 'cold run on pi (linux/arm64)',
        attempt: 1,
      },
      { type: 'progress', message: 'asking laptop (it has Go) to build it for linux/arm64' },
      { type: 'progress', message: 'built for linux/arm64 on laptop, 1.1 s' },
      {
        type: 'progress',
        message: 'fetched helix-agent-lights:0123-linux-arm64 from laptop (1.7 MB, 0.4 s)',
      },
      { type: 'result', text: 'On.', data: null, hostName: 'pi' },
    ]);
    const { pipeline } = plainPipeline({ view: mesh, fastMatcher: fast(), runIntent });
    const r = await pipeline.handleText(SAID);
    expect(r.trace.hops[1]?.detail).toBe(
      'lights.turn_on cold (cold run on pi (linux/arm64)); built for linux/arm64 on laptop, 1.1 s; fetched helix-agent-lights:0123-linux-arm64 from laptop (1.7 MB, 0.4 s)',
    );
  });
});

describe('the intent stage: fast matcher, router LLM, no router', () => {
  it('a fast matcher hit never asks the router', async () => {
    const route = routeRemote(routed());
    const { pipeline } = plainPipeline({ view: mesh, fastMatcher: fast(), routeRemote: route });
    const r = await pipeline.handleText(SAID);
    expect(r.intent?.via).toBe('fast');
    expect(route.asked).toEqual([]);
  });

  it('a miss goes to the router LLM on the peer placement picks', async () => {
    const route = routeRemote(routed(0.82));
    const runIntent = runScript(ranOn('Dimmed.'));
    const { pipeline } = plainPipeline({
      view: mesh,
      fastMatcher: fast(),
      routeRemote: route,
      runIntent,
    });
    const r = await pipeline.handleText(FREE);

    expect(route.asked).toEqual([{ peer: 'desk', text: FREE }]);
    expect(r).toMatchObject({
      ok: true,
      reply: 'Dimmed.',
      intent: { ...DIM, confidence: 0.82, via: 'llm' },
    });
    expect(runIntent.ran).toEqual([{ ...DIM, confidence: 0.82 }]);
    expect(stages(r)).toEqual([
      `intent@${SELF}:false`,
      'intent@desk:true',
      'run@laptop:true',
      `reply@${SELF}:true`,
    ]);
    expect(r.trace.hops[0]?.detail).toBe('fast matcher: no phrase matched');
    expect(r.trace.hops[1]?.detail).toBe(
      `router LLM ${ROUTER_MODEL}: lights.dim (confidence 0.82)`,
    );
    expectWellFormed(r);
  });

  it('a room the house does not have is answered with the rooms it has, without the router', async () => {
    const route = routeRemote(routed());
    const runIntent = runScript(ranOn('Turned on.'));
    const fastMatcher = {
      ...fast(),
      unknownValue: (text: string) =>
        text === 'turn on the garage lights'
          ? {
              agent: 'lights',
              intent: 'turn_on',
              arg: 'room',
              value: 'garage',
              from: 'lights.rooms',
              allowed: ['kitchen', 'living_room', 'bedroom'],
            }
          : null,
    };
    const { pipeline } = plainPipeline({ view: mesh, fastMatcher, routeRemote: route, runIntent });
    const r = await pipeline.handleText('turn on the garage lights');
    expect(r).toMatchObject({
      ok: false,
      reply: "I don't know a room called garage; the rooms are bedroom, kitchen and living room.",
    });
    expect(route.asked).toEqual([]);
    expect(runIntent.ran).toEqual([]);
    expect(r.trace.hops[0]?.detail).toMatch(/room "garage" is not one of lights\.rooms/);
  });

  it('without a fast matcher the router is asked straight away', async () => {
    const route = routeRemote(routed());
    const { pipeline } = plainPipeline({ view: mesh, routeRemote: route });
    const r = await pipeline.handleText(FREE);
    expect(stages(r)).toEqual(['intent@desk:true', 'run@laptop:true', `reply@${SELF}:true`]);
  });

  it('this node routes itself when placement picks it and it has a router', async () => {
    const asked: string[] = [];
    const route = routeRemote(routed());
    const { pipeline } = plainPipeline({
      view: () => [
        peer(SELF, { self: true, router: true }),
        peer('desk', { router: true, rttMs: 3 }),
      ],
      routeRemote: route,
      localLlmRouter: {
        route: async (text) => {
          asked.push(text);
          return routed(0.7);
        },
      },
    });
    const r = await pipeline.handleText(FREE);
    expect(asked).toEqual([FREE]);
    expect(route.asked).toEqual([]);
    expect(r.trace.hops[0]).toMatchObject({ stage: 'intent', node: SELF, ok: true });
  });

  it.each([
    ['no Ollama anywhere', () => mesh().filter((p) => p.name !== 'desk'), true],
    ['a router peer but no way to call it', mesh, false],
  ])(
    'no router in the mesh (%s): says what to install, runs nothing',
    async (_what, view, canCall) => {
      const runIntent = runScript(ranOn('never'));
      const { pipeline } = plainPipeline({
        view,
        fastMatcher: fast(),
        routeRemote: canCall ? routeRemote(routed()) : null,
        runIntent,
      });
      const r = await pipeline.handleText(FREE);
      const message = noRouterLlmMessage(ROUTER_MODEL);
      expect(r).toMatchObject({ ok: false, failedStage: 'intent', transcript: FREE });
      expect(r.reply).toBe(message[0]!.toUpperCase() + message.slice(1) + '.');
      expect(r.intent).toBeUndefined();
      expect(runIntent.ran).toEqual([]);
      expect(stages(r)).toEqual([
        `intent@${SELF}:false`,
        `intent@${SELF}:false`,
        `reply@${SELF}:true`,
      ]);
      expect(r.trace.hops[1]?.detail).toBe(message);
      expectWellFormed(r);
    },
  );

  it.each<[string, RouteOutcome | Error, string, string]>([
    [
      'low confidence',
      { kind: 'not-understood', reason: 'confidence 0.31 is below 0.6.', transcript: FREE },
      `I didn't catch that: '${FREE}' (confidence 0.31 is below 0.6).`,
      'not understood: confidence 0.31 is below 0.6.',
    ],
    [
      'an invalid intent',
      { kind: 'not-understood', reason: 'lights has no intent "warm_up"', transcript: FREE },
      `I didn't catch that: '${FREE}' (lights has no intent "warm_up").`,
      'not understood: lights has no intent "warm_up"',
    ],
    [
      'no reason',
      { kind: 'not-understood', reason: '', transcript: FREE },
      `I didn't catch that: '${FREE}'.`,
      'not understood: ',
    ],
    [
      'an unavailable Ollama',
      { kind: 'unavailable', reason: 'Ollama is not running at 127.0.0.1:11434' },
      'The router on desk is unavailable: Ollama is not running at 127.0.0.1:11434.',
      'router unavailable: Ollama is not running at 127.0.0.1:11434',
    ],
    [
      'a router peer that is down',
      new RpcCallError(GrpcStatus.UNAVAILABLE, 'connect ECONNREFUSED'),
      "I couldn't reach the router on desk: it is not answering; check that helix-node runs there.",
      'router LLM: connect ECONNREFUSED',
    ],
    [
      'a router peer that does not answer in time',
      new RpcCallError(GrpcStatus.DEADLINE_EXCEEDED, 'deadline exceeded'),
      "I couldn't reach the router on desk: it did not answer in time.",
      'router LLM: deadline exceeded',
    ],
    [
      'a router that throws',
      new Error('model qwen2.5:3b not found'),
      'The router on desk failed: model qwen2.5:3b not found.',
      'router LLM: model qwen2.5:3b not found',
    ],
  ])(
    'the router answering with %s fails the intent stage',
    async (_what, answer, reply, detail) => {
      const runIntent = runScript(ranOn('never'));
      const { pipeline } = plainPipeline({
        view: mesh,
        routeRemote: routeRemote(answer),
        runIntent,
      });
      const r = await pipeline.handleText(FREE);
      expect(r).toMatchObject({ ok: false, failedStage: 'intent', reply });
      expect(r.trace.hops[0]).toMatchObject({ stage: 'intent', node: 'desk', ok: false, detail });
      expect(runIntent.ran).toEqual([]);
      expectWellFormed(r);
    },
  );

  it('empty text fails before any stage runs', async () => {
    const runIntent = runScript(ranOn('never'));
    const { pipeline } = plainPipeline({ view: mesh, fastMatcher: fast(), runIntent });
    const r = await pipeline.handleText('   ');
    expect(r).toMatchObject({
      ok: false,
      failedStage: 'intent',
      reply: "I didn't hear any words.",
    });
    expect(stages(r)).toEqual([`reply@${SELF}:true`]);
    expect(runIntent.ran).toEqual([]);
  });
});

describe('the stt stage failing', () => {
  const never = (signal?: AbortSignal) =>
    new Promise<Transcript>((_, reject) => {
      signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    });

  it.each<[string, Parameters<typeof plainPipeline>[0], string, string, boolean]>([
    [
      'an engine that throws',
      { stt: sttEngine(() => Promise.reject(new Error('model file is truncated'))) },
      'Speech recognition failed on pi-kitchen: model file is truncated.',
      SELF,
      false,
    ],
    [
      'an engine that hears nothing',
      { stt: sttEngine(transcript('   ')) },
      "I didn't hear any words.",
      SELF,
      true,
    ],
    [
      'an engine that is not sure',
      {
        stt: sttEngine(
          transcript('', {
            rejected: 'Did you want the lights on or off?',
            rejectedDetail: 'the decodes disagree: "turn off the lights", "turn on the lights"',
          }),
        ),
      },
      // the question is said as it is; the diagnostics stay in the trace
      'Did you want the lights on or off?',
      SELF,
      true,
    ],
    [
      'an engine past stt timeout',
      { stt: sttEngine(never), sttTimeoutMs: 20 },
      'Speech recognition failed on pi-kitchen: The operation was aborted due to timeout.',
      SELF,
      false,
    ],
    [
      'a transcriber peer that is down',
      {
        transcribeRemote: () =>
          Promise.reject(new RpcCallError(GrpcStatus.UNAVAILABLE, 'connect ECONNREFUSED')),
      },
      "I couldn't reach the transcriber on desk: it is not answering; check that helix-node runs there.",
      'desk',
      false,
    ],
    [
      'a transcriber peer past its deadline',
      {
        transcribeRemote: () =>
          Promise.reject(new RpcCallError(GrpcStatus.DEADLINE_EXCEEDED, 'deadline exceeded')),
      },
      "I couldn't reach the transcriber on desk: it did not answer in time.",
      'desk',
      false,
    ],
    [
      'a transcriber peer that answers with an error',
      {
        transcribeRemote: () =>
          Promise.reject(
            new RpcCallError(GrpcStatus.INTERNAL, 'INTERNAL', undefined, undefined, {
              cause: { details: 'whisper model not loaded' },
            }),
          ),
      },
      'Speech recognition failed on desk: whisper model not loaded.',
      'desk',
      false,
    ],
  ])('%s', async (_what, deps, reply, node, sttOk) => {
    const runIntent = runScript(ranOn('never'));
    const { pipeline } = plainPipeline({ view: mesh, fastMatcher: fast(), runIntent, ...deps });
    const r = await pipeline.handleUtterance(PCM, { source: 'file' });
    expect(r).toMatchObject({ ok: false, failedStage: 'stt', reply, transcript: '' });
    expect(r.trace.hops[0]).toMatchObject({ stage: 'stt', node, ok: sttOk });
    expect(r.trace.hops.at(-1)).toMatchObject({ stage: 'reply', ok: true, detail: 'printed' });
    expect(r.trace.hops).toHaveLength(2);
    expect(runIntent.ran).toEqual([]);
    expectWellFormed(r);
  });

  it.each<[string, () => ReturnType<typeof mesh>, string | undefined, RegExp]>([
    [
      'nobody can transcribe',
      () => [peer(SELF, { self: true })],
      undefined,
      /^No node in the mesh can transcribe speech from pi-kitchen;/,
    ],
    ['--on a node that is not there', mesh, 'cellar', /^No node named cellar in the mesh/],
    ['--on a node without STT', mesh, 'laptop', /^Laptop has no speech recognition engine\.$/],
    ['--on this node without STT', mesh, SELF, /^Pi-kitchen has no speech recognition engine\.$/],
  ])('no transcriber: %s', async (_what, view, on, reply) => {
    const { pipeline } = plainPipeline({
      view,
      transcribeRemote: async () => transcript(SAID),
      fastMatcher: fast(),
    });
    const r = await pipeline.handleUtterance(PCM, {
      source: 'file',
      ...(on ? { transcribeOn: on } : {}),
    });
    expect(r).toMatchObject({ ok: false, failedStage: 'stt' });
    expect(r.reply).toMatch(reply);
    expect(r.trace.hops[0]).toMatchObject({ stage: 'stt', node: SELF, ok: false });
  });

  it('a refusal speaks the question; why the engine refused goes to the trace only', async () => {
    const speak = speaker();
    const { pipeline } = plainPipeline({
      view: mesh,
      stt: sttEngine(
        transcript('', {
          rejected: 'Did you want the kitchen lights on or off?',
          rejectedDetail: 'decoded "on", but its audio ends like "off" (VVoNNFFFFF)',
        }),
      ),
      speak,
    });
    const r = await pipeline.handleUtterance(PCM, { source: 'mic' });
    expect(speak.said).toEqual(['Did you want the kitchen lights on or off?']);
    expect(r.trace.hops[0]!.detail).toContain(
      'refused: decoded "on", but its audio ends like "off"',
    );
  });

  it('a mic utterance that fails still speaks the reply', async () => {
    const speak = speaker();
    const { pipeline } = plainPipeline({ view: mesh, stt: sttEngine(transcript('')), speak });
    const r = await pipeline.handleUtterance(PCM, { source: 'mic' });
    expect(r.reply).toBe("I didn't hear any words.");
    expect(speak.said).toEqual(["I didn't hear any words."]);
    expect(r.trace.hops.at(-1)?.detail).toBe('printed and spoken with piper');
  });

  it('transcribe() alone: the transcript, or the reason it failed', async () => {
    const ok = plainPipeline({ view: mesh, stt: sttEngine(transcript(SAID)) });
    const heard = await ok.pipeline.transcribe(PCM);
    expect(heard).toMatchObject({ ok: true, node: SELF, transcript: { text: SAID } });
    expect(heard.trace.hops.map((h) => h.stage)).toEqual(['stt']);
    expect(ok.published).toEqual([heard.trace]);

    const down = plainPipeline({
      view: mesh,
      transcribeRemote: () => Promise.reject(new RpcCallError(GrpcStatus.UNAVAILABLE, 'refused')),
    });
    const failed = await down.pipeline.transcribe(PCM);
    expect(failed).toMatchObject({ ok: false, node: 'desk', transcript: { text: '' } });
    expect(failed.error).toBe(
      "I couldn't reach the transcriber on desk: it is not answering; check that helix-node runs there.",
    );
    expect(failed.trace).toMatchObject({ ok: false, failedStage: 'stt' });

    // a refused utterance is a failure with the recogniser's plain question (the CLI exits 1)
    const refused = plainPipeline({
      view: mesh,
      stt: sttEngine({
        ...transcript(''),
        rejected: 'Did you want the kitchen lights on or off?',
      }),
    });
    const asked = await refused.pipeline.transcribe(PCM);
    expect(asked).toMatchObject({
      ok: false,
      error: 'Did you want the kitchen lights on or off?',
      transcript: { text: '', rejected: 'Did you want the kitchen lights on or off?' },
    });
    expect(asked.trace).toMatchObject({ ok: false, failedStage: 'stt' });
    const silent = plainPipeline({ view: mesh, stt: sttEngine(transcript('')) });
    expect(await silent.pipeline.transcribe(PCM)).toMatchObject({
      ok: false,
      error: "I didn't hear any words.",
    });
  });
});

describe('the run stage failing', () => {
  const codes: RunErrorCode[] = [
    'unknown_agent',
    'unknown_intent',
    'invalid_args',
    'image_missing',
    'agent_error',
    'protocol',
    'timeout',
    'oom',
    'crashed',
    'cancelled',
    'unavailable',
  ];
  const placed: RemoteRunEvent = {
    type: 'placed',
    node: 'laptop',
    nodeId: 'id-laptop',
    warm: true,
    reason: 'warm there',
    attempt: 1,
  };

  it.each([...codes, 'host_lost', 'refused', 'internal'])(
    'error %s: "<agent> failed on <host>: <message>", the intent kept',
    async (code) => {
      const message = `the agent said ${code}`;
      const runIntent = runScript([
        placed,
        { type: 'error', code, message, retryable: false, node: 'laptop' },
      ]);
      const { pipeline } = plainPipeline({ view: mesh, fastMatcher: fast(), runIntent });
      const r = await pipeline.handleText(SAID);
      expect(r).toMatchObject({
        ok: false,
        failedStage: 'run',
        reply: `Lights failed on laptop: ${message}.`,
        intent: { agent: 'lights', intent: 'turn_on' },
      });
      expect(r.trace.intent).toEqual(r.intent);
      expect(stages(r)).toEqual([`intent@${SELF}:true`, 'run@laptop:false', `reply@${SELF}:true`]);
      expect(r.trace.hops[1]?.detail).toBe(`lights.turn_on: ${code}: ${message}`);
      expectWellFormed(r);
    },
  );

  it('no_host: "I can\'t run <agent> anywhere"', async () => {
    const runIntent = runScript([
      { type: 'error', code: 'no_host', message: 'no node runs Docker', retryable: false },
    ]);
    const { pipeline } = plainPipeline({ view: mesh, fastMatcher: fast(), runIntent });
    const r = await pipeline.handleText(SAID);
    expect(r).toMatchObject({
      failedStage: 'run',
      reply: "I can't run lights anywhere: no node runs Docker.",
    });
    expect(r.trace.hops[1]).toMatchObject({ stage: 'run', node: SELF, ok: false });
  });

  it('an error without a node names the host it was placed on', async () => {
    const runIntent = runScript([
      placed,
      { type: 'error', code: 'timeout', message: 'it took over 30 s', retryable: false },
    ]);
    const { pipeline } = plainPipeline({ view: mesh, fastMatcher: fast(), runIntent });
    const r = await pipeline.handleText(SAID);
    expect(r.reply).toBe('Lights failed on laptop: it took over 30 s.');
  });

  it('a stream that ends without a result', async () => {
    const runIntent = runScript([placed, { type: 'progress', message: 'starting' }]);
    const { pipeline } = plainPipeline({ view: mesh, fastMatcher: fast(), runIntent });
    const ev = events();
    const r = await pipeline.handleText(SAID, { onEvent: ev.onEvent });
    expect(r).toMatchObject({
      ok: false,
      failedStage: 'run',
      reply: 'Lights failed on laptop: the run ended without a result.',
    });
    expect(stages(r)).toEqual([`intent@${SELF}:true`, 'run@laptop:false', `reply@${SELF}:true`]);
    // `say` prints hops as they come: the failed run is one of them
    expect(hopEvents(ev.seen)).toEqual(r.trace.hops);
    expectWellFormed(r);
  });

  it('a runIntent that throws', async () => {
    const runIntent = runScript(async function* () {
      yield placed;
      throw new Error('stream reset by peer');
    });
    const { pipeline } = plainPipeline({ view: mesh, fastMatcher: fast(), runIntent });
    const ev = events();
    const r = await pipeline.handleText(SAID, { onEvent: ev.onEvent });
    expect(r).toMatchObject({
      ok: false,
      failedStage: 'run',
      reply: 'Lights failed on laptop: stream reset by peer.',
    });
    expect(hopEvents(ev.seen)).toEqual(r.trace.hops);
  });
});

describe('cancellation', () => {
  /** How a run stream reacts to the caller's abort: throw it, report it, or just stop. */
  const untilAborted = (signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) resolve();
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  it.each<[string, (signal?: AbortSignal) => Promise<RemoteRunEvent[]>]>([
    [
      'the stream throws the abort reason',
      async (signal) => {
        await untilAborted(signal);
        throw signal?.reason as Error;
      },
    ],
    [
      "the host reports 'cancelled' (runAnywhere's way)",
      async (signal) => {
        await untilAborted(signal);
        return [
          {
            type: 'error',
            code: 'cancelled',
            message: 'lights.turn_on was cancelled',
            retryable: false,
            node: 'laptop',
          },
        ];
      },
    ],
    [
      'the stream just ends',
      async (signal) => {
        await untilAborted(signal);
        return [];
      },
    ],
  ])('aborting mid-run (%s): cancelled during run, nothing spoken', async (_what, after) => {
    const abort = new AbortController();
    const runIntent = runScript(async function* (_intent, signal) {
      yield ranOn('')[0]!;
      queueMicrotask(() => abort.abort(new Error('the person pressed Ctrl-C')));
      yield* await after(signal);
    });
    const speak = speaker();
    const { pipeline, published } = plainPipeline({
      view: mesh,
      fastMatcher: fast(),
      runIntent,
      speak,
    });
    const ev = events();
    const r = await pipeline.handleText(SAID, {
      signal: abort.signal,
      speak: true,
      onEvent: ev.onEvent,
    });
    expect(r).toMatchObject({ ok: false, failedStage: 'run', reply: 'Cancelled during run.' });
    expect(r.intent).toMatchObject({ agent: 'lights', intent: 'turn_on' });
    expect(speak.said).toEqual([]);
    expect(stages(r)).toEqual([`intent@${SELF}:true`, 'run@laptop:false']);
    expect(r.trace.hops[1]?.detail).toBe('cancelled');
    expect(hopEvents(ev.seen)).toEqual(r.trace.hops);
    expect(published).toEqual([r.trace]);
    expectWellFormed(r);
  });

  it('aborting during transcription of a mic utterance: cancelled during stt', async () => {
    const abort = new AbortController();
    const stt = sttEngine((signal) => {
      abort.abort();
      return Promise.reject(signal?.reason as Error);
    });
    const speak = speaker();
    const { pipeline } = plainPipeline({ view: mesh, stt, speak });
    const now = Date.now();
    const r = await pipeline.handleUtterance(PCM, {
      source: 'mic',
      signal: abort.signal,
      capture: { speechStartAt: now - 1000, speechEndAt: now },
    });
    expect(r).toMatchObject({ ok: false, failedStage: 'stt', reply: 'Cancelled during stt.' });
    expect(speak.said).toEqual([]);
    expect(stages(r)).toEqual([`vad@${SELF}:true`, `stt@${SELF}:false`]);
  });

  it('aborting while the router thinks: cancelled during intent', async () => {
    const abort = new AbortController();
    const route: RouteRemote = (_p, _text, opts) => {
      abort.abort();
      return Promise.reject(opts.signal?.reason as Error);
    };
    const { pipeline } = plainPipeline({ view: mesh, routeRemote: route });
    const r = await pipeline.handleText(FREE, { signal: abort.signal });
    expect(r).toMatchObject({
      ok: false,
      failedStage: 'intent',
      reply: 'Cancelled during intent.',
    });
  });
});

describe('the reply stage', () => {
  it.each<
    [string, boolean | undefined, 'mic' | 'file' | 'text', Speak | null | undefined, string | null]
  >([
    ['text, asked to speak', true, 'text', speaker(), 'printed and spoken with piper'],
    ['text, default', undefined, 'text', speaker(), null],
    ['mic, default', undefined, 'mic', speaker(), 'printed and spoken with piper'],
    ['mic, told not to', false, 'mic', speaker(), null],
    ['file, asked to speak', true, 'file', speaker(), 'printed and spoken with piper'],
    ['asked, but no TTS engine here', true, 'text', speaker(null), 'printed (no TTS engine here)'],
    ['asked, but no speaker at all', true, 'text', null, 'printed'],
  ])('%s', async (_what, speakOpt, source, speak, detail) => {
    const said: string[] = [];
    const spy: Speak | null =
      speak === null || speak === undefined
        ? null
        : (text, opts) => {
            said.push(text);
            return speak(text, opts);
          };
    const { pipeline } = plainPipeline({
      view: mesh,
      stt: sttEngine(transcript(SAID)),
      fastMatcher: fast(),
      runIntent: runScript(ranOn('Lights on.')),
      speak: spy,
    });
    const opts = speakOpt === undefined ? {} : { speak: speakOpt };
    const r =
      source === 'text'
        ? await pipeline.handleText(SAID, opts)
        : await pipeline.handleUtterance(PCM, { source, ...opts });
    expect(r.ok).toBe(true);
    expect(said).toEqual(
      detail?.includes('spoken') || detail?.includes('no TTS') ? ['Lights on.'] : [],
    );
    expect(r.trace.hops.at(-1)).toMatchObject({
      stage: 'reply',
      node: SELF,
      ok: true,
      detail: detail ?? 'printed',
    });
  });

  it('a speaker that fails does not fail the command', async () => {
    const { pipeline } = plainPipeline({
      view: mesh,
      fastMatcher: fast(),
      speak: () => Promise.reject(new Error('no audio device')),
    });
    const r = await pipeline.handleText(SAID, { speak: true });
    expect(r).toMatchObject({ ok: true, reply: 'Done.' });
    expect(r.trace.hops.at(-1)).toMatchObject({
      stage: 'reply',
      ok: false,
      detail: 'printed; speaking failed: no audio device',
    });
  });
});

describe('events streamed to onEvent', () => {
  it('a mic command: every hop, the transcript, the intent and progress, in order', async () => {
    const transcribeRemote: TranscribeRemote = async (_p, _pcm, opts) => {
      opts.onPartial?.(transcript('turn on'));
      return transcript(SAID);
    };
    const { pipeline } = plainPipeline({
      view: mesh,
      transcribeRemote,
      fastMatcher: fast(),
      speak: speaker(),
    });
    const ev = events();
    const now = Date.now();
    const r = await pipeline.handleUtterance(PCM, {
      source: 'mic',
      onEvent: ev.onEvent,
      capture: { speechStartAt: now - 800, speechEndAt: now - 100 },
    });
    const summary = ev.seen.map((e) => (e.type === 'hop' ? `hop:${e.hop.stage}` : e.type));
    // the vad hop is in the trace but not streamed: the listener was there when it happened
    // (test/pipeline/listen-file.test.ts pins what `helix-node listen` prints)
    expect(summary).toEqual([
      'partial',
      'hop:stt',
      'transcript',
      'hop:intent',
      'intent',
      'progress',
      'hop:run',
      'hop:reply',
    ]);
    expect(hopEvents(ev.seen)).toEqual(r.trace.hops.slice(1));
    expect(ev.seen).toContainEqual({ type: 'intent', intent: r.intent });
    expect(ev.seen).toContainEqual({ type: 'progress', message: 'working', node: 'laptop' });
  });

  it('a host lost mid-run is reported as progress', async () => {
    const runIntent = runScript([
      {
        type: 'placed',
        node: 'laptop',
        nodeId: 'id-laptop',
        warm: true,
        reason: 'warm',
        attempt: 1,
      },
      {
        type: 'host_lost',
        node: 'laptop',
        nodeId: 'id-laptop',
        reason: 'heartbeat lost',
        retrying: true,
      },
      ...ranOn('On.', 'desk'),
    ]);
    const { pipeline } = plainPipeline({ view: mesh, fastMatcher: fast(), runIntent });
    const ev = events();
    const r = await pipeline.handleText(SAID, { onEvent: ev.onEvent });
    expect(r.trace.hops[1]).toMatchObject({ stage: 'run', node: 'desk', ok: true });
    expect(ev.seen).toContainEqual({
      type: 'progress',
      message: 'lost laptop (heartbeat lost); placing it again',
      node: 'laptop',
    });
  });

  it('a failing command publishes its trace once, with the reply hop', async () => {
    const { pipeline, published } = plainPipeline({ view: mesh, fastMatcher: fast() });
    const r = await pipeline.handleText(FREE);
    expect(r.ok).toBe(false);
    expect(published).toEqual([r.trace]);
  });

  it('a publisher that throws does not fail the command', async () => {
    const { pipeline } = plainPipeline({
      view: mesh,
      fastMatcher: fast(),
      publishTrace: () => {
        throw new Error('bus closed');
      },
    });
    const r = await pipeline.handleText(SAID);
    expect(r.ok).toBe(true);
  });
});
