/**
 * The host <-> agent protocol (DESIGN.md §6, docs/agents.md): versioned JSON lines on the
 * container's stdin (host -> agent) and stdout (agent -> host). Pure: schemas, parsing, encoding.
 * Everything an agent writes is parsed here before anything else looks at it.
 */
import { z } from 'zod';
import { MAX_JSON_DEPTH, jsonTooDeep } from '../types.js';
import { lazySchema } from '../types.js';

export const AGENT_PROTOCOL_VERSION = 1;
/** Longest line either side may send; a longer line ends the task (and the container). */
export const MAX_LINE_BYTES = 1024 * 1024;

const version = lazySchema(() => z.literal(AGENT_PROTOCOL_VERSION));
const messageId = lazySchema(() => z.string().min(1).max(128));
const json = lazySchema(() => z.unknown());

// ---- host -> agent ----

export const TaskContextSchema = lazySchema(() =>
  z.object({
    /** name of the node that owns the request (where the reply is said); notify goes there */
    node: z.string(),
    /** name of the node running the agent */
    host: z.string(),
    trace_id: z.string(),
    /** wall-clock deadline, ms since epoch */
    deadline_ms: z.number(),
    /** the helix.toml keys the manifest lists in `context`, e.g. {"lights.rooms": {...}} */
    config: z.record(z.string(), json),
  }),
);
export type TaskContext = z.infer<typeof TaskContextSchema>;

export const TaskMessageSchema = lazySchema(() =>
  z.object({
    v: version,
    type: z.literal('task'),
    id: messageId,
    intent: z.string(),
    args: z.record(z.string(), json),
    context: TaskContextSchema,
  }),
);
export type TaskMessage = z.infer<typeof TaskMessageSchema>;

export const ReplyMessageSchema = lazySchema(() =>
  z.union([
    z.object({
      v: version,
      type: z.literal('reply'),
      /** the task the call belonged to; absent for a call made between tasks */
      id: messageId.optional(),
      call_id: messageId,
      ok: z.literal(true),
      result: json,
    }),
    z.object({
      v: version,
      type: z.literal('reply'),
      id: messageId.optional(),
      call_id: messageId,
      ok: z.literal(false),
      error: z.string(),
    }),
  ]),
);
export type ReplyMessage = z.infer<typeof ReplyMessageSchema>;

export type HostMessage = TaskMessage | ReplyMessage;

// ---- agent -> host ----

export const ReadyMessageSchema = lazySchema(() =>
  z.object({
    v: version,
    type: z.literal('ready'),
    agent: z.string().max(64).optional(),
  }),
);

export const ProgressMessageSchema = lazySchema(() =>
  z.object({
    v: version,
    type: z.literal('progress'),
    id: messageId,
    message: z.string().max(1000),
    /** 0-100; absent when unknown */
    percent: z.number().min(0).max(100).optional(),
  }),
);

export const ResultMessageSchema = lazySchema(() =>
  z.object({
    v: version,
    type: z.literal('result'),
    id: messageId,
    /** the sentence to say or print */
    text: z.string().max(4000),
    data: json.optional(),
  }),
);

export const ErrorMessageSchema = lazySchema(() =>
  z.object({
    v: version,
    type: z.literal('error'),
    id: messageId,
    /** for a person: what went wrong and what to do */
    message: z.string().max(4000),
    /** short machine-readable code chosen by the agent, e.g. "unknown_room" */
    code: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,39}$/)
      .optional(),
  }),
);

export const CallMessageSchema = lazySchema(() =>
  z.object({
    v: version,
    type: z.literal('call'),
    /** the task this call serves; absent for a call between tasks (warm agents, e.g. a timer firing) */
    id: messageId.optional(),
    call_id: messageId,
    method: z.string().max(64),
    params: json.default({}),
  }),
);

export const AgentMessageSchema = lazySchema(() =>
  z.discriminatedUnion('type', [
    ReadyMessageSchema,
    ProgressMessageSchema,
    ResultMessageSchema,
    ErrorMessageSchema,
    CallMessageSchema,
  ]),
);
export type AgentMessage = z.infer<typeof AgentMessageSchema>;
export type ReadyMessage = z.infer<typeof ReadyMessageSchema>;
export type ProgressMessage = z.infer<typeof ProgressMessageSchema>;
export type ResultMessage = z.infer<typeof ResultMessageSchema>;
export type ErrorMessage = z.infer<typeof ErrorMessageSchema>;
export type CallMessage = z.infer<typeof CallMessageSchema>;

const AGENT_MESSAGE_TYPES = new Set(['ready', 'progress', 'result', 'error', 'call']);

export type ParsedLine = { ok: true; message: AgentMessage } | { ok: false; reason: string };

/** Parses one line an agent wrote (without its newline). Never throws. */
export function parseAgentLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, reason: `not valid JSON: ${preview(line)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: `not a JSON object: ${preview(line)}` };
  }
  // The host re-serialises what an agent sends (JSON.stringify recurses): bound the depth.
  if (jsonTooDeep(value)) {
    return { ok: false, reason: `nested more than ${MAX_JSON_DEPTH} levels deep` };
  }
  const { type, v } = value as { type?: unknown; v?: unknown };
  if (typeof type !== 'string' || !AGENT_MESSAGE_TYPES.has(type)) {
    return {
      ok: false,
      reason: `unknown message type ${JSON.stringify(type ?? null)} (expected one of ${[...AGENT_MESSAGE_TYPES].join(', ')})`,
    };
  }
  if (v !== AGENT_PROTOCOL_VERSION) {
    return {
      ok: false,
      reason: `protocol version ${JSON.stringify(v ?? null)} is not supported (this host speaks v${AGENT_PROTOCOL_VERSION})`,
    };
  }
  const parsed = AgentMessageSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : type;
    return {
      ok: false,
      reason: `invalid "${type}" message: ${where}: ${issue?.message ?? 'invalid'}`,
    };
  }
  return { ok: true, message: parsed.data };
}

/** One line (with its newline) for the agent's stdin. */
export function encodeHostMessage(message: HostMessage): string {
  return `${JSON.stringify(message)}\n`;
}

function preview(line: string): string {
  const short = line.length > 80 ? `${line.slice(0, 80)}…` : line;
  return JSON.stringify(short);
}

// ---- host calls: what an agent may ask of the mesh ----

export const MqttPublishParamsSchema = lazySchema(() =>
  z.strictObject({
    topic: z
      .string()
      .min(1)
      .max(256)
      .refine((t) => !/[+#\0]/.test(t), 'no wildcards (+, #) in a publish topic'),
    /** a string is sent as is; anything else as JSON */
    payload: z.union([z.string().max(65536), z.record(z.string(), json), z.array(json)]),
    qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
    retain: z.boolean().default(false),
  }),
);
export type MqttPublishParams = z.infer<typeof MqttPublishParamsSchema>;

/**
 * `home.call_service`: Home Assistant's call_service, for lights, whichever backend holds them.
 * The host switches the lights (zigbee2mqtt over its broker, Home Assistant with its token), so
 * credentials never reach the agent; the ids come from the agent's `home.rooms` context.
 */
export const HomeCallServiceParamsSchema = lazySchema(() =>
  z.strictObject({
    domain: z.literal('light'),
    service: z.enum(['turn_on', 'turn_off']),
    /** light ids as given in context `home.rooms` */
    lights: z.array(z.string().min(1).max(300)).min(1).max(64),
    /** turn_on only; sent only to lights that dim */
    brightness_pct: z.number().int().min(0).max(100).optional(),
  }),
);
export type HomeCallServiceParams = z.infer<typeof HomeCallServiceParamsSchema>;

export interface HomeCallServiceResult {
  /** spoken names of the lights switched */
  switched: string[];
  /** lights switched on without the brightness asked for, because they do not dim */
  without_brightness: string[];
  failed: Array<{ light: string; error: string }>;
}

export const HttpFetchParamsSchema = lazySchema(() =>
  z.strictObject({
    url: z.string().max(2048),
    method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
    headers: z.record(z.string(), z.string().max(1024)).default({}),
    body: z.string().max(65536).optional(),
    /** cap on the body returned; the host's own cap wins when smaller */
    max_bytes: z.number().int().min(1).optional(),
    timeout_ms: z.number().int().min(1).optional(),
  }),
);
export type HttpFetchParams = z.infer<typeof HttpFetchParamsSchema>;

export interface HttpFetchResult {
  /** the final URL after redirects */
  url: string;
  status: number;
  content_type: string;
  /** the body as UTF-8 text, at most max_bytes */
  body: string;
  truncated: boolean;
}

export const LlmGenerateParamsSchema = lazySchema(() =>
  z.strictObject({
    prompt: z.string().min(1).max(65536),
    system: z.string().max(8192).optional(),
    max_tokens: z.number().int().min(1).max(8192).optional(),
    /** a JSON schema the answer must follow (Ollama `format`) */
    json_schema: z.record(z.string(), json).optional(),
  }),
);
export type LlmGenerateParams = z.infer<typeof LlmGenerateParamsSchema>;

export interface LlmGenerateResult {
  text: string;
  model?: string;
}

export const MeshStatusParamsSchema = lazySchema(() => z.strictObject({}));
export type MeshStatusParams = z.infer<typeof MeshStatusParamsSchema>;

/** What `mesh.status` answers: the mesh as this node sees it, in words an agent can say. */
export const MeshStatusSchema = lazySchema(() =>
  z.object({
    self: z.string(),
    nodes: z.array(
      z.object({
        name: z.string(),
        state: z.enum(['alive', 'suspect', 'dead', 'left']),
        /** what the node can do: "mic", "speaker", "gpu", "docker", "stt", "ollama" */
        roles: z.array(z.string()),
        /** agents running there now, with how many runs */
        running: z.array(z.object({ agent: z.string(), count: z.number().int().min(0) })),
        /** warm containers there */
        warm: z.array(
          z.object({
            agent: z.string(),
            idle: z.number().int().min(0),
            busy: z.number().int().min(0),
          }),
        ),
      }),
    ),
  }),
);
export type MeshStatus = z.infer<typeof MeshStatusSchema>;

export const NotifyParamsSchema = lazySchema(() =>
  z.strictObject({
    /** node to tell; default: the node that asked (the task's context.node) */
    node: z.string().max(64).optional(),
    /** a sentence to say or print there */
    text: z.string().min(1).max(1000),
    data: json.optional(),
  }),
);
export type NotifyParams = z.infer<typeof NotifyParamsSchema>;

export const CALL_PARAM_SCHEMAS = {
  'mqtt.publish': MqttPublishParamsSchema,
  'home.call_service': HomeCallServiceParamsSchema,
  'http.fetch': HttpFetchParamsSchema,
  'llm.generate': LlmGenerateParamsSchema,
  'mesh.status': MeshStatusParamsSchema,
  notify: NotifyParamsSchema,
} as const;
