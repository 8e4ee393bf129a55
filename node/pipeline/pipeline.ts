/**
 * The pipeline of one command, owned end to end by the node where it entered (DESIGN.md §1):
 * utterance -> stt (here when this node can, else the nearest STT peer) -> intent (fast matcher
 * here, else the router LLM on the peer placement picks) -> run (the agent host placement picks)
 * -> reply (printed by the caller, spoken here when a TTS engine is present). Every hop is traced;
 * every failure becomes a reply that says what failed and where. Outside systems come in as
 * functions (PipelineDeps), so tests wire real gRPC or plain objects.
 */
import { IMAGE_PROVENANCE, type RemoteRunEvent } from '../agenthost/index.js';
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { noRouterLlmMessage, pickRouterPeer, pickTranscriber } from '../placement/index.js';
import type { RouteOutcome } from '../router/index.js';
import type { FastMatcher, Intent, PhraseInterpretation } from '../agentspec/index.js';
import type { SttEngine, Transcript, TranscribeRemote } from '../transcribe/index.js';
import type { PeerView } from '../types.js';
import type { Pcm16 } from '../voice/index.js';
import { isUnreachable, replies, sentence } from './replies.js';
import {
  newTraceId,
  TraceRecorder,
  type Stage,
  type Trace,
  type TraceIntent,
  type TraceSource,
} from './trace.js';
import type { TraceStore } from './traces.js';
import { describeHeard } from './arbitration.js';
import { YieldedError, type ArbitrationResult } from './heard.js';
import { resultScalars, type ContextLookup, type ContextStore } from './context.js';
import { describeContext, isFollowUp, resolveFollowUp } from './followup.js';

/** Router.Route on a peer (see createRouteRemote). Throws RpcCallError when the peer fails. */
export type RouteRemote = (
  peer: PeerView,
  text: string,
  opts: {
    traceId: string;
    signal?: AbortSignal;
    language?: string;
    timeoutMs?: number;
    /** the room's last action (follow-ups), as plain text for the LLM */
    context?: string;
  },
) => Promise<RouteOutcome>;

/** This node's own LLM router (LlmRouter), used when placement picks this node. */
export interface LocalLlmRouter {
  route(
    text: string,
    opts: { signal?: AbortSignal; traceId?: string; context?: string },
  ): Promise<RouteOutcome>;
}

/** The room this node (its mic and speaker) is in, and which setting says so. */
export interface NodeRoom {
  name: string;
  /** setting: the mesh setting nodes.<id>.room; config: helix.toml node.room */
  from: 'setting' | 'config';
}

/** Runs an intent wherever placement puts it (pipelineRun over agenthost's runIntent). */
export type RunIntent = (
  intent: Intent,
  opts: { traceId: string; signal?: AbortSignal },
) => AsyncIterable<RemoteRunEvent>;

/** Speaks a reply on this node; resolves with the engine used, or null when there is none. */
export type Speak = (
  text: string,
  opts: { signal?: AbortSignal },
) => Promise<{ engine: string } | null>;

export interface PipelineDeps {
  selfId: string;
  /** the live view of the mesh (membership) */
  view: () => readonly PeerView[];
  /** this node's STT engine, when it has a working one (audio then never leaves the node) */
  stt: SttEngine | null;
  transcribeRemote: TranscribeRemote | null;
  fastMatcher: FastMatcher | null;
  routeRemote: RouteRemote | null;
  localLlmRouter: LocalLlmRouter | null;
  /** router.model */
  routerModel: string;
  runIntent: RunIntent;
  speak?: Speak | null;
  publishTrace?: (trace: Trace) => void;
  traces?: TraceStore;
  logger?: Logger;
  /** stt.language */
  language?: string;
  /** this node's room: a command without one acts here, and follow-ups are kept per room */
  room?: (() => NodeRoom | null) | null;
  /** the conversation contexts of the mesh's rooms (follow-ups); absent: none */
  context?: ContextStore | null;
  /** the argument names of an agent's intent (null: not known here); a `room` one gets filled */
  intentArgs?: ((agent: string, intent: string) => readonly string[] | null) | null;
  /** per-stage deadlines: transcription (default 30 s), routing (default 30 s) */
  sttTimeoutMs?: number;
  routeTimeoutMs?: number;
}

/** Progress while a command runs (streamed to `helix-node say` / `listen`). */
export type PipelineEvent =
  | { type: 'hop'; hop: Trace['hops'][number] }
  | { type: 'partial'; text: string }
  | { type: 'transcript'; text: string; node: string }
  | { type: 'intent'; intent: TraceIntent }
  | { type: 'progress'; message: string; node?: string };

export interface CommandOptions {
  signal?: AbortSignal;
  traceId?: string;
  /** speak the reply here (default: true for mic utterances, false otherwise) */
  speak?: boolean;
  onEvent?: (e: PipelineEvent) => void;
}

export interface UtteranceOptions extends CommandOptions {
  source: 'mic' | 'file';
  /** transcribe on this node (name or id) instead of the one placement picks */
  transcribeOn?: string;
  /**
   * The VAD's view of the utterance (mic): when speech started and when its end was detected,
   * epoch ms. Becomes the trace's first hop, so the trace covers end of speech -> action.
   */
  capture?: {
    speechStartAt: number;
    speechEndAt: number;
    detail?: string;
    /** the mics that heard it and why this one acts (VoiceLoop's arbiter) */
    arbitration?: ArbitrationResult;
  };
}

export interface PipelineResult {
  traceId: string;
  transcript: string;
  intent?: TraceIntent;
  reply: string;
  ok: boolean;
  failedStage?: Stage;
  trace: Trace;
}

export interface TranscriptionResult {
  traceId: string;
  transcript: Transcript;
  /** name of the node that transcribed */
  node: string;
  ok: boolean;
  /** set when it failed: what to tell the person */
  error?: string;
  trace: Trace;
}

/** What the STT engine understood, when it hears commands only (see Transcript.interpretation). */
interface Heard {
  interpretation?: PhraseInterpretation | null;
  /** name of the node that transcribed */
  heardOn?: string;
}

class StageFailure extends Error {
  constructor(
    readonly stage: Stage,
    readonly reply: string,
  ) {
    super(reply);
  }
}

export class Pipeline {
  private readonly log: Logger;

  constructor(private readonly deps: PipelineDeps) {
    this.log = (deps.logger ?? silentLogger).child({ component: 'pipeline' });
  }

  /** One utterance (16 kHz mono Pcm16, as captured) through the whole pipeline. */
  async handleUtterance(pcm: Pcm16, opts: UtteranceOptions): Promise<PipelineResult> {
    const rec = this.recorder(opts.source, opts.traceId, opts.capture);
    if (opts.capture) {
      const { speechStartAt, speechEndAt, detail, arbitration } = opts.capture;
      const heard = arbitration ? `; ${arbitrationText(arbitration)}` : '';
      rec.add({
        node: this.selfName(),
        stage: 'vad',
        startMs: 0,
        durationMs: Math.max(0, speechEndAt - speechStartAt),
        ok: true,
        detail: (detail ?? `utterance of ${(pcm.length / 16).toFixed(0)} ms`) + heard,
      });
      if (arbitration) {
        rec.heardBy = arbitration.heard.map((h) => ({
          node: h.name,
          ...(h.room ? { room: h.room } : {}),
          levelDbfs: h.levelDbfs,
          snrDb: h.snrDb,
          won: h === arbitration.winner,
        }));
      }
    }
    let transcript = '';
    try {
      const heard = await this.transcribeStage(rec, pcm, opts);
      transcript = heard.text;
      return await this.fromTranscript(rec, transcript, {
        ...opts,
        speak: opts.speak ?? opts.source === 'mic',
        interpretation: heard.interpretation,
        heardOn: heard.node,
      });
    } catch (err) {
      return this.fail(rec, err, transcript, opts);
    }
  }

  /** Text in (`helix-node say`): the same pipeline from routing on. */
  async handleText(text: string, opts: CommandOptions = {}): Promise<PipelineResult> {
    const rec = this.recorder('text', opts.traceId);
    try {
      return await this.fromTranscript(rec, text.trim(), { ...opts, speak: opts.speak ?? false });
    } catch (err) {
      return this.fail(rec, err, text.trim(), opts);
    }
  }

  /** Transcription only (`helix-node transcribe FILE.wav [--on NODE]`), traced like a command. */
  async transcribe(
    pcm: Pcm16,
    opts: CommandOptions & { on?: string } = {},
  ): Promise<TranscriptionResult> {
    const rec = this.recorder('file', opts.traceId);
    try {
      const { transcript, node } = await this.runStt(rec, pcm, { ...opts, transcribeOn: opts.on });
      if (transcript.text.trim() === '') {
        // refused or nothing heard: what `listen` would say, and a failure (the CLI exits 1)
        const reply = transcript.rejected
          ? replies.uncertain(transcript.rejected)
          : replies.nothingHeard();
        const trace = this.publish(rec.finish({ reply, ok: false, failedStage: 'stt' }));
        return { traceId: rec.traceId, transcript, node, ok: false, error: reply, trace };
      }
      const trace = this.publish(
        rec.finish({ transcript: transcript.text, reply: transcript.text, ok: true }),
      );
      return { traceId: rec.traceId, transcript, node, ok: true, trace };
    } catch (err) {
      const reply = err instanceof StageFailure ? err.reply : sentence(describeError(err));
      const trace = this.publish(rec.finish({ reply, ok: false, failedStage: 'stt' }));
      const empty: Transcript = { text: '', segments: [], language: '', confidence: 0 };
      const node = trace.hops.find((h) => h.stage === 'stt')?.node ?? this.selfName();
      return { traceId: rec.traceId, transcript: empty, node, ok: false, error: reply, trace };
    }
  }

  private recorder(
    source: TraceSource,
    traceId?: string,
    capture?: UtteranceOptions['capture'],
  ): TraceRecorder {
    const ago = capture ? Math.max(0, Date.now() - capture.speechStartAt) : 0;
    return new TraceRecorder(
      traceId ?? newTraceId(),
      { id: this.deps.selfId, name: this.selfName() },
      source,
      ago,
    );
  }

  private selfName(): string {
    return (
      this.deps.view().find((p) => p.self || p.id === this.deps.selfId)?.name ?? this.deps.selfId
    );
  }

  // ---- stt ----------------------------------------------------------------------------------

  private async transcribeStage(
    rec: TraceRecorder,
    pcm: Pcm16,
    opts: UtteranceOptions,
  ): Promise<{ text: string; interpretation: PhraseInterpretation | null; node: string }> {
    const { transcript, node } = await this.runStt(rec, pcm, opts);
    const text = transcript.text.trim();
    if (text === '') {
      if (transcript.rejected && transcript.choices?.length)
        this.rememberQuestion(rec, transcript.rejected, transcript.choices);
      throw new StageFailure(
        'stt',
        transcript.rejected ? replies.uncertain(transcript.rejected) : replies.nothingHeard(),
      );
    }
    return { text, interpretation: transcript.interpretation ?? null, node };
  }

  private async runStt(
    rec: TraceRecorder,
    pcm: Pcm16,
    opts: CommandOptions & { transcribeOn?: string },
  ): Promise<{ transcript: Transcript; node: string }> {
    const where = this.pickStt(opts.transcribeOn);
    const started = rec.now();
    const timeoutMs = this.deps.sttTimeoutMs ?? 30_000;
    if (where.kind === 'none') {
      rec.record('stt', this.selfName(), started, false, where.reason);
      throw new StageFailure('stt', replies.noTranscriber(where.reason));
    }
    const seconds = (pcm.length / 16_000).toFixed(1);
    try {
      let transcript: Transcript;
      if (where.kind === 'local') {
        const engine = where.engine;
        transcript = await engine.transcribe(pcm, { signal: withTimeout(opts.signal, timeoutMs) });
        rec.record(
          'stt',
          this.selfName(),
          started,
          true,
          `${engine.name} ${engine.model} here (${seconds} s of audio; it never left this node)${transcript.rejectedDetail ? `; refused: ${transcript.rejectedDetail}` : ''}`,
        );
      } else {
        const remote = this.deps.transcribeRemote!;
        transcript = await remote(where.peer, pcm, {
          traceId: rec.traceId,
          signal: opts.signal,
          timeoutMs,
          language: this.deps.language,
          onPartial: (t) => opts.onEvent?.({ type: 'partial', text: t.text }),
        });
        rec.record(
          'stt',
          where.peer.name,
          started,
          true,
          `${seconds} s of audio streamed in 64 ms chunks (${where.reason})`,
        );
      }
      const node = where.kind === 'local' ? this.selfName() : where.peer.name;
      this.emitHop(rec, opts);
      opts.onEvent?.({ type: 'transcript', text: transcript.text, node });
      return { transcript, node };
    } catch (err) {
      const node = where.kind === 'local' ? this.selfName() : where.peer.name;
      if (opts.signal?.aborted) throw this.cancelled(rec, 'stt', node, started, opts);
      rec.record('stt', node, started, false, errorText(err));
      this.emitHop(rec, opts);
      this.log.warn(
        { traceId: rec.traceId, node, err: describeError(err) },
        'transcription failed',
      );
      if (where.kind === 'remote' && isUnreachable(err)) {
        throw new StageFailure('stt', replies.transcriberUnreachable(node, err));
      }
      throw new StageFailure('stt', replies.transcriberFailed(node, err));
    }
  }

  private pickStt(
    on?: string,
  ):
    | { kind: 'local'; engine: SttEngine }
    | { kind: 'remote'; peer: PeerView; reason: string }
    | { kind: 'none'; reason: string } {
    const view = this.deps.view();
    if (on) {
      const peer = view.find((p) => p.name === on || p.id === on);
      if (!peer)
        return {
          kind: 'none',
          reason: `no node named ${on} in the mesh (\`helix-node status\` lists them)`,
        };
      if (peer.self || peer.id === this.deps.selfId) {
        return this.deps.stt
          ? { kind: 'local', engine: this.deps.stt }
          : { kind: 'none', reason: `${peer.name} has no speech recognition engine` };
      }
      if (peer.capabilities.stt === null)
        return { kind: 'none', reason: `${peer.name} has no speech recognition engine` };
      return this.deps.transcribeRemote
        ? { kind: 'remote', peer, reason: `--on ${peer.name}` }
        : { kind: 'none', reason: 'this node cannot call transcribers' };
    }
    // Nearest-mic rule (DESIGN.md §4): this node transcribes its own audio when it can.
    if (this.deps.stt) return { kind: 'local', engine: this.deps.stt };
    const placement = pickTranscriber(view, this.deps.selfId);
    if ('error' in placement) return { kind: 'none', reason: placement.error };
    if (placement.local || placement.node.id === this.deps.selfId) {
      return {
        kind: 'none',
        reason: `${placement.node.name} advertises speech recognition but its engine is not loaded; run \`helix-node doctor\` there`,
      };
    }
    if (!this.deps.transcribeRemote)
      return { kind: 'none', reason: 'this node cannot call transcribers' };
    return { kind: 'remote', peer: placement.node, reason: placement.reason };
  }

  // ---- intent, run, reply -------------------------------------------------------------------

  private async fromTranscript(
    rec: TraceRecorder,
    transcript: string,
    opts: CommandOptions & Heard & { speak: boolean },
  ): Promise<PipelineResult> {
    if (transcript === '') throw new StageFailure('intent', replies.nothingHeard());
    const here = this.deps.room?.() ?? null;
    const intent = this.placeInRoom(rec, await this.intentStage(rec, transcript, opts, here), here);
    rec.intent = intent;
    opts.onEvent?.({ type: 'intent', intent });
    const answer = await this.runStage(rec, intent, opts);
    this.remember(rec, transcript, intent, answer.data, here);
    const text = answer.text.trim();
    const reply = text === '' ? replies.done() : text;
    await this.replyStage(rec, reply, opts);
    const trace = this.publish(rec.finish({ transcript, intent, reply, ok: true }));
    this.log.info(
      { traceId: rec.traceId, agent: intent.agent, intent: intent.intent, ms: trace.totalMs },
      'command done',
    );
    return { traceId: rec.traceId, transcript, intent, reply, ok: true, trace };
  }

  /**
   * Room-aware: a command that takes a room but names none (nor one light) acts on the room of
   * the mic that heard it, which is this node's (only the winning mic's node acts). The trace
   * records the room and where it came from.
   */
  private placeInRoom(rec: TraceRecorder, intent: TraceIntent, here: NodeRoom | null): TraceIntent {
    if (rec.room) return intent; // a follow-up: its room came from the context
    const said = intent.args.room;
    if (typeof said === 'string' && said !== '') {
      rec.room = { name: said, from: 'said' };
      return intent;
    }
    if (intent.args.device !== undefined) return intent;
    const takes = this.deps.intentArgs?.(intent.agent, intent.intent);
    if (!here || !takes?.includes('room')) return intent;
    const setting =
      here.from === 'setting' ? `setting nodes.${this.deps.selfId}.room` : 'helix.toml node.room';
    rec.room = {
      name: here.name,
      from: 'mic',
      detail: `no room said; the room of ${this.selfName()}, whose mic heard it (${setting})`,
    };
    return { ...intent, args: { ...intent.args, room: here.name } };
  }

  /** After a command ran: its room remembers it for follow-ups, mesh-wide. */
  private remember(
    rec: TraceRecorder,
    transcript: string,
    intent: TraceIntent,
    data: unknown,
    here: NodeRoom | null,
  ): void {
    const store = this.deps.context;
    if (!store) return;
    const result = resultScalars(data);
    store.remember({
      room: here?.name ?? '',
      node: this.deps.selfId,
      name: this.selfName(),
      traceId: rec.traceId,
      transcript: transcript.slice(0, 500),
      agent: intent.agent,
      intent: intent.intent,
      args: intent.args,
      ...(result ? { result } : {}),
    });
  }

  /**
   * A question asked instead of acting ("Did you want the kitchen lights on or off?"): the room
   * remembers its choices, mesh-wide, so the answer ("off") may be heard by any node. Choices that
   * are follow-ups themselves are left out (they would need the context this question replaces).
   */
  private rememberQuestion(
    rec: TraceRecorder,
    text: string,
    choices: readonly PhraseInterpretation[],
  ): void {
    const store = this.deps.context;
    const kept = choices
      .filter((c) => !isFollowUp(c.agent))
      .slice(0, 4)
      .map(({ agent, intent, args }) => ({ agent, intent, args }));
    const first = kept[0];
    if (!store || !first) return;
    store.remember({
      room: this.deps.room?.()?.name ?? '',
      node: this.deps.selfId,
      name: this.selfName(),
      traceId: rec.traceId,
      transcript: '',
      ...first,
      question: { text: text.slice(0, 300), choices: kept },
    });
  }

  /** The context a follow-up heard here refers to, in the trace's terms. */
  private lookupContext(here: NodeRoom | null): ContextLookup | null {
    return this.deps.context?.lookup(here?.name ?? '') ?? null;
  }

  /** A follow-up phrase (fast matcher or recogniser) resolved against the room's context. */
  private followUpStage(
    rec: TraceRecorder,
    hit: { intent: string; args: TraceIntent['args']; phrase: string },
    here: NodeRoom | null,
    started: number,
    via: string,
    opts: CommandOptions,
  ): TraceIntent {
    const found = this.lookupContext(here);
    const resolution = resolveFollowUp(hit, found?.context ?? null);
    if (found) {
      rec.context = {
        room: found.context.room,
        node: found.context.name,
        traceId: found.context.traceId,
        intent: `${found.context.agent}.${found.context.intent}`,
        ageMs: Math.round(found.ageMs),
        from: found.from,
      };
    }
    const where = found ? ` (${describeContext(found)})` : '';
    if (resolution.kind === 'refused') {
      rec.record(
        'intent',
        this.selfName(),
        started,
        false,
        `${via}: follow-up "${hit.phrase}": ${resolution.explain}${where}`,
      );
      this.emitHop(rec, opts);
      throw new StageFailure('intent', resolution.reply);
    }
    const i = resolution.intent;
    rec.record(
      'intent',
      this.selfName(),
      started,
      true,
      `${via}: follow-up "${hit.phrase}" -> ${i.agent}.${i.intent} ${JSON.stringify(i.args)}: ${resolution.explain}${where}`,
    );
    this.emitHop(rec, opts);
    const room = i.args.room;
    if (found && typeof room === 'string') {
      rec.room = {
        name: room,
        from: hit.intent === 'also' ? 'said' : 'context',
        detail:
          hit.intent === 'also'
            ? `said in a follow-up to ${found.context.agent}.${found.context.intent}`
            : `the room of the command it follows (${found.context.name}, trace ${found.context.traceId})`,
      };
    }
    return { agent: i.agent, intent: i.intent, args: i.args, confidence: 1, via: 'fast' };
  }

  private async intentStage(
    rec: TraceRecorder,
    text: string,
    opts: CommandOptions & Heard,
    here: NodeRoom | null = null,
  ): Promise<TraceIntent> {
    const self = this.selfName();
    const heard = opts.interpretation;
    if (heard && isFollowUp(heard.agent)) {
      const where = opts.heardOn && opts.heardOn !== self ? ` on ${opts.heardOn}` : '';
      return this.followUpStage(rec, heard, here, rec.now(), `phrase recogniser${where}`, opts);
    }
    if (heard) {
      // The recogniser parsed the sentence with the agents' grammars already; the host still
      // validates the arguments before anything runs.
      const where = opts.heardOn && opts.heardOn !== self ? ` on ${opts.heardOn}` : '';
      rec.record(
        'intent',
        self,
        rec.now(),
        true,
        `phrase recogniser${where}: ${heard.agent}.${heard.intent} ("${heard.phrase}")`,
      );
      this.emitHop(rec, opts);
      const { agent, intent, args, confidence } = heard;
      return { agent, intent, args, confidence, via: 'fast' };
    }
    const fastStart = rec.now();
    const hit = this.deps.fastMatcher?.match(text) ?? null;
    if (hit && isFollowUp(hit.agent))
      return this.followUpStage(rec, hit, here, fastStart, 'fast matcher', opts);
    // A command about a room or light the house does not have: said so, with the ones that exist,
    // rather than asked of an LLM that can only pick from the same list.
    const unknown = hit ? null : (this.deps.fastMatcher?.unknownValue?.(text) ?? null);
    if (this.deps.fastMatcher) {
      rec.record(
        'intent',
        self,
        fastStart,
        hit !== null,
        hit
          ? `fast matcher: ${hit.agent}.${hit.intent} ("${hit.phrase}")`
          : unknown
            ? `fast matcher: ${unknown.agent}.${unknown.intent}, but ${unknown.arg} "${unknown.value}" is not one of ${unknown.from} (${unknown.allowed.length} known)`
            : 'fast matcher: no phrase matched',
      );
      this.emitHop(rec, opts);
    }
    if (hit) {
      return {
        agent: hit.agent,
        intent: hit.intent,
        args: hit.args,
        confidence: hit.confidence,
        via: 'fast',
      };
    }
    if (unknown) throw new StageFailure('intent', replies.unknownValue(unknown));

    const route = this.pickRouter();
    const started = rec.now();
    if (route.kind === 'none') {
      rec.record('intent', self, started, false, route.reason);
      this.emitHop(rec, opts);
      throw new StageFailure('intent', replies.noRouter(route.reason));
    }
    const node = route.kind === 'local' ? self : route.peer.name;
    const timeoutMs = this.deps.routeTimeoutMs ?? 30_000;
    // the LLM gets the room's last action too, so it can read a follow-up the phrases missed
    const found = this.lookupContext(here);
    const context = found ? describeContext(found) : undefined;
    let outcome: RouteOutcome;
    try {
      outcome =
        route.kind === 'local'
          ? await this.deps.localLlmRouter!.route(text, {
              signal: withTimeout(opts.signal, timeoutMs),
              traceId: rec.traceId,
              ...(context ? { context } : {}),
            })
          : await this.deps.routeRemote!(route.peer, text, {
              traceId: rec.traceId,
              signal: opts.signal,
              timeoutMs,
              language: this.deps.language,
              ...(context ? { context } : {}),
            });
    } catch (err) {
      if (opts.signal?.aborted) throw this.cancelled(rec, 'intent', node, started, opts);
      rec.record('intent', node, started, false, `router LLM: ${errorText(err)}`);
      this.emitHop(rec, opts);
      throw new StageFailure(
        'intent',
        route.kind === 'remote' && isUnreachable(err)
          ? replies.routerUnreachable(node, err)
          : replies.routerFailed(node, err),
      );
    }
    if (outcome.kind === 'intent') {
      const i = outcome.intent;
      rec.record(
        'intent',
        node,
        started,
        true,
        `router LLM ${this.deps.routerModel}: ${i.agent}.${i.intent} (confidence ${i.confidence.toFixed(2)})${context ? `; given the context ${context}` : ''}`,
      );
      this.emitHop(rec, opts);
      return {
        agent: i.agent,
        intent: i.intent,
        args: i.args,
        confidence: i.confidence,
        via: outcome.via,
      };
    }
    if (outcome.kind === 'not-understood') {
      rec.record('intent', node, started, false, `not understood: ${outcome.reason}`);
      this.emitHop(rec, opts);
      throw new StageFailure('intent', replies.notUnderstood(text, outcome.reason));
    }
    rec.record('intent', node, started, false, `router unavailable: ${outcome.reason}`);
    this.emitHop(rec, opts);
    throw new StageFailure(
      'intent',
      sentence(`The router on ${node} is unavailable: ${outcome.reason}`),
    );
  }

  private pickRouter():
    { kind: 'local' } | { kind: 'remote'; peer: PeerView } | { kind: 'none'; reason: string } {
    const view = this.deps.view();
    const peer = pickRouterPeer(view, this.deps.routerModel);
    if (peer && (peer.self || peer.id === this.deps.selfId)) {
      if (this.deps.localLlmRouter) return { kind: 'local' };
    } else if (peer && this.deps.routeRemote) {
      return { kind: 'remote', peer };
    }
    // before membership has a view (it lists at least this node once up), a local router still
    // gets its chance; with a view, no Ollama anywhere means "install it", not "Ollama is down"
    if (this.deps.localLlmRouter && view.length === 0) return { kind: 'local' };
    return { kind: 'none', reason: noRouterLlmMessage(this.deps.routerModel) };
  }

  private async runStage(
    rec: TraceRecorder,
    intent: TraceIntent,
    opts: CommandOptions,
  ): Promise<{ text: string; data: unknown }> {
    const what = `${intent.agent}.${intent.intent}`;
    const started = rec.now();
    let host: string | undefined;
    let placed = '';
    let warm: boolean | undefined;
    /** where the host's image came from, kept in the run hop ("built for linux/arm64 on laptop, 1.1 s") */
    const image: string[] = [];
    try {
      for await (const e of this.deps.runIntent(
        {
          agent: intent.agent,
          intent: intent.intent,
          args: intent.args,
          confidence: intent.confidence,
        },
        { traceId: rec.traceId, signal: opts.signal },
      )) {
        switch (e.type) {
          case 'placed':
            host = e.node;
            warm = e.warm;
            placed = e.reason;
            break;
          case 'accepted':
            host = e.hostName || host;
            warm = e.warm;
            break;
          case 'progress':
            if (IMAGE_PROVENANCE.test(e.message)) image.push(e.message);
            opts.onEvent?.({ type: 'progress', message: e.message, node: host });
            break;
          case 'host_lost':
            opts.onEvent?.({
              type: 'progress',
              message: `lost ${e.node} (${e.reason})${e.retrying ? '; placing it again' : ''}`,
              node: e.node,
            });
            break;
          case 'result':
            rec.record(
              'run',
              e.hostName || host || '?',
              started,
              true,
              `${what} ${warm === false ? 'cold' : 'warm'}${placed ? ` (${placed})` : ''}${image.length ? `; ${image.join('; ')}` : ''}`,
            );
            this.emitHop(rec, opts);
            return { text: e.text, data: e.data };
          case 'error':
            if (opts.signal?.aborted) {
              throw this.cancelled(rec, 'run', e.node ?? host ?? this.selfName(), started, opts);
            }
            rec.record(
              'run',
              e.node ?? host ?? this.selfName(),
              started,
              false,
              `${what}: ${e.code}: ${e.message}`,
            );
            this.emitHop(rec, opts);
            throw new StageFailure(
              'run',
              e.code === 'no_host'
                ? replies.noHost(intent.agent, e.message)
                : replies.runFailed(intent.agent, e.node ?? host, e.message),
            );
        }
      }
      if (opts.signal?.aborted) {
        throw this.cancelled(rec, 'run', host ?? this.selfName(), started, opts);
      }
      rec.record(
        'run',
        host ?? this.selfName(),
        started,
        false,
        `${what}: the run ended without a result`,
      );
      this.emitHop(rec, opts);
      throw new StageFailure(
        'run',
        replies.runFailed(intent.agent, host, 'the run ended without a result'),
      );
    } catch (err) {
      if (err instanceof StageFailure) throw err;
      if (opts.signal?.aborted) {
        throw this.cancelled(rec, 'run', host ?? this.selfName(), started, opts);
      }
      rec.record('run', host ?? this.selfName(), started, false, `${what}: ${errorText(err)}`);
      this.emitHop(rec, opts);
      throw new StageFailure('run', replies.runFailed(intent.agent, host, describeError(err)));
    }
  }

  private async replyStage(
    rec: TraceRecorder,
    reply: string,
    opts: CommandOptions & { speak?: boolean },
  ): Promise<void> {
    const started = rec.now();
    if (!opts.speak || !this.deps.speak) {
      rec.record('reply', this.selfName(), started, true, 'printed');
      this.emitHop(rec, opts);
      return;
    }
    try {
      const spoken = await this.deps.speak(reply, { signal: withTimeout(opts.signal, 30_000) });
      rec.record(
        'reply',
        this.selfName(),
        started,
        true,
        spoken ? `printed and spoken with ${spoken.engine}` : 'printed (no TTS engine here)',
      );
    } catch (err) {
      // the reply still reaches the person in print; a broken speaker must not fail the command
      rec.record(
        'reply',
        this.selfName(),
        started,
        false,
        `printed; speaking failed: ${describeError(err)}`,
      );
    }
    this.emitHop(rec, opts);
  }

  private async fail(
    rec: TraceRecorder,
    err: unknown,
    transcript: string,
    opts: CommandOptions & { speak?: boolean; source?: string },
  ): Promise<PipelineResult> {
    let stage: Stage;
    let reply: string;
    if (err instanceof StageFailure) {
      stage = err.stage;
      reply = err.reply;
    } else if (opts.signal?.aborted) {
      stage = rec.hops.at(-1)?.stage ?? 'stt';
      reply = replies.cancelled(stage);
    } else {
      stage = rec.hops.at(-1)?.stage ?? 'stt';
      reply = sentence(`Something went wrong on ${this.selfName()}: ${describeError(err)}`);
      this.log.error({ traceId: rec.traceId, err: describeError(err) }, 'pipeline bug');
    }
    if (!opts.signal?.aborted) {
      await this.replyStage(rec, reply, { ...opts, speak: opts.speak ?? opts.source === 'mic' });
    }
    const intent = rec.intent;
    const trace = this.publish(
      rec.finish({
        ...(transcript ? { transcript } : {}),
        ...(intent ? { intent } : {}),
        reply,
        ok: false,
        failedStage: stage,
      }),
    );
    this.log.info({ traceId: rec.traceId, stage, reply }, 'command failed');
    return {
      traceId: rec.traceId,
      transcript,
      ...(intent ? { intent } : {}),
      reply,
      ok: false,
      failedStage: stage,
      trace,
    };
  }

  /** The caller gave up during `stage`: its hop says so, and nothing is said or spoken after. */
  private cancelled(
    rec: TraceRecorder,
    stage: Stage,
    node: string,
    started: number,
    opts: CommandOptions,
  ): StageFailure {
    // a mic that yielded late to a better one says so; any other caller gave up
    const reason = opts.signal?.reason;
    rec.record(
      stage,
      node,
      started,
      false,
      reason instanceof YieldedError ? `cancelled: ${reason.message}` : 'cancelled',
    );
    this.emitHop(rec, opts);
    return new StageFailure(stage, replies.cancelled(stage));
  }

  private emitHop(rec: TraceRecorder, opts: CommandOptions): void {
    const hop = rec.hops.at(-1);
    if (hop) opts.onEvent?.({ type: 'hop', hop });
  }

  private publish(trace: Trace): Trace {
    this.deps.traces?.add(trace);
    try {
      this.deps.publishTrace?.(trace);
    } catch (err) {
      this.log.debug({ err: describeError(err) }, 'trace publish failed');
    }
    return trace;
  }
}

/** The error's own message (the hop detail), without the cause chain describeError adds. */
function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The caller's signal plus a stage deadline. */
function withTimeout(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const timeout = AbortSignal.timeout(ms);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/** "heard best of 3 mics (a …, b …, c …), decided in 41 ms" for the vad hop. */
function arbitrationText(a: ArbitrationResult): string {
  if (a.alone) return `the only mic in the mesh (decided in ${a.waitedMs} ms)`;
  if (a.heard.length === 1)
    return `no other mic heard it (waited ${a.waitedMs} ms for their announcements)`;
  return `heard best of ${a.heard.length} mics (${a.heard.map(describeHeard).join('; ')}), decided in ${a.waitedMs} ms`;
}
