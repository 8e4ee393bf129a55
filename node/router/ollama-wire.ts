/**
 * Ollama's HTTP API as zod schemas (the wire, parsed at the edge). Field names follow
 * ollama/ollama docs/api.md; unknown fields pass through so newer servers still parse.
 * Durations are nanoseconds; `expires_at` and `modified_at` are RFC 3339 strings.
 */
import { z } from 'zod';
import { OllamaModelDetailsSchema } from '../capabilities/index.js';
import { lazySchema } from '../types.js';

export const ChatMessageSchema = lazySchema(() =>
  z.looseObject({
    role: z.string(),
    content: z.string().default(''),
    /** the reasoning trace, on servers with thinking support (Ollama >= 0.9) */
    thinking: z.string().optional(),
    images: z.array(z.string()).nullish(),
    tool_calls: z.array(z.unknown()).optional(),
  }),
);
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

/** One /api/chat reply object: the whole reply (stream: false) or one NDJSON chunk. */
export const ChatChunkSchema = lazySchema(() =>
  z.looseObject({
    model: z.string(),
    created_at: z.string(),
    message: ChatMessageSchema.optional(),
    done: z.boolean(),
    done_reason: z.string().optional(),
    total_duration: z.number().optional(),
    load_duration: z.number().optional(),
    prompt_eval_count: z.number().optional(),
    prompt_eval_duration: z.number().optional(),
    eval_count: z.number().optional(),
    eval_duration: z.number().optional(),
  }),
);
export type ChatChunk = z.infer<typeof ChatChunkSchema>;

/** What Ollama sends instead of a reply, with an HTTP error status or as a stream line. */
export const ErrorBodySchema = lazySchema(() => z.object({ error: z.string() }));

export const ShowResponseSchema = lazySchema(() =>
  z.looseObject({
    license: z.string().optional(),
    modelfile: z.string().optional(),
    parameters: z.string().optional(),
    template: z.string().optional(),
    details: OllamaModelDetailsSchema.optional(),
    model_info: z.record(z.string(), z.unknown()).optional(),
    /** e.g. ["completion", "tools", "thinking"]; absent on servers before 0.6.4 */
    capabilities: z.array(z.string()).optional(),
    modified_at: z.string().optional(),
  }),
);
export type ShowResponse = z.infer<typeof ShowResponseSchema>;

export const VersionResponseSchema = lazySchema(() => z.looseObject({ version: z.string() }));

export const PullProgressSchema = lazySchema(() =>
  z.looseObject({
    status: z.string(),
    digest: z.string().optional(),
    total: z.number().optional(),
    completed: z.number().optional(),
  }),
);
export type PullProgress = z.infer<typeof PullProgressSchema>;

/** The body of POST /api/chat as HelixOS sends it. */
export interface ChatRequest {
  model: string;
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
  /** "json" or a JSON schema */
  format?: 'json' | Record<string, unknown>;
  stream?: boolean;
  /** duration string ("30m") or seconds; negative keeps the model loaded */
  keep_alive?: string | number;
  /** only for models whose /api/show capabilities include "thinking" */
  think?: boolean | 'low' | 'medium' | 'high';
  options?: Record<string, unknown>;
}
