/**
 * The daemon's control routes for the voice commands (the CLI's `say`, `transcribe`, `listen`,
 * `trace`, `models pull --router`). Commands stream control's NDJSON envelope: `{ type: "event",
 * event }` lines while they run, then one `{ type: "result", ... }`; the CLI going away cancels.
 */
import path from 'node:path';
import { z } from 'zod';
import { describeError, InputError, UsageError } from '../../errors.js';
import type {
  PipelineEvent,
  PipelineResult,
  Trace,
  VoiceControlDeps,
} from '../../pipeline/index.js';
import { readWavFile } from '../../voice/index.js';
import { parseBody, type StreamLine } from '../envelope.js';
import type { ControlServer } from '../server.js';
import { lazySchema } from '../../types.js';

/** What the CLI gets back at the end of a command stream. */
export interface CommandResultLine {
  type: 'result';
  traceId: string;
  ok: boolean;
  transcript: string;
  reply: string;
  failedStage?: string;
  intent?: unknown;
  node?: string;
}

/** The last line of a say / listen stream: the pipeline's result. */
function resultLine(result: PipelineResult): CommandResultLine {
  return {
    type: 'result',
    traceId: result.traceId,
    ok: result.ok,
    transcript: result.transcript,
    reply: result.reply,
    ...(result.failedStage ? { failedStage: result.failedStage } : {}),
    ...(result.intent ? { intent: result.intent } : {}),
  };
}

export type CommandStreamLine = StreamLine<
  PipelineEvent | { type: 'pull'; status: string; completedBytes?: number; totalBytes?: number },
  Omit<CommandResultLine, 'type'>
>;

/** `GET /v1/traces`: the newest traces this node keeps (its own and those peers published). */
export interface TraceList {
  schema: 'helix.traces/v1';
  /** newest first */
  traces: Trace[];
}

const TracesQuery = lazySchema(() =>
  z.object({ limit: z.coerce.number().int().min(1).max(1000).optional() }),
);

const SayBody = lazySchema(() =>
  z.object({ text: z.string().min(1).max(2000), speak: z.boolean().optional() }),
);
const TranscribeBody = lazySchema(() =>
  z.object({ path: z.string().min(1), on: z.string().max(256).optional() }),
);
const ListenBody = lazySchema(() =>
  z.object({
    timeoutMs: z.number().int().min(1000).max(600_000).optional(),
    /** a WAV file to take the utterance from instead of the mic (absolute path) */
    file: z.string().min(1).optional(),
  }),
);
const PullBody = lazySchema(() =>
  z.object({
    model: z.string().min(1).max(200).optional(),
    on: z.string().max(256).optional(),
  }),
);

const parse = <T>(schema: z.ZodType<T>, body: unknown, route: string): T =>
  parseBody(schema, body, `bad request to ${route}`);

export function registerVoiceControlRoutes(control: ControlServer, deps: VoiceControlDeps): void {
  control.route('POST', '/v1/say', async (body, _req, res) => {
    const { text, speak } = parse(SayBody, body, '/v1/say');
    const result = await deps.pipeline.handleText(text, {
      speak,
      signal: res.signal,
      onEvent: (event) => res.event(event),
    });
    res.result(resultLine(result));
    return undefined;
  });

  control.route('POST', '/v1/transcribe', async (body, _req, res) => {
    const { path: file, on } = parse(TranscribeBody, body, '/v1/transcribe');
    if (!path.isAbsolute(file)) throw new InputError(`${file}: give the daemon an absolute path`);
    const clip = await readWavFile(file);
    // cut like `listen` does, so the transcript is what `listen` would act on
    let pcm = clip.pcm;
    let segmentation = 'vad';
    if (deps.cutFile) {
      try {
        const cut = await deps.cutFile(clip.pcm, res.signal);
        if (!cut) {
          res.result({
            traceId: '',
            ok: false,
            transcript: '',
            reply: `I heard no speech in ${file}.`,
            failedStage: 'vad',
            segmentation,
          });
          return undefined;
        }
        pcm = cut;
      } catch (err) {
        if (res.signal.aborted) throw err;
        segmentation = `the whole file: ${describeError(err)}`;
      }
    } else {
      segmentation = 'the whole file (this daemon has no VAD)';
    }
    const result = await deps.pipeline.transcribe(pcm, {
      on,
      signal: res.signal,
      onEvent: (event) => res.event(event),
    });
    res.result({
      traceId: result.traceId,
      ok: result.ok,
      transcript: result.transcript.text,
      reply: result.ok ? result.transcript.text : (result.error ?? ''),
      node: result.node,
      ...(result.ok ? {} : { failedStage: 'stt' }),
      segments: result.transcript.segments,
      language: result.transcript.language,
      confidence: result.transcript.confidence,
      ...(result.transcript.rejected ? { rejected: result.transcript.rejected } : {}),
      durationS: clip.pcm.length / 16_000,
      segmentation,
      ...(pcm !== clip.pcm ? { speechS: pcm.length / 16_000 } : {}),
    });
    return undefined;
  });

  control.route('POST', '/v1/listen', async (body, _req, res) => {
    const { timeoutMs, file } = parse(ListenBody, body, '/v1/listen');
    if (file !== undefined && !path.isAbsolute(file))
      throw new InputError(`${file}: give the daemon an absolute path`);
    if (file !== undefined && !deps.listenFile)
      throw new UsageError('this daemon cannot take utterances from files');
    if (file === undefined && !deps.voice) {
      throw new UsageError(
        'this node does not listen: set voice.enabled = true (and voice.device) in helix.toml on a node with a mic, and make sure the Silero VAD model is installed (`helix-node models pull silero-vad`); or give a recording with --file',
      );
    }
    const opts = {
      signal: res.signal,
      timeoutMs: timeoutMs ?? 30_000,
      onEvent: (event: PipelineEvent) => res.event(event),
    };
    const result =
      file !== undefined ? await deps.listenFile!(file, opts) : await deps.voice!.once(opts);
    if (!result) {
      res.result({
        traceId: '',
        ok: false,
        transcript: '',
        reply: file !== undefined ? `I heard no speech in ${file}.` : 'I heard no speech.',
        failedStage: 'vad',
      });
      return undefined;
    }
    res.result(resultLine(result));
    return undefined;
  });

  control.route('GET', '/v1/traces', async (query): Promise<TraceList> => {
    const { limit } = parse(TracesQuery, query, '/v1/traces?limit=N');
    return { schema: 'helix.traces/v1', traces: deps.traces.list(limit ?? 100) };
  });

  control.route('GET', '/v1/trace', async (query) => {
    const q = query as { id?: string; last?: string };
    const trace = q.id
      ? deps.traces.get(q.id)
      : deps.traces.last(q.last === 'mine' ? deps.selfId : undefined);
    if (!trace) {
      throw new InputError(
        q.id
          ? `no trace ${q.id} on this node (it keeps the last ${deps.traces.capacity}, and only while it runs); run \`helix-node trace --last\``
          : 'no command has run since this node started',
      );
    }
    return trace;
  });

  control.route('POST', '/v1/models/pull-router', async (body, _req, res) => {
    const { model, on } = parse(PullBody, body, '/v1/models/pull-router');
    if (!deps.pullRouterModel) throw new UsageError('this daemon cannot pull router models');
    const wanted = model ?? deps.routerModel;
    const { node } = await deps.pullRouterModel({
      model: wanted,
      on,
      signal: res.signal,
      onProgress: (p) => res.event({ type: 'pull', ...p }),
    });
    res.result({
      traceId: '',
      ok: true,
      transcript: '',
      reply: `${wanted} is ready on ${node}`,
      node,
    });
    return undefined;
  });
}
