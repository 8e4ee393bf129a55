/**
 * The `llm.generate` host call: a completion from the mesh's LLM, on the peer placement picks for
 * the router model (pickRouterPeer: a GPU peer with the model loaded first). Ollama listens on
 * loopback only, so a peer's Ollama is asked through that peer's daemon over the bus:
 *
 *   helix.v1.llm.<nodeId>.generate   request { model, prompt, system?, max_tokens?, json_schema? }
 *                                    reply   { ok: true, text, model } | { ok: false, error }
 */
import { z } from 'zod';
import { type CallContext } from '../agents/index.js';
import {
  LlmGenerateParamsSchema,
  type LlmGenerateParams,
  type LlmGenerateResult,
} from '../agentspec/index.js';
import type { Bus, Subscription } from '../bus/index.js';
import type { Config } from '../config/index.js';
import { describeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { pickRouterPeer } from '../placement/index.js';
import { answerText, keepAliveValue, type OllamaApi } from '../router/index.js';
import type { PeerView } from '../types.js';
import { untilAborted } from '../async.js';

export function llmSubject(nodeId: string): string {
  return `helix.v1.llm.${nodeId}.generate`;
}

const LlmBusRequestSchema = LlmGenerateParamsSchema.extend({ model: z.string().min(1).max(200) });
type LlmBusRequest = z.infer<typeof LlmBusRequestSchema>;

const LlmBusReplySchema = z.union([
  z.object({ ok: z.literal(true), text: z.string(), model: z.string() }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);

/** The bus reply outlives the Ollama call by this much, so Ollama's own timeout error arrives. */
const BUS_GRACE_MS = 3000;

export interface LlmOptions {
  router: Config['router'];
  view: () => readonly PeerView[];
  bus: Bus | null;
  selfId: string;
  /** this node's Ollama (router.ollama_url) */
  local: OllamaApi;
  log?: Logger;
}

export function noLlmMessage(model: string): string {
  return `no LLM in the mesh: no node runs Ollama; install it on a GPU machine (https://ollama.com/download), run \`ollama pull ${model}\` there and restart helix-node on it`;
}

/** The handler for `llm.generate`. */
export function createLlmGenerate(
  o: LlmOptions,
): (params: LlmGenerateParams, ctx: Pick<CallContext, 'signal'>) => Promise<LlmGenerateResult> {
  const log = o.log ?? silentLogger;
  return async (params, ctx) => {
    const model = o.router.model;
    const peer = pickRouterPeer(o.view(), model);
    if (!peer) throw new Error(noLlmMessage(model));
    if (peer.self || peer.id === o.selfId) {
      return generateLocally(o.local, o.router, { ...params, model }, ctx.signal);
    }
    if (!o.bus) throw new Error(`the bus is not connected, so ${peer.name}'s LLM cannot be asked`);
    log.debug({ peer: peer.name, model }, 'llm.generate on a peer');
    const request: LlmBusRequest = { ...params, model };
    const data = await untilAborted(
      o.bus.request(llmSubject(peer.id), encode(request), {
        timeoutMs: o.router.timeout_ms + BUS_GRACE_MS,
      }),
      ctx.signal,
    );
    const reply = LlmBusReplySchema.safeParse(decode(data));
    if (!reply.success) throw new Error(`${peer.name} sent an unreadable LLM reply`);
    if (!reply.data.ok) throw new Error(`${peer.name}'s LLM: ${reply.data.error}`);
    return { text: reply.data.text, model: reply.data.model };
  };
}

/** Answers peers' `llm.generate` requests with this node's Ollama. */
export function serveLlmOnBus(o: LlmOptions & { bus: Bus }): Subscription {
  const log = o.log ?? silentLogger;
  return o.bus.subscribe(llmSubject(o.selfId), (msg) => {
    const parsed = LlmBusRequestSchema.safeParse(decode(msg.data));
    if (!parsed.success) {
      msg.respond(encode({ ok: false, error: 'malformed llm.generate request' }));
      return;
    }
    const signal = AbortSignal.timeout(o.router.timeout_ms + BUS_GRACE_MS);
    generateLocally(o.local, o.router, parsed.data, signal).then(
      (r) => msg.respond(encode({ ok: true, text: r.text, model: r.model ?? parsed.data.model })),
      (err: unknown) => {
        log.info({ err: describeError(err) }, 'llm.generate for a peer failed');
        msg.respond(encode({ ok: false, error: describeError(err) }));
      },
    );
  });
}

async function generateLocally(
  api: OllamaApi,
  router: Config['router'],
  req: LlmGenerateParams & { model: string },
  signal: AbortSignal,
): Promise<LlmGenerateResult> {
  const messages: Array<{ role: 'system' | 'user'; content: string }> = [];
  if (req.system) messages.push({ role: 'system', content: req.system });
  messages.push({ role: 'user', content: req.prompt });
  const result = await api.chat(
    {
      model: req.model,
      messages,
      stream: false,
      format: req.json_schema,
      keep_alive: keepAliveValue(router.keep_alive),
      options: req.max_tokens ? { num_predict: req.max_tokens } : undefined,
    },
    { signal, timeoutMs: router.timeout_ms },
  );
  return { text: answerText(result.content), model: result.model };
}

export function encode(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

export function decode(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return null;
  }
}
