/**
 * A small client for Ollama's HTTP API over fetch (Node's undici), behind the OllamaApi
 * interface so the router can be tested against a stand-in server or a plain object.
 *
 * Why not the `ollama` npm package: its calls take no AbortSignal (only a client-wide abort()
 * for streams), and every reply is parsed with our zod schemas anyway; fetch gives per-call
 * deadlines, typed error mapping and NDJSON streaming in ~200 lines with no dependency.
 */
import type { z } from 'zod';
import {
  OllamaBadRequestError,
  OllamaBusyError,
  OllamaError,
  OllamaModelMissingError,
  OllamaProtocolError,
  OllamaServerError,
  OllamaTimeoutError,
  OllamaUnreachableError,
} from './errors.js';
import {
  ChatChunkSchema,
  ErrorBodySchema,
  PullProgressSchema,
  ShowResponseSchema,
  VersionResponseSchema,
  type ChatRequest,
  type PullProgress,
  type ShowResponse,
} from './ollama-wire.js';
import {
  OllamaPsSchema,
  OllamaTagsSchema,
  type OllamaPs,
  type OllamaTags,
} from '../capabilities/index.js';

export interface CallOptions {
  signal?: AbortSignal;
  /** overrides the client's default deadline for this call */
  timeoutMs?: number;
}

/** A whole chat reply, whether it came as one object or as NDJSON chunks. */
export interface ChatResult {
  model: string;
  content: string;
  /** the reasoning trace from `message.thinking` (empty when none) */
  thinking: string;
  doneReason: string | undefined;
  /** number of reply objects (1 when not streamed) */
  chunks: number;
  totalDurationNs: number | undefined;
  loadDurationNs: number | undefined;
  promptEvalCount: number | undefined;
  evalCount: number | undefined;
  evalDurationNs: number | undefined;
}

export interface OllamaApi {
  /** base URL, for messages */
  readonly url: string;
  chat(request: ChatRequest, opts?: CallOptions): Promise<ChatResult>;
  show(model: string, opts?: CallOptions): Promise<ShowResponse>;
  tags(opts?: CallOptions): Promise<OllamaTags>;
  ps(opts?: CallOptions): Promise<OllamaPs>;
  version(opts?: CallOptions): Promise<string>;
  /** progress lines until "success"; `timeoutMs` is the longest silence allowed between lines */
  pull(model: string, opts?: CallOptions): AsyncIterable<PullProgress>;
}

export interface OllamaHttpClientOptions {
  /** e.g. http://127.0.0.1:11434 */
  url: string;
  /** default deadline per call (router.timeout_ms) */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const STALE_CONNECTION_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

export class OllamaHttpClient implements OllamaApi {
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(opts: OllamaHttpClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.fetchFn = opts.fetch ?? fetch;
  }

  async chat(request: ChatRequest, opts: CallOptions = {}): Promise<ChatResult> {
    return this.call('POST', '/api/chat', request, opts, request.model, async (res, signal) => {
      const result: ChatResult = {
        model: request.model,
        content: '',
        thinking: '',
        doneReason: undefined,
        chunks: 0,
        totalDurationNs: undefined,
        loadDurationNs: undefined,
        promptEvalCount: undefined,
        evalCount: undefined,
        evalDurationNs: undefined,
      };
      let done = false;
      // One object (stream: false) or NDJSON (stream: true): both are newline-separated JSON.
      for await (const line of readLines(res, signal)) {
        const chunk = this.parse(ChatChunkSchema, line, 'chat reply');
        result.chunks += 1;
        result.model = chunk.model;
        result.content += chunk.message?.content ?? '';
        result.thinking += chunk.message?.thinking ?? '';
        if (chunk.done) {
          done = true;
          result.doneReason = chunk.done_reason;
          result.totalDurationNs = chunk.total_duration;
          result.loadDurationNs = chunk.load_duration;
          result.promptEvalCount = chunk.prompt_eval_count;
          result.evalCount = chunk.eval_count;
          result.evalDurationNs = chunk.eval_duration;
        }
      }
      if (!done)
        throw new OllamaProtocolError(this.url, 'the chat reply ended before "done": true');
      return result;
    });
  }

  async show(model: string, opts: CallOptions = {}): Promise<ShowResponse> {
    return this.call('POST', '/api/show', { model }, opts, model, async (res) =>
      this.parse(ShowResponseSchema, await res.text(), 'show reply'),
    );
  }

  async tags(opts: CallOptions = {}): Promise<OllamaTags> {
    return this.call('GET', '/api/tags', undefined, opts, undefined, async (res) =>
      this.parse(OllamaTagsSchema, await res.text(), 'tags reply'),
    );
  }

  async ps(opts: CallOptions = {}): Promise<OllamaPs> {
    return this.call('GET', '/api/ps', undefined, opts, undefined, async (res) =>
      this.parse(OllamaPsSchema, await res.text(), 'ps reply'),
    );
  }

  async version(opts: CallOptions = {}): Promise<string> {
    return this.call('GET', '/api/version', undefined, opts, undefined, async (res) => {
      return this.parse(VersionResponseSchema, await res.text(), 'version reply').version;
    });
  }

  async *pull(model: string, opts: CallOptions = {}): AsyncIterable<PullProgress> {
    const idleMs = opts.timeoutMs ?? 60_000;
    const idle = new AbortController();
    let timer = setTimeout(() => idle.abort(), idleMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, idle.signal]) : idle.signal;
    try {
      const res = await this.send(
        'POST',
        '/api/pull',
        { model, stream: true },
        signal,
        opts.signal,
        idle.signal,
        idleMs,
        model,
      );
      try {
        for await (const line of readLines(res, signal)) {
          clearTimeout(timer);
          timer = setTimeout(() => idle.abort(), idleMs);
          const progress = this.parse(PullProgressSchema, line, 'pull progress');
          yield progress;
          if (progress.status === 'success') return;
        }
      } catch (err) {
        throw this.mapFailure(err, opts.signal, idle.signal, idleMs);
      }
      throw new OllamaProtocolError(this.url, 'the pull ended without "success"');
    } finally {
      clearTimeout(timer);
    }
  }

  /** One request: deadline, error mapping, and `read` consuming the body under the same deadline. */
  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    opts: CallOptions,
    model: string | undefined,
    read: (res: Response, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
    const res = await this.send(
      method,
      path,
      body,
      signal,
      opts.signal,
      deadline,
      timeoutMs,
      model,
    );
    try {
      return await read(res, signal);
    } catch (err) {
      throw this.mapFailure(err, opts.signal, deadline, timeoutMs);
    }
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal: AbortSignal,
    callerSignal: AbortSignal | undefined,
    deadline: AbortSignal,
    timeoutMs: number,
    model: string | undefined,
  ): Promise<Response> {
    const attempt = () =>
      this.fetchFn(this.url + path, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    let res: Response;
    try {
      try {
        res = await attempt();
      } catch (err) {
        // A pooled keep-alive connection that Ollama closed (a restart) fails before any reply;
        // every call here is safe to send again, once, on a fresh connection.
        if (signal.aborted || !STALE_CONNECTION_CODES.has(networkCode(err) ?? '')) throw err;
        res = await attempt();
      }
    } catch (err) {
      throw this.mapFailure(err, callerSignal, deadline, timeoutMs);
    }
    if (res.ok) return res;
    let text = '';
    try {
      text = await res.text();
    } catch (err) {
      throw this.mapFailure(err, callerSignal, deadline, timeoutMs);
    }
    const parsed = ErrorBodySchema.safeParse(safeJson(text));
    const message = parsed.success ? parsed.data.error : excerpt(text) || res.statusText;
    if (res.status === 404 && model !== undefined)
      throw new OllamaModelMissingError(model, this.url, message);
    if (res.status === 400) throw new OllamaBadRequestError(this.url, message);
    if (res.status === 503 || res.status === 429)
      throw new OllamaBusyError(this.url, res.status, message);
    throw new OllamaServerError(this.url, res.status, message);
  }

  /** Map fetch/body failures: the caller's abort passes through; deadlines and sockets become typed errors. */
  private mapFailure(
    err: unknown,
    callerSignal: AbortSignal | undefined,
    deadline: AbortSignal,
    timeoutMs: number,
  ): unknown {
    if (err instanceof OllamaError) return err;
    if (callerSignal?.aborted) return callerSignal.reason;
    if (deadline.aborted) return new OllamaTimeoutError(this.url, timeoutMs, { cause: err });
    const code = networkCode(err);
    if (code !== undefined) return new OllamaUnreachableError(this.url, code, { cause: err });
    if (err instanceof TypeError && err.message === 'fetch failed') {
      return new OllamaUnreachableError(this.url, describeCause(err), { cause: err });
    }
    return err;
  }

  private parse<S extends z.ZodType>(schema: S, text: string, what: string): z.infer<S> {
    const json = safeJson(text);
    const error = ErrorBodySchema.safeParse(json);
    if (error.success)
      throw new OllamaError(
        'server',
        `Ollama at ${this.url} reported an error: ${error.data.error}`,
      );
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new OllamaProtocolError(
        this.url,
        `${what} does not match Ollama's API: ${excerpt(text)}`,
        {
          cause: parsed.error,
        },
      );
    }
    return parsed.data;
  }
}

/** Non-empty lines of a body, read as they arrive. */
async function* readLines(res: Response, signal: AbortSignal): AsyncIterable<string> {
  if (res.body === null) return;
  const decoder = new TextDecoder();
  let buffered = '';
  const reader = res.body.getReader();
  try {
    for (;;) {
      signal.throwIfAborted();
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line !== '') yield line;
      }
    }
    buffered += decoder.decode();
    if (buffered.trim() !== '') yield buffered.trim();
  } finally {
    // Stopping early (or failing) must not leave the response open.
    await reader.cancel().catch(() => undefined);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function excerpt(text: string, max = 200): string {
  const t = text.trim().replace(/\s+/g, ' ');
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
  }
  return undefined;
}

function describeCause(err: Error): string {
  const cause = err.cause;
  return cause instanceof Error ? cause.message : err.message;
}
