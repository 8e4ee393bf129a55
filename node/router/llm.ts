/**
 * The LLM router: a transcript the fast matcher did not take goes to Ollama's /api/chat with
 * `format` = the intent JSON schema; the answer is stripped of any reasoning, parsed, validated
 * against the chosen agent's argument schema and held to router.min_confidence. Anything that
 * fails becomes "not understood" (nothing runs); Ollama failures become "unavailable".
 */
import {
  buildIntentSchema,
  validateIntent,
  type AgentManifest,
  type JsonSchema,
  type SlotValues,
} from '../agentspec/index.js';
import type { Config } from '../config/index.js';
import { silentLogger, type Logger } from '../log.js';
import { OllamaBadRequestError, OllamaError } from './errors.js';
import { OllamaHttpClient, type ChatResult, type OllamaApi } from './ollama.js';
import type { ChatRequest } from './ollama-wire.js';
import { buildSystemPrompt, buildUserMessage } from './prompt.js';
import type { RouteOutcome } from './types.js';
import { untilAborted } from '../async.js';

export interface LlmRouterOptions {
  api: OllamaApi;
  /** router.model */
  model: string;
  /** every installed agent, warm and cold */
  manifests: readonly AgentManifest[];
  slotValues?: SlotValues;
  /** router.keep_alive: how long Ollama keeps the model loaded after a request (default "30m") */
  keepAlive?: string | number;
  /** router.min_confidence (default 0.6) */
  minConfidence?: number;
  /** router.timeout_ms, per Ollama call (default 30 000) */
  timeoutMs?: number;
  /**
   * The `think` value sent to models whose /api/show capabilities list "thinking" (never sent
   * to others: Ollama answers HTTP 400). Default false: routing is classification, and a
   * reasoning trace costs seconds.
   */
  think?: boolean;
  /** ask for NDJSON streaming instead of one reply object (default false) */
  stream?: boolean;
  logger?: Logger;
}

export interface RouteOptions {
  signal?: AbortSignal;
  traceId?: string;
  /** the room's last action, as plain text (follow-ups); sent after the system prompt */
  context?: string;
}

// Old servers (and some templates) put the reasoning inline: "<think>…</think>{…}".
const THINK_BLOCK = /<think(?:ing)?>[\s\S]*?(?:<\/think(?:ing)?>|$)/gi;
const CODE_FENCE = /^```(?:json)?\s*([\s\S]*?)\s*```$/i;

/** The JSON text of a model answer: inline reasoning and a Markdown fence removed. */
export function answerText(content: string): string {
  let text = content.replace(THINK_BLOCK, '');
  // Some templates open the block in the prompt, so only "…</think>" reaches the answer.
  text = text.replace(/^[\s\S]*<\/think(?:ing)?>/i, '').trim();
  const fenced = CODE_FENCE.exec(text);
  if (fenced) text = (fenced[1] as string).trim();
  return text;
}

/** "30m" stays a duration string; "-1" or "3600" become numbers, as Ollama expects for seconds. */
export function keepAliveValue(value: string | number): string | number {
  if (typeof value === 'number') return value;
  return /^-?\d+$/.test(value.trim()) ? Number(value) : value;
}

export class LlmRouter {
  #schema: JsonSchema;
  #systemPrompt: string;
  private readonly opts: Required<Omit<LlmRouterOptions, 'slotValues'>> & {
    slotValues: SlotValues;
  };
  private capabilitiesCache: Promise<readonly string[] | null> | null = null;
  /** set when the server refused `think` although /api/show listed it */
  private thinkRefused = false;

  constructor(opts: LlmRouterOptions) {
    this.opts = {
      slotValues: {},
      keepAlive: '30m',
      minConfidence: 0.6,
      timeoutMs: 30_000,
      think: false,
      stream: false,
      logger: silentLogger,
      ...definedOnly(opts),
    };
    this.#schema = buildIntentSchema(opts.manifests, this.opts.slotValues);
    this.#systemPrompt = buildSystemPrompt(opts.manifests, this.opts.slotValues);
  }

  /** The intent JSON schema sent as `format` (enum_from values included). */
  get schema(): JsonSchema {
    return this.#schema;
  }

  /** The system prompt (the stable prefix Ollama caches). */
  get systemPrompt(): string {
    return this.#systemPrompt;
  }

  /**
   * New `enum_from` values (the mesh's rooms changed): the schema, the prompt and the answer's
   * validation use them from now on (a route already waiting on Ollama validates with them too).
   */
  setSlotValues(slotValues: SlotValues): void {
    const schema = buildIntentSchema(this.opts.manifests, slotValues);
    const systemPrompt = buildSystemPrompt(this.opts.manifests, slotValues);
    this.opts.slotValues = slotValues;
    this.#schema = schema;
    this.#systemPrompt = systemPrompt;
  }

  /** A router over Ollama at config.router.ollama_url with the router.* settings. */
  static fromConfig(
    router: Config['router'],
    manifests: readonly AgentManifest[],
    slotValues: SlotValues = {},
    extra: { logger?: Logger; fetch?: typeof fetch; think?: boolean } = {},
  ): LlmRouter {
    return new LlmRouter({
      api: new OllamaHttpClient({
        url: router.ollama_url,
        timeoutMs: router.timeout_ms,
        fetch: extra.fetch,
      }),
      model: router.model,
      manifests,
      slotValues,
      keepAlive: router.keep_alive,
      minConfidence: router.min_confidence,
      timeoutMs: router.timeout_ms,
      think: extra.think,
      logger: extra.logger,
    });
  }

  /**
   * The model's capabilities from /api/show (cached), or null when the server does not report
   * them (Ollama before 0.6.4). Throws OllamaError.
   */
  async modelCapabilities(opts: RouteOptions = {}): Promise<readonly string[] | null> {
    if (this.capabilitiesCache === null) {
      // Shared by concurrent routes, so bounded by the deadline only, not by one caller's signal.
      const pending = this.opts.api
        .show(this.opts.model, { timeoutMs: this.opts.timeoutMs })
        .then((show) => show.capabilities ?? null);
      this.capabilitiesCache = pending;
      pending.catch(() => {
        if (this.capabilitiesCache === pending) this.capabilitiesCache = null;
      });
    }
    return untilAborted(this.capabilitiesCache, opts.signal);
  }

  /** Route one transcript. Throws only the caller's abort reason. */
  async route(text: string, opts: RouteOptions = {}): Promise<RouteOutcome> {
    const transcript = text.trim();
    const log = this.opts.logger.child({
      traceId: opts.traceId,
      stage: 'route',
      model: this.opts.model,
    });
    if (transcript === '')
      return { kind: 'not-understood', reason: 'nothing was said', transcript };

    let reply: ChatResult;
    try {
      const capabilities = await this.modelCapabilities(opts);
      const canThink =
        !this.thinkRefused && capabilities !== null && capabilities.includes('thinking');
      const request = this.request(transcript, canThink, opts.context);
      try {
        reply = await this.opts.api.chat(request, {
          signal: opts.signal,
          timeoutMs: this.opts.timeoutMs,
        });
      } catch (err) {
        // The model changed under the same name since /api/show; ask again without `think`.
        if (!(
          err instanceof OllamaBadRequestError &&
          request.think !== undefined &&
          /think/i.test(err.message)
        ))
          throw err;
        this.thinkRefused = true;
        log.info({ err: err.message }, 'Ollama refused think; retrying without it');
        reply = await this.opts.api.chat(this.request(transcript, false, opts.context), {
          signal: opts.signal,
          timeoutMs: this.opts.timeoutMs,
        });
      }
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      if (err instanceof OllamaError) {
        log.warn({ err: err.message, failure: err.failure }, 'router LLM unavailable');
        return { kind: 'unavailable', reason: err.message, error: err };
      }
      throw err;
    }

    log.debug(
      {
        chunks: reply.chunks,
        totalMs: reply.totalDurationNs !== undefined ? reply.totalDurationNs / 1e6 : undefined,
        loadMs: reply.loadDurationNs !== undefined ? reply.loadDurationNs / 1e6 : undefined,
        evalCount: reply.evalCount,
        thinkingChars: reply.thinking.length,
      },
      'router LLM answered',
    );

    const json = answerText(reply.content);
    let decoded: unknown;
    try {
      decoded = JSON.parse(json);
    } catch {
      log.debug({ raw: reply.content.slice(0, 500) }, 'router LLM answer is not JSON');
      return {
        kind: 'not-understood',
        reason:
          json === ''
            ? 'the router model gave no answer'
            : 'the router model did not answer with valid JSON',
        transcript,
      };
    }
    const checked = validateIntent(this.opts.manifests, decoded, this.opts.slotValues);
    if (!checked.ok) {
      log.debug({ raw: json.slice(0, 500), reason: checked.reason }, 'router LLM answer refused');
      return { kind: 'not-understood', reason: checked.reason, transcript };
    }
    if (checked.intent.confidence < this.opts.minConfidence) {
      return {
        kind: 'not-understood',
        reason: `confidence ${checked.intent.confidence} is below router.min_confidence ${this.opts.minConfidence} (${checked.intent.agent}.${checked.intent.intent})`,
        transcript,
      };
    }
    return { kind: 'intent', intent: checked.intent, via: 'llm' };
  }

  /** System prompt and schema first and the same on every call; the request (and context) last. */
  private request(transcript: string, think: boolean, context?: string): ChatRequest {
    const request: ChatRequest = {
      model: this.opts.model,
      messages: [
        { role: 'system', content: this.systemPrompt },
        { role: 'user', content: buildUserMessage(transcript, context) },
      ],
      format: this.schema,
      stream: this.opts.stream,
      keep_alive: keepAliveValue(this.opts.keepAlive),
      // Routing wants the most likely reading, not variety.
      options: { temperature: 0 },
    };
    if (think) request.think = this.opts.think;
    return request;
  }
}

function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
