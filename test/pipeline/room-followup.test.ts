/**
 * Room-aware commands and follow-ups through the Pipeline (issue 10, points 2 and 3), with the
 * shipped agents' phrases and the follow-up phrases in a real fast matcher: a command without a
 * room acts on the room of the node that heard it, the trace says which room and why, and a
 * follow-up heard by another node resolves against the context the first node shared.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { compileFastMatcher, type AgentManifest, type Intent } from '../../node/agentspec/index.js';
import { loadAgents } from '../../node/agents/index.js';
import {
  ContextStore,
  FOLLOWUP_MANIFEST,
  type ContextChannel,
  type ConversationContext,
  type LocalLlmRouter,
  type NodeRoom,
} from '../../node/pipeline/index.js';
import { SHIPPED_DIR } from '../agents/helpers.js';
import {
  peer,
  plainPipeline,
  runScript,
  SELF,
  SELF_ID,
  sttEngine,
  transcript,
} from './support/plain.js';

const ROOMS = { 'lights.rooms': ['kitchen', 'living room', 'bedroom'], 'home.lights': [] };

let manifests: AgentManifest[] = [];
beforeAll(async () => {
  manifests = (await loadAgents([SHIPPED_DIR])).map((a) => a.manifest);
});

const intentArgs = (agent: string, intent: string) => {
  const spec = manifests.find((m) => m.name === agent)?.intents.find((i) => i.name === intent);
  return spec ? Object.keys(spec.args) : null;
};

/** Contexts shared between stores as the bus would (synchronously, never to the sender). */
function memoryMesh() {
  const listeners = new Map<string, (c: ConversationContext) => void>();
  return (self: string): ContextChannel => ({
    publish(c) {
      for (const [id, l] of listeners) if (id !== self) l(c);
    },
    subscribe(l) {
      listeners.set(self, l);
      return () => listeners.delete(self);
    },
  });
}

/** A run that answers like the agent would and returns `data` (a timer's id). */
function agentRun(data: (i: Intent) => unknown = () => null) {
  return runScript((intent) =>
    (async function* () {
      yield {
        type: 'result' as const,
        text: `ran ${intent.agent}.${intent.intent}`,
        data: data(intent),
        hostName: 'laptop',
      };
    })(),
  );
}

let clock = 1_000_000;

/** A node's pipeline: its room, its context store on the shared channel. */
function node(
  name: string,
  room: NodeRoom | null,
  channel: ContextChannel | null,
  over: Parameters<typeof plainPipeline>[0] = {},
) {
  // one clock for every node of a case, 10 ms a reading: commands never share a millisecond
  const context = new ContextStore({ channel, now: () => (clock += 10) });
  context.start();
  const run = agentRun((i) => (i.agent === 'timer' ? { id: 7, label: '', seconds: 600 } : null));
  const id = name === SELF ? SELF_ID : `id-${name}`;
  const p = plainPipeline({
    selfId: id,
    view: () => [peer(name, { self: true })].map((x) => ({ ...x, id })),
    fastMatcher: compileFastMatcher([...manifests, FOLLOWUP_MANIFEST], ROOMS),
    runIntent: run,
    room: () => room,
    context,
    intentArgs,
    ...over,
  });
  return { ...p, run, context };
}

describe('room-aware commands', () => {
  it('"turn on the lights" acts on the room of the node that heard it; the trace says where the room came from', async () => {
    const a = node('a', { name: 'living room', from: 'setting' }, null);
    const r = await a.pipeline.handleText('turn on the lights');
    expect(r.ok, r.reply).toBe(true);
    expect(a.run.ran).toEqual([
      { agent: 'lights', intent: 'on', args: { room: 'living room' }, confidence: 1 },
    ]);
    expect(r.trace.room).toEqual({
      name: 'living room',
      from: 'mic',
      detail: 'no room said; the room of a, whose mic heard it (setting nodes.id-a.room)',
    });
  });

  it('helix.toml node.room when the mesh setting is not there; a room said wins', async () => {
    const a = node('a', { name: 'bedroom', from: 'config' }, null);
    const r = await a.pipeline.handleText('turn off the lights');
    expect(a.run.ran[0]?.args).toEqual({ room: 'bedroom' });
    expect(r.trace.room?.detail).toMatch(/\(helix\.toml node\.room\)$/);
    const said = await a.pipeline.handleText('turn off the kitchen lights');
    expect(a.run.ran[1]?.args).toEqual({ room: 'kitchen' });
    expect(said.trace.room).toEqual({ name: 'kitchen', from: 'said' });
  });

  it('a node without a room leaves the room out (the agent asks which), and intents without a room are untouched', async () => {
    const a = node('a', null, null);
    await a.pipeline.handleText('turn on the lights');
    expect(a.run.ran[0]?.args).toEqual({});
    const t = node('t', { name: 'kitchen', from: 'setting' }, null);
    const r = await t.pipeline.handleText('set a timer for 5 minutes');
    expect(t.run.ran[0]).toMatchObject({ agent: 'timer', args: { minutes: 5 } });
    expect(r.trace.room).toBeUndefined();
  });
});

describe('follow-ups', () => {
  it('a follow-up heard by another node acts on the lights of the previous command', async () => {
    const mesh = memoryMesh();
    const a = node('a', { name: 'living room', from: 'setting' }, mesh('id-a'));
    const b = node('b', { name: 'living room', from: 'setting' }, mesh('id-b'));
    const first = await a.pipeline.handleText('turn on the kitchen lights');
    expect(first.ok).toBe(true);

    const next = await b.pipeline.handleText('turn them off');
    expect(next.ok, next.reply).toBe(true);
    expect(b.run.ran).toEqual([
      { agent: 'lights', intent: 'off', args: { room: 'kitchen' }, confidence: 1 },
    ]);
    expect(next.trace.context).toMatchObject({
      room: 'living room',
      node: 'a',
      traceId: first.traceId,
      intent: 'lights.on',
      from: 'room',
    });
    expect(next.trace.room).toMatchObject({ name: 'kitchen', from: 'context' });
    const hop = next.trace.hops.find((h) => h.stage === 'intent')!;
    expect(hop.detail).toMatch(
      /^fast matcher: follow-up "turn \(them\|it\) \[back\] off" -> lights\.off \{"room":"kitchen"\}/,
    );

    // the follow-up is now the room's context: "and the bedroom too" back on a
    const also = await a.pipeline.handleText('and the bedroom too');
    expect(a.run.ran.at(-1)).toEqual({
      agent: 'lights',
      intent: 'off',
      args: { room: 'bedroom' },
      confidence: 1,
    });
    expect(also.trace.room).toMatchObject({ name: 'bedroom', from: 'said' });
    // then brighter, on b: the bedroom, from full on... it was switched off: one step up
    await b.pipeline.handleText('make it brighter');
    expect(b.run.ran.at(-1)).toMatchObject({
      intent: 'dim',
      args: { room: 'bedroom', level: 25 },
    });
  });

  it('"cancel it" and "add five minutes" go to the timer the previous command set', async () => {
    const mesh = memoryMesh();
    const a = node('a', { name: 'kitchen', from: 'setting' }, mesh('id-a'));
    const b = node('b', { name: 'kitchen', from: 'setting' }, mesh('id-b'));
    await a.pipeline.handleText('set a timer for 10 minutes');
    await b.pipeline.handleText('add five minutes');
    expect(b.run.ran.at(-1)).toEqual({
      agent: 'timer',
      intent: 'add',
      args: { id: 7, minutes: 5 },
      confidence: 1,
    });
    await a.pipeline.handleText('cancel it');
    expect(a.run.ran.at(-1)).toEqual({
      agent: 'timer',
      intent: 'cancel',
      args: { id: 7 },
      confidence: 1,
    });
  });

  it('a question asked instead of acting is answered on another node: "off" runs the choice that is off', async () => {
    const mesh = memoryMesh();
    const choice = (intent: string) => ({
      agent: 'lights',
      intent,
      args: { room: 'kitchen' },
      confidence: 1 as const,
      phrase: `turn ${intent} [the] {room} lights`,
    });
    const question = 'Did you want the kitchen lights on or off?';
    const refusal = transcript('', {
      rejected: question,
      rejectedDetail: 'decoded "on", but its audio ends like "off" (VVVVoFFFFF)',
      choices: [choice('on'), choice('off')],
    });
    const a = node('a', { name: 'living room', from: 'setting' }, mesh('id-a'), {
      stt: sttEngine(refusal, 'phrase'),
      view: () => [{ ...peer('a', { self: true, stt: true }), id: 'id-a' }],
    });
    const b = node('b', { name: 'living room', from: 'setting' }, mesh('id-b'));
    const asked = await a.pipeline.handleUtterance(new Int16Array(1600), { source: 'mic' });
    expect(asked.ok).toBe(false);
    expect(asked.reply).toBe(question);
    expect(a.run.ran).toEqual([]);
    expect(b.context.list()[0]).toMatchObject({
      room: 'living room',
      traceId: asked.traceId,
      question: { text: question, choices: [{ intent: 'on' }, { intent: 'off' }] },
    });

    const answer = await b.pipeline.handleText('off');
    expect(answer.ok, answer.reply).toBe(true);
    expect(b.run.ran).toEqual([
      { agent: 'lights', intent: 'off', args: { room: 'kitchen' }, confidence: 1 },
    ]);
    expect(answer.trace.hops.find((h) => h.stage === 'intent')?.detail).toMatch(
      /follow-up "\{state\}" -> lights\.off \{"room":"kitchen"\}: "off" answers the question "Did you want the kitchen lights on or off\?"/,
    );
    // answered: the command that ran is the room's context again, and "off" alone means nothing
    expect(b.context.list()[0]).not.toHaveProperty('question');
    await a.pipeline.handleText('turn them back on');
    expect(a.run.ran.at(-1)).toMatchObject({ intent: 'on', args: { room: 'kitchen' } });
    const again = await a.pipeline.handleText('off');
    expect(again.ok).toBe(false);
    expect(a.run.ran).toHaveLength(1);
  });

  it('an unanswered question is forgotten after 30 s; a wrong answer gets the question again', async () => {
    const a = node('a', { name: 'kitchen', from: 'setting' }, null, {
      stt: sttEngine(
        transcript('', {
          rejected: 'Sorry, was that thirteen or thirty minutes?',
          choices: [13, 30].map((minutes) => ({
            agent: 'timer',
            intent: 'set',
            args: { minutes },
            confidence: 1 as const,
            phrase: 'set a timer for {minutes} minutes',
          })),
        }),
        'phrase',
      ),
      view: () => [{ ...peer('a', { self: true, stt: true }), id: 'id-a' }],
    });
    await a.pipeline.handleUtterance(new Int16Array(1600), { source: 'mic' });
    const wrong = await a.pipeline.handleText('forty');
    expect(wrong.reply).toBe('Sorry, was that thirteen or thirty minutes?');
    clock += 30_000;
    const late = await a.pipeline.handleText('thirteen');
    expect(late.ok).toBe(false);
    expect(a.run.ran).toEqual([]);
  });

  it('without a context nothing runs and the reply says what to say instead', async () => {
    const a = node('a', { name: 'kitchen', from: 'setting' }, null);
    const r = await a.pipeline.handleText('turn them off');
    expect(r.ok).toBe(false);
    expect(a.run.ran).toEqual([]);
    expect(r.reply).toBe(
      'I don\'t know which lights you mean. Say the room, for example "turn off the kitchen lights".',
    );
    expect(r.trace.hops.find((h) => h.stage === 'intent')?.detail).toMatch(
      /no conversation context/,
    );
  });

  it('the LLM router gets the room context when the phrases do not match', async () => {
    const asked: Array<{ text: string; context?: string }> = [];
    const llm: LocalLlmRouter = {
      async route(text, opts) {
        asked.push({ text, ...(opts.context ? { context: opts.context } : {}) });
        return {
          kind: 'intent',
          via: 'llm',
          intent: { agent: 'lights', intent: 'off', args: { room: 'kitchen' }, confidence: 0.9 },
        };
      },
    };
    const a = node('a', { name: 'kitchen', from: 'setting' }, null, {
      localLlmRouter: llm,
      view: () => [{ ...peer('a', { self: true, router: true }), id: 'id-a' }],
    });
    await a.pipeline.handleText('turn on the kitchen lights');
    const r = await a.pipeline.handleText('hmm switch those back off would you');
    expect(r.ok, r.reply).toBe(true);
    expect(asked).toHaveLength(1);
    expect(asked[0]!.context).toMatch(
      /^lights\.on \{"room":"kitchen"\} \("turn on the kitchen lights"\), \d+ s ago in the kitchen by a$/,
    );
  });
});
